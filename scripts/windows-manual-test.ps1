<#
.SYNOPSIS
  What only a real Windows machine can confirm about openclaw-node (Wine cannot show these; see
  README "Windows"). Run in PowerShell 5.1 or 7 as the user the node runs as, not elevated:

    powershell -ExecutionPolicy Bypass -File scripts\windows-manual-test.ps1 -Exe .\openclaw-node.exe

  Automated here: the binary starts; the state files and directories it creates carry a protected
  DACL for this user, SYSTEM and Administrators only; one run per state directory; console close
  (taskkill without /F) ends the node through its handler with a log line; and, when -Source names
  a checkout with cargo, the Windows test suite natively (`cargo test --test windows --lib`).
  Printed at the end: the checks that need a gateway (code pages, timeouts, the cmd.exe quirks).
  Exit code: the number of failed checks.
#>
param(
  [Parameter(Mandatory = $true)][string]$Exe,
  [string]$Source = ""
)
$ErrorActionPreference = "Stop"
$failed = 0
function Pass($what) { Write-Host "PASS $what" }
function Fail($what) { Write-Host "FAIL $what"; $script:failed++ }

$Exe = (Resolve-Path $Exe).Path
$state = Join-Path $env:TEMP ("ocn-manual-" + [guid]::NewGuid().ToString("N").Substring(0, 8))
New-Item -ItemType Directory -Path $state | Out-Null
$env:OPENCLAW_STATE_DIR = Join-Path $state ".openclaw"
$env:OPENCLAW_GATEWAY_TOKEN = "manual-test-token"

# 1. It starts and names itself.
$version = & $Exe --version
if ($LASTEXITCODE -eq 0 -and $version -like "openclaw-node *") { Pass "--version: $version" } else { Fail "--version: $version" }

# 2. A run against a port where nothing listens creates the identity and its own files, then retries.
# It runs in a console of its own (cmd.exe owns the window), so closing that console is step 5.
$log = Join-Path $state "node.log"
$console = Start-Process -FilePath "cmd.exe" -PassThru -WindowStyle Minimized `
  -ArgumentList "/d", "/c", "`"`"$Exe`" run --host 127.0.0.1 --port 1 2> `"$log`"`""
Start-Sleep -Seconds 4
$node = Get-CimInstance Win32_Process -Filter "ParentProcessId = $($console.Id)" |
  Where-Object { $_.Name -like "openclaw-node*" } | Select-Object -First 1
if (-not $node) { Fail "the node did not start (see $log)"; exit $failed }
$node = Get-Process -Id $node.ProcessId

# 3. Owner-only ACLs: protected (nothing inherited), and only this user, SYSTEM, Administrators.
$me = [System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value
$allowed = @($me, "S-1-5-18", "S-1-5-32-544")
$items = Get-ChildItem -Recurse -Force $env:OPENCLAW_STATE_DIR
if ($items.Count -eq 0) { Fail "the node created no state files in $env:OPENCLAW_STATE_DIR" }
foreach ($item in @(Get-Item $env:OPENCLAW_STATE_DIR) + $items) {
  $acl = Get-Acl $item.FullName
  $sids = $acl.Access | ForEach-Object { $_.IdentityReference.Translate([System.Security.Principal.SecurityIdentifier]).Value }
  $strangers = $sids | Where-Object { $allowed -notcontains $_ }
  if ($acl.AreAccessRulesProtected -and -not $strangers) { Pass "owner-only DACL: $($item.FullName)" }
  else { Fail "DACL of $($item.FullName): protected=$($acl.AreAccessRulesProtected), others: $($strangers -join ',')" }
}

# 4. One run per state directory: a second run is refused, naming the first one's pid.
$second = & $Exe run --host 127.0.0.1 --port 1 2>&1 | Out-String
if ($second -match "already running \(pid $($node.Id)\)") { Pass "a second run is refused: already running (pid $($node.Id))" }
else { Fail "a second run was not refused as expected: $second" }

# 5. Closing its console (taskkill without /F on the console's cmd.exe closes the window) sends
#    CTRL_CLOSE_EVENT; the node must log it and exit through its handler.
& taskkill /PID $console.Id | Out-Null
if ($node.WaitForExit(10000)) {
  $text = Get-Content $log -Raw
  if ($text -match "received (console close|Ctrl-C|Ctrl-Break)") { Pass "taskkill (no /F): the node logged the console event and exited ($($node.ExitCode))" }
  else { Fail "the node exited without logging a console event: $text" }
} else {
  Fail "the node still runs 10 s after taskkill"; Stop-Process -Id $node.Id -Force
}

# 6. The Windows test suite, natively (Job objects, cmd.exe, code pages, MoveFileExW over a held file).
if ($Source) {
  Push-Location $Source
  try {
    & cargo test --test windows --lib
    if ($LASTEXITCODE -eq 0) { Pass "cargo test --test windows --lib" } else { Fail "cargo test --test windows --lib (exit $LASTEXITCODE)" }
  } finally { Pop-Location }
}

Remove-Item -Recurse -Force $state
Write-Host @"

With a gateway (openclaw 2026.9.6) and this node approved, check by hand through the gateway
(openclaw gateway call node.invoke ... system.run):
  - chcp 866, then system.run of cmd.exe /d /s /c "echo привет" answers stdout "привет" (OEM page);
  - system.run of cmd.exe /d /s /c "ping -n 60 127.0.0.1" with timeoutMs 2000 answers timedOut true,
    exitCode 124, and Task Manager shows no PING.EXE afterwards;
  - system.run of cmd.exe /d /s /c "echo a^&b" and of a .cmd on PATH with an argument "a b";
  - Task Scheduler: a task running the node (token from setx, not in the command line) is ended by
    "End", and the gateway sees the node disconnect.
"@
exit $failed
