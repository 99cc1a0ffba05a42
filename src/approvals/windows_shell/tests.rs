//! `analyzeWindowsShellCommand`'s behaviour, case by case, as the TS host's code gives it.

use super::*;

fn ok(command: &str) -> Vec<String> {
    analyze_windows_shell_command(command).unwrap_or_else(|e| panic!("{command:?}: {e}"))
}

fn refused(command: &str) -> String {
    analyze_windows_shell_command(command).expect_err(command)
}

#[test]
fn a_plain_command_is_one_segment() {
    assert_eq!(ok("git status"), ["git", "status"]);
    assert_eq!(ok("  git   status  "), ["git", "status"]);
    assert_eq!(
        ok("\"C:\\Program Files\\Git\\cmd\\git.exe\" status"),
        ["C:\\Program Files\\Git\\cmd\\git.exe", "status"]
    );
    assert_eq!(ok("git commit -m 'it''s'"), ["git", "commit", "-m", "it's"]);
    assert_eq!(ok("git \"\" x"), ["git", "", "x"], "an empty quoted word is a word");
    assert_eq!(ok("echo $5 a$"), ["echo", "$5", "a$"], "`$` before a digit or the end");
}

#[test]
fn syntax_characters_are_refused_with_the_ts_reason() {
    let cases = [
        ("echo hi & calc", "&"),
        ("git status | more", "|"),
        ("type a > b", ">"),
        ("sort < a", "<"),
        ("a ; b", ";"),
        ("echo ^& x", "^"),
        ("(calc)", "("),
        ("echo )", ")"),
        ("echo !x!", "!"),
        ("echo %PATH%", "%"),
        ("echo \"%PATH%\"", "%"),
        ("echo `whoami`", "`"),
        ("echo \"`x\"", "`"),
        ("git status\r\ncalc", "newline"),
        ("echo \"a\nb\"", "newline"),
        ("echo $env:PATH", "$"),
        ("echo \"$(calc)\"", "$"),
        ("echo ${x}", "$"),
        ("echo $?", "$"),
        ("echo $$", "$"),
        ("echo $_", "$"),
        ("git 'a&b'", "&"),
    ];
    for (command, token) in cases {
        assert_eq!(
            refused(command),
            format!("unsupported windows shell token: {token}"),
            "{command:?}"
        );
    }
    // Inside double quotes the rest of the syntax characters are words.
    assert_eq!(ok("git \"a&b|c<d>e;f^g(h)i!j\""), ["git", "a&b|c<d>e;f^g(h)i!j"]);
}

#[test]
fn unparseable_payloads() {
    for command in ["\"unterminated", "'x", "", "   "] {
        assert_eq!(refused(command), "unable to parse windows command", "{command:?}");
    }
}

#[test]
fn powershell_and_call_wrappers_are_stripped() {
    let cases = [
        ("powershell -NoProfile -Command \"git status\"", vec!["git", "status"]),
        ("pwsh -c git status", vec!["git", "status"]),
        ("PowerShell.EXE -NOPROFILE -C 'git status'", vec!["git", "status"]),
        ("pwsh.exe --command git log", vec!["git", "log"]),
        (
            "powershell -NoProfile -ExecutionPolicy Bypass -Command \"git \"\"a b\"\"\"",
            vec!["git", "a b"],
        ),
        ("pwsh -c 'git ''x'''", vec!["git", "x"]),
        ("& git status", vec!["git", "status"]),
        ("& \"C:\\Tools\\git.exe\" status", vec!["C:\\Tools\\git.exe", "status"]),
        ("powershell -c \"& git status\"", vec!["git", "status"]),
        ("pwsh -c pwsh -c pwsh -c git", vec!["git"]),
        // An option with a quoted value that holds `-c`.
        ("pwsh -WindowStyle \"a -c b\" -c git", vec!["git"]),
    ];
    for (command, argv) in cases {
        assert_eq!(ok(command), argv, "{command:?}");
    }
}

#[test]
fn what_is_not_a_command_flag_is_not_stripped() {
    // No -Command: the words are the segment, whose executable is the shell itself.
    assert_eq!(
        ok("powershell -EncodedCommand ZQBjAGgAbwA="),
        ["powershell", "-EncodedCommand", "ZQBjAGgAbwA="]
    );
    assert_eq!(ok("pwsh -File x.ps1"), ["pwsh", "-File", "x.ps1"]);
    assert_eq!(ok("powershell -Command"), ["powershell", "-Command"]);
    assert_eq!(ok("powershellx -c git"), ["powershellx", "-c", "git"]);
    assert_eq!(ok("powershell.exe-c git"), ["powershell.exe-c", "git"]);
    assert_eq!(ok("pwsh -Command:git x"), ["pwsh", "-Command:git", "x"]);
    assert_eq!(ok("cmd /c git status"), ["cmd", "/c", "git", "status"]);
    // Five layers at most: the sixth `&` is left, and refused.
    assert_eq!(refused("& & & & & & git"), "unsupported windows shell token: &");
    assert_eq!(ok("& & & & & git"), ["git"]);
}

#[test]
fn a_pathological_option_run_stays_cheap() {
    let mut command = String::from("pwsh");
    for _ in 0..400 {
        command.push_str(" -a \"\"\"\" ");
    }
    command.push_str(" -x y");
    // No -Command: nothing is stripped (the search gives up within its budget or fails).
    assert_eq!(ok(&command)[0], "pwsh");
}

/// The differential check against the TS host's own function: `scripts/windows-shell-diff.sh`
/// writes generated payloads and the TS verdicts into `$OPENCLAW_WINSHELL_DIFF` and runs this.
#[test]
#[ignore = "needs the TS verdicts from scripts/windows-shell-diff.sh"]
fn differential_against_the_ts_host() {
    let dir = std::env::var("OPENCLAW_WINSHELL_DIFF").expect("OPENCLAW_WINSHELL_DIFF");
    let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
    let cases: Vec<String> = serde_json::from_str(&read("cases.json")).unwrap();
    let expected: Vec<serde_json::Value> = serde_json::from_str(&read("expected.json")).unwrap();
    assert_eq!(cases.len(), expected.len());
    let differing: Vec<String> = cases
        .iter()
        .zip(&expected)
        .filter_map(|(case, ts)| {
            let ours = match analyze_windows_shell_command(case) {
                Ok(argv) => serde_json::json!({ "ok": argv }),
                Err(reason) => serde_json::json!({ "err": reason }),
            };
            (&ours != ts).then(|| format!("{case:?}: TS {ts}, here {ours}"))
        })
        .collect();
    assert!(differing.is_empty(), "{} of {} differ:\n{}", differing.len(), cases.len(), differing[..differing.len().min(20)].join("\n"));
}
