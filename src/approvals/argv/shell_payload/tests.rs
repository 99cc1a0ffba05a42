//! Tests of the shell-payload analysis.
use super::*;

/// `extractShellWrapperInlineCommand` of the TS host: the raw payload, without the
/// startup-file checks (only these tests need it on its own).
fn shell_wrapper_inline_command(argv: &[String]) -> Option<String> {
    shell_wrapper_transport(argv).map(|(_, payload, _)| payload)
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn shell_wrapper_detection() {
    assert!(is_shell_wrapper_invocation(&v(&["/bin/bash", "-c", "x"])));
    assert!(is_shell_wrapper_invocation(&v(&[
        "nice",
        "sh",
        "script.sh"
    ])));
    assert!(!is_shell_wrapper_invocation(&v(&["uname"])));
    assert_eq!(
        shell_wrapper_inline_command(&v(&["sh", "-xc", "id"])).as_deref(),
        Some("id")
    );
    assert_eq!(
        shell_wrapper_inline_command(&v(&["bash", "-o", "pipefail", "-c", "id"])).as_deref(),
        Some("id")
    );
    assert_eq!(shell_wrapper_inline_command(&v(&["sh", "script.sh"])), None);
    assert_eq!(
        shell_wrapper_inline_command(&v(&["tcsh", "-c", "id"])),
        None
    );
    assert_eq!(
        shell_wrapper_inline_command(&v(&["cmd.exe", "/d", "/s", "/c", "dir x"])).as_deref(),
        Some("dir x")
    );
    assert_eq!(
        shell_wrapper_inline_command(&v(&["pwsh", "-NoProfile", "-Command", "Get-Date", "-x"]))
            .as_deref(),
        Some("Get-Date -x")
    );
}

/// The allowlist matcher's and the pattern builder's hand-written scanners, verbatim but for
/// returning the script word: the shared [`posix_script_operand`] must answer as each did.
fn old_match_scan(argv: &[String]) -> Option<&str> {
    let mut idx = 1;
    while idx < argv.len() {
        let token = argv[idx].trim();
        if token.is_empty() {
            idx += 1;
            continue;
        }
        if token == "--" {
            idx += 1;
            break;
        }
        if token.starts_with('-') || token.starts_with('+') {
            let letters = &token[1..];
            if token == "-s"
                || (!token.starts_with("--")
                    && (letters.contains('s')
                        || letters.contains('c')
                        || letters.contains('i')))
            {
                return None;
            }
            if ["--rcfile", "--init-file", "--startup-file"]
                .iter()
                .any(|o| token == *o || token.starts_with(&format!("{o}=")))
            {
                return None;
            }
            idx += advance_posix_option_scan(token);
            continue;
        }
        break;
    }
    let script = argv.get(idx)?.trim();
    if script.is_empty() {
        return None;
    }
    Some(script)
}

fn old_pattern_scan(argv: &[String]) -> Option<&str> {
    let mut idx = 1;
    while idx < argv.len() {
        let token = argv[idx].trim();
        if token.is_empty() {
            idx += 1;
            continue;
        }
        if token == "--" {
            idx += 1;
            break;
        }
        if token.starts_with('-') || token.starts_with('+') {
            if token == "-s"
                || (!token.starts_with("--")
                    && (token[1..].contains('s') || token[1..].contains('c')))
            {
                return None;
            }
            idx += advance_posix_option_scan(token);
            continue;
        }
        break;
    }
    let script = argv.get(idx)?.trim();
    (!script.is_empty()).then_some(script)
}

#[test]
fn shared_script_scan_answers_as_both_old_scanners() {
    let matcher = ScriptOperandScan {
        refuse_letters: &['s', 'c', 'i'],
        refuse_startup_files: true,
    };
    let patterns = ScriptOperandScan {
        refuse_letters: &['s', 'c'],
        refuse_startup_files: false,
    };
    let words = [
        "",
        " ",
        "--",
        "-",
        "+",
        "-s",
        "-c",
        "-i",
        "-e",
        "-xc",
        "+o",
        "-o",
        "-O",
        "+s",
        "pipefail",
        "--rcfile",
        "--rcfile=x",
        "--init-file",
        "--startup-file=y",
        "--login",
        "-euo",
        "x.sh",
    ];
    let mut argv = vec!["sh".to_string()];
    let mut checked = 0;
    let mut check = |argv: &[String]| {
        assert_eq!(
            posix_script_operand(argv, &matcher),
            old_match_scan(argv),
            "{argv:?}"
        );
        assert_eq!(
            posix_script_operand(argv, &patterns),
            old_pattern_scan(argv),
            "{argv:?}"
        );
        checked += 1;
    };
    check(&argv);
    for a in words {
        argv.truncate(1);
        argv.push(a.to_string());
        check(&argv);
        for b in words {
            argv.truncate(2);
            argv.push(b.to_string());
            check(&argv);
            for c in words {
                argv.truncate(3);
                argv.push(c.to_string());
                check(&argv);
                for d in ["", "--", "-", "-o", "x.sh", "-c", "--rcfile"] {
                    argv.truncate(4);
                    argv.push(d.to_string());
                    check(&argv);
                }
            }
        }
    }
    assert!(checked > 70_000);
}

#[test]
fn script_operand_is_the_word_as_given() {
    let scan = ScriptOperandScan {
        refuse_letters: &['s', 'c', 'i'],
        refuse_startup_files: true,
    };
    let argv: Vec<String> = ["sh", "-e", " y.sh "].iter().map(|s| s.to_string()).collect();
    // The shell opens ` y.sh `, not `y.sh`.
    assert_eq!(posix_script_operand(&argv, &scan), Some(" y.sh "));
    let blank: Vec<String> = ["sh", " "].iter().map(|s| s.to_string()).collect();
    assert_eq!(posix_script_operand(&blank, &scan), None);
}

#[test]
fn payload_keeps_blanks_the_shell_does_not_skip() {
    let argv = |payload: &str| -> Vec<String> { vec!["sh".into(), "-c".into(), payload.into()] };
    assert_eq!(posix_inline_match(&argv("  echo hi \n")).command.as_deref(), Some("echo hi"));
    assert_eq!(
        posix_inline_match(&argv("\u{b}./x")).command.as_deref(),
        Some("\u{b}./x")
    );
}
