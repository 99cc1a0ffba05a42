//! Finding, starting and stopping Chromium, and the DevTools HTTP endpoint.
//!
//! The browser runs in its own process group with its own profile directory. With port 0
//! (the default) Chromium picks a free port and writes it to `<user-data-dir>/DevToolsActivePort`
//! (line 1: the port, line 2: the browser WebSocket path), so two nodes or two tests never
//! fight over a port.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cdp::lock;
use crate::cancel::CancelToken;
use crate::exec::ProcessGroup;

/// A browser executable that was found, and what kind it is (`chromium`, `chrome`, `brave`,
/// `edge`), as the status route reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedBrowser {
    pub path: PathBuf,
    pub kind: &'static str,
}

/// Executable names tried on PATH, in order.
const CANDIDATES: [(&str, &str); 9] = [
    ("chromium", "chromium"),
    ("chromium-browser", "chromium"),
    ("google-chrome", "chrome"),
    ("google-chrome-stable", "chrome"),
    ("chrome", "chrome"),
    ("brave-browser", "brave"),
    ("microsoft-edge", "edge"),
    ("microsoft-edge-stable", "edge"),
    ("headless_shell", "chromium"),
];

/// The configured executable (`browser.executablePath`) if it exists, else the first known
/// Chromium/Chrome name on `path_env`.
pub fn detect(configured: Option<&str>, path_env: &str) -> Option<DetectedBrowser> {
    if let Some(configured) = configured {
        let path = PathBuf::from(configured);
        return is_executable(&path).then(|| DetectedBrowser {
            kind: kind_of(&path),
            path,
        });
    }
    for (name, kind) in CANDIDATES {
        for dir in std::env::split_paths(path_env) {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Some(DetectedBrowser {
                    path: candidate,
                    kind,
                });
            }
        }
    }
    None
}

fn kind_of(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if name.contains("brave") {
        "brave"
    } else if name.contains("edge") {
        "edge"
    } else if name.contains("chrome") && !name.contains("chromium") {
        "chrome"
    } else {
        "chromium"
    }
}

fn is_executable(path: &Path) -> bool {
    crate::platform::files::is_executable_file(path)
}

/// The binary to exec. Debian's `/usr/bin/chromium` is a shell wrapper that adds flags from
/// `/etc/chromium.d` (GPU rasterization, extension loading) and runs a broken `[` test; the
/// real binary next to it takes our flags as given.
fn launch_binary(detected: &Path) -> PathBuf {
    let wrapped = Path::new("/usr/lib/chromium/chromium");
    let is_script = std::fs::File::open(detected)
        .ok()
        .and_then(|mut f| {
            let mut head = [0u8; 2];
            f.read_exact(&mut head).ok().map(|_| head == *b"#!")
        })
        .unwrap_or(false);
    if is_script && detected.file_name().is_some_and(|n| n == "chromium") && is_executable(wrapped)
    {
        wrapped.to_path_buf()
    } else {
        detected.to_path_buf()
    }
}

/// How to launch one browser.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    pub executable: PathBuf,
    pub user_data_dir: PathBuf,
    /// Directory for `XDG_CONFIG_HOME` / `XDG_CACHE_HOME`, so Chromium writes nothing under the
    /// user's own config.
    pub xdg_dir: PathBuf,
    /// 0 = let Chromium choose.
    pub port: u16,
    pub headless: bool,
    pub no_sandbox: bool,
    pub extra_args: Vec<String>,
    /// Environment variables removed from the child (the node's secrets, proxies).
    pub remove_env: Vec<String>,
}

/// The flags of spec §8.2, plus the ones that keep a headless node quiet on the network.
pub fn launch_args(spec: &LaunchSpec) -> Vec<String> {
    let mut args = vec![
        format!("--remote-debugging-port={}", spec.port),
        "--remote-debugging-address=127.0.0.1".to_string(),
        format!("--user-data-dir={}", spec.user_data_dir.display()),
        "--no-first-run".to_string(),
        "--no-default-browser-check".to_string(),
        "--disable-sync".to_string(),
        "--disable-background-networking".to_string(),
        "--disable-component-update".to_string(),
        "--disable-features=Translate,MediaRouter".to_string(),
        "--disable-session-crashed-bubble".to_string(),
        "--hide-crash-restore-bubble".to_string(),
        "--password-store=basic".to_string(),
        "--disable-quic".to_string(),
    ];
    if spec.headless {
        args.push("--headless=new".to_string());
        args.push("--disable-gpu".to_string());
    }
    if spec.no_sandbox {
        args.push("--no-sandbox".to_string());
    }
    args.push("--disable-dev-shm-usage".to_string());
    let sets_proxy = spec
        .extra_args
        .iter()
        .any(|a| a.starts_with("--proxy-server") || a.starts_with("--proxy-pac-url"));
    if !sets_proxy {
        args.push("--no-proxy-server".to_string());
    }
    args.extend(spec.extra_args.iter().cloned());
    args.push("about:blank".to_string());
    args
}

/// A Chromium process the node started.
pub struct LaunchedBrowser {
    /// The browser's process group: stopping it stops renderers and helpers too.
    pub group: ProcessGroup,
    pub port: u16,
    /// The browser-level WebSocket, `ws://127.0.0.1:<port>/devtools/browser/<id>`.
    pub ws_url: String,
    /// The last lines Chromium wrote to stderr, for error messages.
    pub stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

/// Proxy variables Chromium would otherwise pick up.
const PROXY_ENV: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// Starts Chromium and waits (until `deadline`, or a cancel) for its DevTools endpoint.
pub fn launch(
    spec: &LaunchSpec,
    deadline: Instant,
    cancel: &CancelToken,
) -> Result<LaunchedBrowser, String> {
    std::fs::create_dir_all(&spec.user_data_dir).map_err(|err| {
        format!(
            "cannot create the browser profile directory {}: {err}",
            spec.user_data_dir.display()
        )
    })?;
    restrict_dir(&spec.user_data_dir);
    let _ = std::fs::create_dir_all(&spec.xdg_dir);
    release_stale_profile_lock(&spec.user_data_dir)?;
    let active_port_file = spec.user_data_dir.join("DevToolsActivePort");
    let _ = std::fs::remove_file(&active_port_file);

    let binary = launch_binary(&spec.executable);
    let mut command = Command::new(&binary);
    command
        .args(launch_args(spec))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for name in PROXY_ENV
        .iter()
        .map(|s| s.to_string())
        .chain(spec.remove_env.iter().cloned())
    {
        command.env_remove(name);
    }
    command
        .env("XDG_CONFIG_HOME", &spec.xdg_dir)
        .env("XDG_CACHE_HOME", &spec.xdg_dir);
    // Its own process group: stopping the browser kills renderers and helpers too, and a
    // terminal ^C aimed at the node does not hit Chromium first.
    let mut group = ProcessGroup::spawn(&mut command)
        .map_err(|err| format!("cannot start {}: {err}", binary.display()))?;
    // The kernel should sacrifice the browser, not the node, when memory runs out. Best effort:
    // renderers forked before this line keep their own score.
    let _ = std::fs::write(format!("/proc/{}/oom_score_adj", group.id()), "1000");

    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = group.take_stderr() {
        let tail = Arc::clone(&stderr_tail);
        let _ = std::thread::Builder::new()
            .name("chromium-stderr".to_string())
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    log::debug!("chromium: {line}");
                    let mut tail = lock(&tail);
                    if tail.len() >= 20 {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
    }

    let ready = wait_for_endpoint(spec, &active_port_file, &mut group, deadline, cancel);
    match ready {
        Ok((port, ws_url)) => Ok(LaunchedBrowser {
            group,
            port,
            ws_url,
            stderr_tail,
        }),
        Err(reason) => {
            group.terminate(Duration::from_millis(500));
            // Give the stderr thread a moment to record Chromium's last words.
            std::thread::sleep(Duration::from_millis(50));
            let tail: Vec<String> = lock(&stderr_tail).iter().cloned().collect();
            let tail = tail
                .iter()
                .rev()
                .take(5)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ");
            Err(if tail.is_empty() {
                reason
            } else {
                format!("{reason}; Chromium said: {tail}")
            })
        }
    }
}

fn restrict_dir(dir: &Path) {
    let _ = crate::platform::files::create_private_dir_all(dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
}

fn wait_for_endpoint(
    spec: &LaunchSpec,
    active_port_file: &Path,
    group: &mut ProcessGroup,
    deadline: Instant,
    cancel: &CancelToken,
) -> Result<(u16, String), String> {
    loop {
        if let Ok(Some(status)) = group.try_wait() {
            return Err(format!("Chromium exited during start-up ({status})"));
        }
        let port = if spec.port != 0 {
            Some(spec.port)
        } else {
            std::fs::read_to_string(active_port_file)
                .ok()
                .and_then(|text| parse_active_port(&text).map(|(port, _)| port))
        };
        if let Some(port) = port {
            let remaining = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(500));
            if let Ok(ws_url) = browser_ws_url(port, remaining) {
                return Ok((port, ws_url));
            }
        }
        if Instant::now() >= deadline {
            return Err("Chromium did not open its DevTools endpoint in time".to_string());
        }
        // Chromium tells nobody when it has written the port file: it is looked for again in
        // 50 ms, only while a launch is under way. A cancel ends the wait at once.
        if cancel.wait_until((Instant::now() + Duration::from_millis(50)).min(deadline)) {
            return Err("cancelled while Chromium was starting".to_string());
        }
    }
}

/// Parses `DevToolsActivePort`: the port, then the browser target path.
pub fn parse_active_port(text: &str) -> Option<(u16, String)> {
    let mut lines = text.lines();
    let port = lines
        .next()?
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)?;
    let path = lines.next().map(str::trim).unwrap_or("").to_string();
    Some((port, path))
}

/// `webSocketDebuggerUrl` from `GET /json/version` on a loopback port.
pub fn browser_ws_url(port: u16, timeout: Duration) -> Result<String, String> {
    let version = http_get_json(&format!("127.0.0.1:{port}"), "/json/version", timeout)?;
    version
        .get("webSocketDebuggerUrl")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "CDP /json/version missing webSocketDebuggerUrl".to_string())
}

/// A minimal HTTP/1.1 GET returning parsed JSON, for the DevTools discovery endpoints.
pub fn http_get_json(authority: &str, path: &str, timeout: Duration) -> Result<Value, String> {
    let timeout = timeout.max(Duration::from_millis(1));
    let addr: SocketAddr = authority
        .to_socket_addrs()
        .map_err(|err| format!("{authority}: {err}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|err| format!("{authority}: {err}"))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|err| format!("{authority}: {err}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if response_complete(&raw) {
                    break;
                }
                if raw.len() > 4 << 20 {
                    return Err(format!("{authority}{path}: response too large"));
                }
            }
            Err(err) => return Err(format!("{authority}{path}: {err}")),
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{authority}{path}: malformed HTTP response"))?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("{authority}{path}: HTTP {status}"));
    }
    serde_json::from_str(body).map_err(|err| format!("{authority}{path}: invalid JSON: {err}"))
}

fn response_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let length = head.lines().find_map(|line| {
        line.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    match length {
        Some(length) => raw.len() >= split + 4 + length,
        None => false,
    }
}

/// Chromium refuses a profile another Chromium holds (`SingletonLock` -> `<host>-<pid>`). A
/// lock left by a dead process is removed; a live owner is an error naming the lock.
/// Chromium's profile lock on Windows is a plain file it holds open; nothing to release.
#[cfg(windows)]
fn release_stale_profile_lock(_user_data_dir: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(unix)]
fn release_stale_profile_lock(user_data_dir: &Path) -> Result<(), String> {
    let lock_path = user_data_dir.join("SingletonLock");
    let Ok(target) = std::fs::read_link(&lock_path) else {
        return Ok(());
    };
    let target_text = target.to_string_lossy().to_string();
    let pid = target_text
        .rsplit('-')
        .next()
        .and_then(|p| p.parse::<i32>().ok());
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .to_string();
    let same_host = target_text
        .rsplit_once('-')
        .map(|(h, _)| h == host)
        .unwrap_or(false);
    let owner = pid.and_then(rustix::process::Pid::from_raw);
    let alive = |pid: rustix::process::Pid| rustix::process::test_kill_process(pid).is_ok();
    if let (true, Some(owner)) = (same_host, owner.filter(|p| alive(*p))) {
        // A browser an earlier run of this node left behind (the node was killed before it
        // could stop it) is recognisable by its command line: it is ours to stop.
        let flag = format!("--user-data-dir={}", user_data_dir.display());
        let cmdline =
            std::fs::read(format!("/proc/{}/cmdline", owner.as_raw_nonzero())).unwrap_or_default();
        let ours = cmdline.split(|b| *b == 0).any(|arg| arg == flag.as_bytes());
        if !ours {
            return Err(format!(
                "Chromium still holds its profile lock ({} -> {target_text}); stop the other Chromium using this profile and retry",
                lock_path.display()
            ));
        }
        log::warn!(
            "stopping a browser (pid {}) left over from an earlier run of the node",
            owner.as_raw_nonzero()
        );
        crate::exec::kill_foreign_group(owner, Instant::now() + Duration::from_secs(2));
    }
    for name in ["SingletonLock", "SingletonSocket", "SingletonCookie"] {
        let _ = std::fs::remove_file(user_data_dir.join(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devtools_active_port() {
        assert_eq!(
            parse_active_port("41235\n/devtools/browser/abc\n"),
            Some((41235, "/devtools/browser/abc".to_string()))
        );
        assert_eq!(parse_active_port("0\n"), None);
        assert_eq!(parse_active_port("x\n"), None);
        assert_eq!(parse_active_port(""), None);
    }

    #[test]
    fn launch_flags_keep_the_browser_quiet_and_local() {
        let spec = LaunchSpec {
            executable: "/usr/bin/chromium".into(),
            user_data_dir: "/s/browser/openclaw/user-data".into(),
            xdg_dir: "/s/browser/.chromium".into(),
            port: 0,
            headless: true,
            no_sandbox: true,
            extra_args: vec!["--lang=en".into()],
            remove_env: vec![],
        };
        let args = launch_args(&spec);
        for flag in [
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            "--user-data-dir=/s/browser/openclaw/user-data",
            "--no-first-run",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-quic",
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
            "--no-proxy-server",
            "--lang=en",
        ] {
            assert!(args.iter().any(|a| a == flag), "missing {flag}: {args:?}");
        }
        assert_eq!(args.last().map(String::as_str), Some("about:blank"));
        let with_proxy = LaunchSpec {
            extra_args: vec!["--proxy-server=http://p:1".into()],
            headless: false,
            ..spec
        };
        let args = launch_args(&with_proxy);
        assert!(!args
            .iter()
            .any(|a| a == "--no-proxy-server" || a == "--headless=new"));
    }

    #[test]
    fn detects_browser_kinds_by_name() {
        assert_eq!(
            kind_of(Path::new("/usr/bin/google-chrome-stable")),
            "chrome"
        );
        assert_eq!(kind_of(Path::new("/usr/bin/chromium")), "chromium");
        assert_eq!(kind_of(Path::new("/opt/brave/brave-browser")), "brave");
        assert_eq!(detect(Some("/nonexistent/chrome"), "/usr/bin"), None);
    }

    #[test]
    fn http_response_completion_needs_the_whole_body() {
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"
        ));
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"
        ));
    }
}
