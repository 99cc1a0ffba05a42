//! An adversarial battery for `system.run` in allowlist mode, one table per class of issue 11,
//! each case run for real.
//!
//! Policy: `security=allowlist`, `ask=off`, only `/usr/bin/echo` and `/usr/bin/ls` allowed
//! (plus, where a case says so, one more path-only entry). A case is a command (argv, maybe
//! `params.env`) that would create the fixture's canary file if the node ran what the shell
//! or the wrapper really runs. It passes when the node refuses it and the canary is absent.
//! Where a case is marked `control`, the same request under `security=full` must create the
//! canary, so a refusal cannot pass by the payload being broken.
//!
//! The table format keeps every failure of a run in one report (`label: what happened`)
//! instead of stopping at the first.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::tests::support::{context, real, write_approvals};
use super::*;

/// The files a hostile caller is assumed to have placed already (through another channel:
/// a shared directory, an earlier allowed command, a checkout).
struct Fixture {
    /// The cwd of every request: `x` is a symlink to the allowlisted echo, `fake/` and the
    /// top level hold scripts named like shells and wrappers, each creating the canary.
    start: PathBuf,
    /// Where payloads `cd` to: `x` and `s.sh` create the canary.
    other: PathBuf,
    canary: PathBuf,
}

const FAKE_PROGRAMS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "nice", "timeout", "env", "busybox", "stdbuf", "nohup",
    "setsid", "chrt", "ionice", "taskset", "time", "sudo", "xargs", "find", "flock",
];

fn script(path: &Path, canary: &Path) {
    std::fs::write(path, format!("#!/bin/sh\ntouch '{}'\n", canary.display())).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn fixture(name: &str) -> Fixture {
    let root = std::env::temp_dir().join(format!("oc-battery-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let root = std::fs::canonicalize(&root).unwrap();
    let start = root.join("start");
    let other = root.join("other");
    let canary = root.join("canary");
    for dir in [&start, &other, &start.join("fake"), &other.join("sub")] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::os::unix::fs::symlink(real("echo"), start.join("x")).unwrap();
    for name in FAKE_PROGRAMS {
        script(&start.join(name), &canary);
        script(&start.join("fake").join(name), &canary);
    }
    script(&other.join("x"), &canary);
    script(&other.join("s.sh"), &canary);
    std::fs::write(start.join("s.sh"), "echo harmless\n").unwrap();
    for prefix in ["X=", "X+="] {
        std::fs::create_dir_all(start.join(prefix)).unwrap();
        std::os::unix::fs::symlink(real("echo"), start.join(prefix).join("e")).unwrap();
    }
    Fixture {
        start,
        other,
        canary,
    }
}

/// What a case expects beyond "the canary is absent".
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Refused (`SYSTEM_RUN_DENIED` or `INVALID_REQUEST`).
    Refused,
    /// Refused, and the same request creates the canary under `security=full`.
    RefusedControl,
}

struct Case {
    label: String,
    argv: Vec<String>,
    env: Option<Value>,
    /// Path-only entries allowed besides echo and ls.
    extra: Vec<String>,
    /// The request's cwd when not the fixture's start dir.
    cwd: Option<PathBuf>,
    expect: Expect,
}

impl Fixture {
    /// `{c}` the canary, `{o}` the other dir, `{s}` the start dir.
    fn fill(&self, text: &str) -> String {
        text.replace("{c}", &self.canary.display().to_string())
            .replace("{o}", &self.other.display().to_string())
            .replace("{s}", &self.start.display().to_string())
    }

    fn case(&self, argv: &[&str], expect: Expect) -> Case {
        let argv: Vec<String> = argv.iter().map(|a| self.fill(a)).collect();
        Case {
            label: format!("{argv:?}"),
            argv,
            env: None,
            extra: Vec::new(),
            cwd: None,
            expect,
        }
    }

    /// `payload` under each shell in `shells` (`bash -c`, `sh -c`, ...).
    fn shells(&self, shells: &[&str], payload: &str, expect: Expect) -> Vec<Case> {
        shells
            .iter()
            .map(|shell| {
                let mut argv: Vec<&str> = shell.split(' ').collect();
                argv.push(payload);
                self.case(&argv, expect)
            })
            .collect()
    }
}

fn with_env(mut case: Case, env: Value) -> Case {
    case.label = format!("{} env={env}", case.label);
    case.env = Some(env);
    case
}

fn with_extra(mut case: Case, extra: &[String]) -> Case {
    case.label = format!("{} +allow {extra:?}", case.label);
    case.extra = extra.to_vec();
    case
}

fn in_cwd(mut case: Case, cwd: &Path) -> Case {
    case.label = format!("{} in {}", case.label, cwd.display());
    case.cwd = Some(cwd.to_path_buf());
    case
}

fn approvals(state: &Path, security: &str, extra: &[String]) {
    let mut allowlist = vec![json!({"pattern": real("echo")}), json!({"pattern": real("ls")})];
    allowlist.extend(extra.iter().map(|p| json!({"pattern": p})));
    write_approvals(
        state,
        json!({"version": 1, "defaults": {"security": security, "ask": "off", "askFallback": "deny"},
        "agents": {"*": {"allowlist": allowlist}}}),
    );
}

fn params(fixture: &Fixture, case: &Case) -> String {
    let cwd = case.cwd.as_ref().unwrap_or(&fixture.start);
    let mut params = json!({"command": case.argv, "cwd": cwd, "timeoutMs": 5000});
    if let Some(env) = &case.env {
        params["env"] = env.clone();
    }
    params.to_string()
}

/// Runs every case; panics with one line per failing case.
fn run_battery(fixture: &Fixture, name: &str, cases: Vec<Case>) {
    let (ctx, _events, state) = context(&format!("battery-{name}"), json!({}));
    let mut failures = Vec::new();
    for case in &cases {
        let _ = std::fs::remove_file(&fixture.canary);
        let request = params(fixture, case);
        if case.expect == Expect::RefusedControl {
            approvals(&state, "full", &case.extra);
            let _ = handle_run(&ctx, Some(&request));
            if !fixture.canary.exists() {
                failures.push(format!("{}: the control run did not create the canary", case.label));
                continue;
            }
            std::fs::remove_file(&fixture.canary).unwrap();
        }
        approvals(&state, "allowlist", &case.extra);
        let result = handle_run(&ctx, Some(&request));
        let ran = fixture.canary.exists();
        match (&result, ran) {
            (_, true) => failures.push(format!("{}: RAN (canary created): {result:?}", case.label)),
            (Ok(_), false) => failures.push(format!("{}: allowed (no canary)", case.label)),
            (Err(err), false) if !["SYSTEM_RUN_DENIED", "INVALID_REQUEST"].contains(&err.code.as_str()) => {
                failures.push(format!("{}: unexpected error {err:?}", case.label))
            }
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

const BASH: &[&str] = &["bash -c"];
const POSIX: &[&str] = &["bash -c", "sh -c", "dash -c"];
const WRAPPED: &[&str] = &["bash -c", "sh -c", "nice bash -c", "timeout 5 sh -c", "env bash -c"];

use Expect::{Refused, RefusedControl as Control};

#[test]
fn battery_builtins_that_evaluate_code() {
    let f = fixture("builtins");
    let mut cases = Vec::new();
    for payload in [
        "test -v 'a[$(touch {c})]'",
        "[ -v 'a[$(touch {c})]' ]",
        "test -v \"a[\\$(touch {c})]\"",
        "test -v a\\[\\$\\(touch\\ {c}\\)\\]",
        "[ ! -v 'a[$(touch {c})]' ]",
        "test -n x -a -v 'a[$(touch {c})]'",
        "printf -v 'a[$(touch {c})]' x",
        "printf -v\"a[\\$(touch {c})]\" x",
        "command printf -v 'a[$(touch {c})]' %s x",
        "command -- test -v 'a[$(touch {c})]'",
        "declare 'a[$(touch {c})]=1'",
        "typeset 'a[$(touch {c})]=1'",
        "let 'a[$(touch {c})]=1'",
        "eval 'touch {c}'",
        "builtin eval 'touch {c}'",
        "command eval 'touch {c}'",
        "exec -a echo touch {c}",
        "command -p touch {c}",
        "true && printf -v 'a[$(touch {c})]' x",
        "echo ok; test -v 'a[$(touch {c})]'",
        "false || test -v 'a[$(touch {c})]'",
        "echo ok | test -v 'a[$(touch {c})]'",
        "cd . && test -v 'a[$(touch {c})]'",
        "echo $(( a[$(touch {c})] ))",
        "(( a[$(touch {c})] ))",
        "[[ -v 'a[$(touch {c})]' ]]",
        "[[ -v a[$(touch {c})] ]]",
        "echo `touch {c}`",
        "echo \"$(touch {c})\"",
        "echo $'\\x41' $(touch {c})",
        "{touch,{c}}",
        "echo a && {touch,{c}}",
        "source {o}/s.sh",
    ] {
        cases.extend(f.shells(BASH, payload, Control));
    }
    for payload in [
        "export 'a[$(touch {c})]=1'",
        "local 'a[$(touch {c})]=1'",
        "read -a 'a[$(touch {c})]'",
        "mapfile 'a[$(touch {c})]'",
        "printf '%d' 'a[$(touch {c})]'",
        "test 'a[$(touch {c})]' -eq 1",
        "[ 1 -eq 'a[$(touch {c})]' ]",
        "kill -l 'a[$(touch {c})]'",
        "wait -p 'a[$(touch {c})]'",
        "unset 'a[$(touch {c})]'",
        "readonly 'a[$(touch {c})]=1'",
        "test -R 'a[$(touch {c})]'",
    ] {
        cases.extend(f.shells(BASH, payload, Refused));
    }
    for payload in [
        ". {o}/s.sh",
        "command . {o}/s.sh",
        "exec bash -c 'touch {c}'",
        "command sh -c 'touch {c}'",
        "command -- bash -c 'echo a && touch {c}'",
        "exec nice sh -c 'touch {c}'",
        "bash -c 'exec sh -c \"touch {c}\"'",
        "eval touch {c}",
    ] {
        cases.extend(f.shells(WRAPPED, payload, Control));
    }
    cases.extend(f.shells(BASH, "exec -a echo touch {c}", Control));
    cases.extend(f.shells(&["nice bash -c", "env bash -c"], "exec -a echo touch {c}", Control));
    run_battery(&f, "builtins", cases);
}

#[test]
fn battery_assignment_prefixes() {
    let f = fixture("assign");
    let mut cases = Vec::new();
    for payload in [
        "X=\\/e touch {c}",
        "X=\"/e\" touch {c}",
        "X='/e' touch {c}",
        "X=/e\\ touch {c}",
        "X=$'/e' touch {c}",
        "X= touch {c}",
        "X=\"\" touch {c}",
        "PATH={s}/fake:$PATH ls",
        "PATH={s}/fake ls",
        "BASH_ENV={o}/s.sh bash -c 'echo hi'",
        "echo ok && X=\"/e\" touch {c}",
    ] {
        cases.extend(f.shells(POSIX, payload, Refused));
        cases.extend(f.shells(&["nice sh -c", "env bash -c"], payload, Refused));
    }
    for payload in [
        "X+=\\/e touch {c}",
        "X+=\"/e\" touch {c}",
        "a[1]=/e touch {c}",
        "a[$(touch {c})]=1 echo",
        "a['$(touch {c})']=1 echo",
        "X[1]+=\\/e touch {c}",
    ] {
        cases.extend(f.shells(BASH, payload, Refused));
    }
    run_battery(&f, "assign", cases);
}

#[test]
fn battery_relative_words_after_cd() {
    let f = fixture("cd");
    let mut cases = Vec::new();
    for payload in [
        "cd {o} && ./x",
        "cd {o}; ./x",
        "cd {o} && exec ./x",
        "cd {o} && command ./x",
        "cd {o} && nice ./x",
        "cd {o} && nice -n 1 ./x",
        "cd {o} && timeout 5 ./x",
        "cd {o} && timeout -s KILL 5 ./x",
        "cd {o} && env ./x",
        "cd {o} && env -- ./x",
        "cd {o} && stdbuf -oL ./x",
        "cd {o} && nohup ./x",
        "cd {o} && /usr/bin/time ./x",
        "cd {o} && flock {o}/lk ./x",
        "cd {o} && sh ./x",
        "cd {o} && sh -c ./x",
        "cd {o} && sh -c 'nice ./x'",
        "cd {o} && bash -c 'exec ./x'",
        "cd {o} && sh -c \"sh -c './x'\"",
        "command cd {o} && ./x",
        "cd -P {o} && ./x",
        "cd -- {o} && ./x",
        "cd {o} && sub/../x",
        "cd {o} && sh s.sh",
        "cd {o} && bash ./s.sh",
        "cd {o} && nice sh s.sh",
    ] {
        cases.extend(f.shells(POSIX, payload, Control));
    }
    cases.extend(f.shells(BASH, "pushd {o} && ./x", Control));
    cases.extend(f.shells(BASH, "cd {o} && time ./x", Control));
    cases.extend(f.shells(BASH, "cd {o} && ~+/x", Control));
    // The harmless `s.sh` of the start dir is allowlisted: `sh s.sh` there is a hit, and the
    // same words after `cd` read another file.
    let allowed_script = [f.start.join("s.sh").display().to_string()];
    for payload in [
        "cd {o} && sh s.sh",
        "cd {o} && bash s.sh",
        "cd {o} && sh ./s.sh",
        "cd {o} && nice bash s.sh",
        "cd {o} && sh -c 'sh s.sh'",
        "cd {o}; exec sh s.sh",
    ] {
        for case in f.shells(POSIX, payload, Control) {
            cases.push(with_extra(case, &allowed_script));
        }
    }
    run_battery(&f, "cd", cases);
}

#[test]
fn battery_untrusted_shells_and_wrappers() {
    let f = fixture("carriers");
    let mut cases = Vec::new();
    for argv in [
        &["./sh", "-c", "echo hi"][..],
        &["fake/sh", "-c", "echo hi"],
        &["{s}/fake/bash", "-c", "echo hi"],
        &["./bash", "-c", "echo hi"],
        &["./dash", "-c", "echo hi"],
        &["./zsh", "-c", "echo hi"],
        &["./ksh", "-c", "echo hi"],
        &["./nice", "sh", "-c", "echo hi"],
        &["./env", "sh", "-c", "echo hi"],
        &["./stdbuf", "-oL", "echo", "hi"],
        &["./setsid", "echo", "hi"],
        &["./chrt", "0", "echo", "hi"],
        &["./ionice", "echo", "hi"],
        &["./taskset", "1", "echo", "hi"],
        &["./sudo", "echo", "hi"],
        &["./xargs", "echo", "hi"],
        &["./busybox", "sh", "-c", "echo hi"],
        &["./busybox", "echo", "hi"],
        &["fake/busybox", "ls"],
        &["nice", "./sh", "-c", "echo hi"],
        &["env", "./bash", "-c", "echo hi"],
        &["timeout", "5", "./sh", "-c", "echo hi"],
        &["sh", "-c", "./sh -c 'echo hi'"],
        &["sh", "-c", "nice ./bash -c 'echo hi'"],
        &["sh", "-c", "./nice echo hi"],
        &["sh", "-c", "exec ./sh -c 'echo hi'"],
        &["sh", "-c", "command ./env echo hi"],
        &["bash", "-c", "fake/sh -c 'echo hi'"],
        &["bash", "-c", "echo a && ./timeout 5 echo hi"],
        &["bash", "-c", "sh -c 'sh -c \"./sh -c ls\"'"],
        &["sh", "./s.sh"],
        &["./sh", "s.sh"],
        &["./bash", "{s}/s.sh"],
        &["env", "-S", "touch {c}"],
        &["env", "-S", "sh -c 'touch {c}'"],
        &["env", "-Ssh -c 'touch {c}'"],
        &["env", "--split-string=touch {c}"],
        &["env", "-C", "{o}", "./x"],
        &["env", "--chdir={o}", "./x"],
        &["env", "-u", "X", "touch", "{c}"],
        &["env", "-a", "echo", "touch", "{c}"],
        &["env", "--argv0", "echo", "touch", "{c}"],
        &["env", "PATH={s}/fake", "ls"],
        &["env", "X=1", "touch", "{c}"],
        &["env", "-i", "touch", "{c}"],
        &["/usr/bin/time", "-o", "{c}", "echo", "hi"],
        &["/usr/bin/time", "--output={c}", "echo", "hi"],
        &["/usr/bin/time", "-ao", "{c}", "echo", "hi"],
        &["time", "-o{c}", "echo", "hi"],
        &["timeout", "-k5", "5", "touch", "{c}"],
        &["nice", "--adj", "5", "touch", "{c}"],
        &["xargs", "touch", "{c}"],
        &["sh", "-c", "echo {c} | xargs touch"],
        &["setsid", "touch", "{c}"],
        &["flock", "{o}/lk", "-c", "touch {c}"],
        &["flock", "-c", "touch {c}", "{o}/lk"],
        &["nohup", "touch", "{c}"],
        &["stdbuf", "-o0", "touch", "{c}"],
        &["taskset", "1", "touch", "{c}"],
        &["chrt", "-o", "0", "touch", "{c}"],
        &["ionice", "-c3", "touch", "{c}"],
        &["sh", "-c", "sh -c \"sh -c 'sh -c \\\"sh -c touch\\\\ {c}\\\"'\""],
        &["bash", "-c", "bash -c \"bash -c 'bash -c \\\"bash -c \\\\\\\"touch {c}\\\\\\\"\\\"'\""],
    ] {
        cases.push(f.case(argv, Refused));
    }
    run_battery(&f, "carriers", cases);
}

#[test]
fn battery_shell_startup_and_env() {
    let f = fixture("startup");
    let home = f.other.join("home");
    std::fs::create_dir_all(&home).unwrap();
    for rc in [".bashrc", ".bash_profile", ".profile", ".bash_login"] {
        std::fs::write(home.join(rc), f.fill("touch {c}\n")).unwrap();
    }
    let mut cases = Vec::new();
    let h = home.display().to_string();
    for argv in [
        &["bash", "-l", "-c", "echo hi"][..],
        &["bash", "--login", "-c", "echo hi"],
        &["bash", "-i", "-c", "echo hi"],
        &["bash", "-lc", "echo hi"],
        &["sh", "-l", "-c", "echo hi"],
        &["nice", "bash", "-lc", "echo hi"],
        &["env", "bash", "-i", "-c", "echo hi"],
        &["timeout", "5", "sh", "-lc", "echo hi"],
    ] {
        cases.push(with_env(f.case(argv, Refused), json!({"HOME": h})));
        cases.push(with_env(f.case(argv, Refused), json!({"ENV": format!("{h}/.profile")})));
    }
    for argv in [
        &["bash", "--rcfile", "{o}/s.sh", "-i", "-c", "echo hi"][..],
        &["bash", "--init-file", "{o}/s.sh", "-ic", "echo hi"],
        &["nice", "bash", "--rcfile", "{o}/s.sh", "-ic", "echo hi"],
        &["bash", "-c", "bash --rcfile {o}/s.sh -ic 'echo hi'"],
        &["bash", "{o}/s.sh"],
        &["bash", "-O", "extglob", "{o}/s.sh"],
        &["bash", "--", "{o}/s.sh"],
    ] {
        cases.push(f.case(argv, Control));
    }
    // (bash reads no rcfile here, but a refusal must not depend on that.)
    for argv in [
        &["bash", "-i", "--rcfile", "{o}/s.sh", "-c", "echo hi"][..],
        &["bash", "--rcfile={o}/s.sh", "-ic", "echo hi"],
        &["env", "bash", "-i", "--rcfile", "{o}/s.sh", "-c", "echo hi"],
        &["sh", "-s", "{o}/s.sh"],
    ] {
        cases.push(f.case(argv, Refused));
    }
    for (key, value) in [
        ("LC_CTYPE", "{o}/evil.utf8"),
        ("LC_ALL", "../../{o}/evil.utf8"),
        ("LANG", "en_US.UTF-8/../../evil"),
        ("LANGUAGE", "../../../..{o}/evil"),
        ("LANGUAGE", "en:{o}/evil"),
        ("LC_MESSAGES", "{o}/evil.utf8"),
    ] {
        // A shell keeps no `LANGUAGE` override (only locale and terminal keys): `ls` does.
        let shell = key != "LANGUAGE";
        for argv in [&["bash", "-c", "echo hi"][..], &["ls"]].into_iter().filter(|a| shell || a[0] == "ls") {
            cases.push(with_env(f.case(argv, Refused), json!({key: f.fill(value)})));
        }
    }
    let trace = json!({"SHELLOPTS": "xtrace", "PS4": f.fill("$(touch {c})")});
    let ps4 = json!({"PS4": f.fill("$(touch {c})")});
    for argv in [
        &["bash", "-c", "echo hi"][..],
        &["nice", "bash", "-c", "echo hi"],
        &["echo", "hi"],
    ] {
        cases.push(with_env(f.case(argv, Refused), trace.clone()));
        cases.push(with_env(f.case(argv, Refused), json!({"BASHOPTS": "xtrace"})));
    }
    for argv in [
        &["bash", "-xc", "echo hi"][..],
        &["bash", "-x", "-c", "echo hi"],
        &["bash", "-o", "xtrace", "-c", "echo hi"],
        &["nice", "bash", "-xc", "echo hi"],
        &["env", "bash", "-xc", "echo hi"],
        &["timeout", "5", "bash", "-xc", "echo hi"],
        &["bash", "-c", "bash -xc 'echo hi'"],
    ] {
        cases.push(with_env(f.case(argv, Refused), ps4.clone()));
    }
    for (key, value) in [
        ("BASH_ENV", "{o}/s.sh"),
        ("ENV", "{o}/s.sh"),
        ("LD_PRELOAD", "{o}/evil.so"),
        ("LD_LIBRARY_PATH", "{o}"),
        ("LD_AUDIT", "{o}/evil.so"),
        ("GCONV_PATH", "{o}"),
        ("LOCPATH", "{o}"),
        ("PYTHONPATH", "{o}"),
        ("PERL5OPT", "-e1"),
        ("NODE_OPTIONS", "--require {o}/x"),
        ("BASH_FUNC_echo%%", "() { touch {c}; }"),
        ("BASH_FUNC_ls()", "() { touch {c}; }"),
        ("SHELLOPTS", "xtrace"),
        ("IFS", "/"),
        ("CDPATH", "{o}"),
        ("PATH", "{s}/fake"),
        ("Path", "{s}/fake"),
        ("LC_ALL", "zh_CN.GBK"),
        ("LANG", "zh_TW.Big5"),
        ("LC_CTYPE", "ja_JP.SJIS"),
        ("LC_ALL", "zh_TW"),
        ("LC_ALL", "zh_CN.GB18030"),
        ("LC_ALL", "zh_HK.BIG5-HKSCS"),
        ("LC_ALL", "zh_CN.gbk@x"),
        ("LC_ALL", "ja_JP.eucJP"),
    ] {
        for argv in [&["bash", "-c", "echo hi"][..], &["ls"], &["nice", "bash", "-c", "ls"]] {
            let env = json!({key: f.fill(value)});
            cases.push(with_env(f.case(argv, Refused), env));
        }
    }
    run_battery(&f, "startup", cases);
}

#[test]
fn battery_find_allowed_by_path() {
    let f = fixture("find");
    let find = [real("find")];
    let mut cases = Vec::new();
    for argv in [
        &["find", "{o}", "-exec", "touch", "{c}", ";"][..],
        &["find", "{o}", "-execdir", "touch", "{c}", ";"],
        &["find", "{o}", "-exec", "touch", "{c}", "{}", "+"],
        &["find", "{o}", "-fprint", "{c}"],
        &["find", "{o}", "-fprint0", "{c}"],
        &["find", "{o}", "-fprintf", "{c}", "%p"],
        &["find", "{o}", "-fls", "{c}"],
        &["find", "-exec", "touch", "{c}", ";"],
        &["find", "{o}", "-name", "x", "-o", "-exec", "touch", "{c}", "{}", "+"],
        &["find", "{o}", "(", "-exec", "touch", "{c}", ";", ")"],
        &["find", "{o}", "!", "-exec", "touch", "{c}", ";"],
        &["find", "-L", "{o}", "-exec", "touch", "{c}", ";"],
        &["find", "-O3", "{o}", "-fprint", "{c}"],
        &["find", "{o}", "-maxdepth", "0", "-fprint", "{c}"],
        &["nice", "find", "{o}", "-exec", "touch", "{c}", ";"],
        &["sh", "-c", "find {o} -exec touch {c} \\;"],
        &["sh", "-c", "find {o} -exec touch {c} ';'"],
        &["bash", "-c", "echo a; find {o} -fprint {c}"],
        &["sh", "-c", "ls | find {o} -execdir touch {c} {} +"],
    ] {
        cases.push(with_extra(f.case(argv, Control), &find));
    }
    // `-ok` asks on stdin, which is not a terminal: refused, not run either way.
    for argv in [
        &["find", "{o}", "-ok", "touch", "{c}", ";"][..],
        &["find", "{o}", "-okdir", "touch", "{c}", ";"],
        &["find", "{o}", "-delete"],
    ] {
        cases.push(with_extra(f.case(argv, Refused), &find));
    }
    run_battery(&f, "find", cases);
}

#[test]
fn battery_dot_dot_after_a_symlink() {
    let f = fixture("dotdot");
    // `l` -> other/sub: `l/../x` is other/x for the kernel, start/x (echo) read lexically.
    std::os::unix::fs::symlink(f.other.join("sub"), f.start.join("l")).unwrap();
    let mut cases = Vec::new();
    for payload in [
        "./l/../x",
        "l/../x",
        "./l/./../x",
        "./l//../x",
        "echo a; ./l/../x",
        "nice ./l/../x",
        "exec ./l/../x",
        "command ./l/../x",
        "sh -c ./l/../x",
    ] {
        cases.extend(f.shells(POSIX, payload, Control));
    }
    for argv in [
        &["./l/../x"][..],
        &["nice", "./l/../x"],
        &["timeout", "5", "l/../x"],
        &["{s}/l/../x"],
    ] {
        cases.push(f.case(argv, Control));
    }
    // The cwd itself through the symlink: `../x` from start/l is other/x.
    let linked = f.start.join("l");
    for argv in [&["../x"][..], &["sh", "-c", "../x"], &["bash", "-c", "nice ../x"]] {
        cases.push(in_cwd(f.case(argv, Control), &linked));
    }
    // Scripts: `s.sh` of the start dir is allowlisted, other/s.sh is the canary.
    let allowed_script = [f.start.join("s.sh").display().to_string()];
    for argv in [
        &["sh", "l/../s.sh"][..],
        &["bash", "./l/../s.sh"],
        &["sh", "-c", "sh l/../s.sh"],
    ] {
        cases.push(with_extra(f.case(argv, Control), &allowed_script));
    }
    run_battery(&f, "dotdot", cases);
}

const ODD_BLANKS: &[&str] = &["\u{b}", "\u{c}", "\u{a0}", "\u{85}", "\u{3000}", "\u{2028}", "\u{feff}"];

#[test]
fn battery_words_the_resolver_trimmed_or_expanded() {
    let f = fixture("words");
    // `<blank>.` and ` .` hold a canary `x`: the shell runs `<blank>./x` there, while a
    // trimmed word is `./x`, the allowlisted echo.
    for blank in ODD_BLANKS.iter().chain(&[" "]) {
        let dir = f.start.join(format!("{blank}."));
        std::fs::create_dir_all(&dir).unwrap();
        script(&dir.join("x"), &f.canary);
    }
    std::fs::create_dir_all(f.start.join(" t")).unwrap();
    script(&f.start.join("x "), &f.canary);
    // `~` in the cwd holds the canary; HOME's `x` would be the allowlisted echo.
    std::fs::create_dir_all(f.start.join("~")).unwrap();
    script(&f.start.join("~").join("x"), &f.canary);
    script(&f.start.join("~").join("s.sh"), &f.canary);
    script(&f.start.join(" s.sh"), &f.canary);
    // `nice` and `sh` here are the trusted system files; ` ./nice` and ` ./sh` are not.
    std::fs::create_dir_all(f.start.join("t")).unwrap();
    for name in ["nice", "sh", "env"] {
        std::os::unix::fs::symlink(real(name), f.start.join("t").join(name)).unwrap();
        script(&f.start.join(" t").join(name), &f.canary);
    }
    let mut cases = Vec::new();
    for blank in ODD_BLANKS {
        for shell in ["bash", "sh", "dash"] {
            for payload in [format!("{blank}./x"), format!("echo a && {blank}./x")] {
                cases.push(f.case(&[shell, "-c", &payload], Control));
            }
            cases.push(f.case(&[shell, "-c", &format!("'{blank}./x'")], Control));
            cases.push(f.case(&["nice", shell, "-c", &format!("{blank}./x")], Control));
        }
        cases.push(f.case(&["sh", "-c", &format!("sh -c '{blank}./x'")], Control));
    }
    for payload in [
        "' ./x'",
        "\" ./x\"",
        "\\ ./x",
        "'./x '",
        "echo a; './x '",
        "nice ' ./x'",
        "exec ' ./x'",
        "sh -c \"' ./x'\"",
        "'~/x'",
        "\\~/x",
        "\"~\"/x",
        "nice '~/x'",
        "sh '~/s.sh'",
        "sh ' s.sh'",
        "' t/nice' echo hi",
        "\\ t/nice echo hi",
        "' t/env' echo hi",
        "' t/sh' -c 'echo hi'",
        "nice ' t/sh' -c 'echo hi'",
    ] {
        cases.extend(f.shells(POSIX, payload, Control));
    }
    for argv in [&["sh", " s.sh"][..], &["bash", " s.sh"], &["sh", "~/s.sh"], &["nice", "sh", "~/s.sh"]] {
        cases.push(f.case(argv, Control));
    }
    run_battery(&f, "words", cases);
}

/// The plan `system.run.prepare` builds, or `None` for a shape it refuses to bind.
fn prepare(ctx: &InvokeContext, params: &Value) -> Option<Value> {
    let prepared = handle_prepare(ctx, Some(&params.to_string())).ok()?;
    Some(serde_json::from_str::<Value>(&prepared).unwrap()["plan"].clone())
}

/// The allowlist entries of `*` and `main`, without their ids (generated on read).
fn allowlist_patterns(ctx: &InvokeContext) -> Vec<Value> {
    let doc = ctx.node.approvals.read().unwrap().doc;
    ["*", "main"]
        .iter()
        .flat_map(|agent| doc["agents"][agent]["allowlist"].as_array().cloned().unwrap_or_default())
        .map(|e| json!([e["pattern"], e["argPattern"], e["source"]]))
        .collect()
}

#[test]
fn battery_gateway_claims_under_ask_off() {
    let f = fixture("claims");
    let (ctx, _events, state) = context("battery-claims", json!({}));
    approvals(&state, "allowlist", &[]);
    let before = allowlist_patterns(&ctx);
    let c = f.canary.display().to_string();
    let session = json!({"agentId": "main", "sessionKey": "agent:main:main", "cwd": f.start});
    let mut failures = Vec::new();
    let mut prepared = 0;
    for command in [
        json!(["touch", c]),
        json!(["sh", "-c", format!("touch {c}")]),
        json!(["bash", "-c", format!("echo a && touch {c}")]),
        json!(["nice", "touch", c]),
        json!(["sh", "-c", "./x"]),
        json!(["sh", "-c", format!("cd {} && ./x", f.other.display())]),
    ] {
        let mut request = session.clone();
        request["command"] = command.clone();
        let Some(plan) = prepare(&ctx, &request) else {
            continue;
        };
        prepared += 1;
        let approved = |extra: Value| {
            let mut params = json!({"command": plan["argv"], "rawCommand": plan["commandText"],
                "systemRunPlan": plan, "cwd": plan["cwd"], "agentId": "main",
                "sessionKey": "agent:main:main"});
            for (key, value) in extra.as_object().unwrap() {
                params[key] = value.clone();
            }
            params
        };
        let forged_plan = json!({"argv": ["touch", c], "cwd": f.start, "commandText": format!("touch {c}"),
            "agentId": "main", "sessionKey": "agent:main:main"});
        for params in [
            approved(json!({"approved": true, "approvalDecision": "allow-once"})),
            approved(json!({"approved": true, "approvalDecision": "allow-always"})),
            approved(json!({"approved": true})),
            approved(json!({"approvalDecision": "allow-always"})),
            approved(json!({"approved": "true", "approvalDecision": "allow-once"})),
            approved(json!({"approved": true, "approvalDecision": "allow-once", "env": {"FOO": "1"}})),
            approved(json!({"approved": true, "approvalDecision": "allow-always", "systemRunPlan": forged_plan})),
            json!({"command": command, "cwd": f.start, "approved": true, "approvalDecision": "allow-always"}),
        ] {
            let _ = std::fs::remove_file(&f.canary);
            let result = handle_run(&ctx, Some(&params.to_string()));
            if f.canary.exists() || result.is_ok() {
                failures.push(format!("{params}: {result:?}, canary {}", f.canary.exists()));
            }
        }
    }
    assert!(prepared >= 3, "only {prepared} commands were prepared");
    assert_eq!(allowlist_patterns(&ctx), before, "a forged allow-always wrote an entry");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn battery_allow_always_grants_stay_in_their_cwd() {
    let f = fixture("grants");
    let (ctx, _events, state) = context("battery-grants", json!({}));
    std::fs::write(f.start.join("y.sh"), "echo granted\n").unwrap();
    script(&f.other.join("y.sh"), &f.canary);
    write_approvals(
        &state,
        json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"},
        "agents": {"*": {"allowlist": [{"pattern": real("echo")}, {"pattern": real("ls")}]}}}),
    );
    // A real allow-always approval, with ask=on-miss, of `sh y.sh` in the start dir.
    // (A script inside a payload, `sh -c 'sh y.sh'`, is a shape prepare does not bind.)
    let granted = [json!(["sh", "y.sh"])];
    for command in &granted {
        let plan = prepare(
            &ctx,
            &json!({"command": command, "cwd": f.start, "agentId": "main", "sessionKey": "agent:main:main"}),
        )
        .unwrap_or_else(|| panic!("{command} is prepared"));
        let params = json!({"command": plan["argv"], "rawCommand": plan["commandText"], "systemRunPlan": plan,
            "cwd": plan["cwd"], "agentId": "main", "sessionKey": "agent:main:main",
            "approved": true, "approvalDecision": "allow-always"});
        let result = handle_run(&ctx, Some(&params.to_string()));
        assert!(result.is_ok(), "the approved run: {result:?}");
    }
    // Now ask=off: the grant is all that allows it.
    let mut doc = ctx.node.approvals.read().unwrap().doc;
    doc["defaults"]["ask"] = json!("off");
    write_approvals(&state, doc);
    for command in &granted {
        let params = json!({"command": command, "cwd": f.start, "agentId": "main"});
        let result = handle_run(&ctx, Some(&params.to_string()));
        assert!(result.is_ok(), "{command} runs through its grant: {result:?}");
    }
    let o = f.other.display().to_string();
    let mut failures = Vec::new();
    for (command, cwd) in [
        (json!(["sh", "-c", format!("cd {o} && sh y.sh")]), &f.start),
        (json!(["sh", "-c", format!("cd {o}; sh y.sh")]), &f.start),
        (json!(["sh", "-c", "cd . && sh y.sh"]), &f.start),
        (json!(["bash", "-c", format!("command cd {o} && sh y.sh")]), &f.start),
        (json!(["sh", "-c", format!("cd {o} && sh -c 'sh y.sh'")]), &f.start),
        (json!(["sh", "y.sh"]), &f.other),
        (json!(["sh", "-c", "sh y.sh"]), &f.other),
        (json!(["sh", "y.sh", "extra"]), &f.other),
    ] {
        let _ = std::fs::remove_file(&f.canary);
        let params = json!({"command": command, "cwd": cwd, "agentId": "main"});
        let result = handle_run(&ctx, Some(&params.to_string()));
        if f.canary.exists() || result.is_ok() {
            failures.push(format!("{command} in {}: {result:?}", cwd.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn battery_default_safe_bins_write_nothing() {
    let f = fixture("safebins");
    // The canary's own directory as cwd: a bare `canary` operand names it.
    let root = f.canary.parent().unwrap().to_path_buf();
    std::fs::write(root.join("in"), "a\n").unwrap();
    let mut cases = Vec::new();
    for argv in [
        &["uniq", "-", "canary"][..],
        &["uniq", "in", "canary"],
        &["uniq", "--", "in", "canary"],
        &["sh", "-c", "echo a | uniq - canary"],
        &["sh", "-c", "echo a | uniq in canary"],
        &["bash", "-c", "uniq -c - canary"],
        &["sh", "-c", "echo a | nice uniq - canary"],
    ] {
        cases.push(in_cwd(f.case(argv, Control), &root));
    }
    for argv in [
        &["tr", "a", "b", "canary"][..],
        &["head", "-n1", "in", "canary"],
        &["wc", "--files0-from=in"],
        &["cut", "-c1", "--output-delimiter=x", "in"],
    ] {
        cases.push(in_cwd(f.case(argv, Refused), &root));
    }
    run_battery(&f, "safebins", cases);
}

#[test]
fn battery_builtin_names_are_exact() {
    // A node whose PATH ends in a directory the attacker can write (a user-level node with
    // ~/.local/bin on PATH): there, `TRUE` or ` cd` are programs, not the shell's builtins.
    let f = fixture("builtin-names");
    let bin = f.other.join("pathbin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["TRUE", "Cd", "PWD", "Test", " true", "true ", "[[", ":x"] {
        script(&bin.join(name), &f.canary);
    }
    let (base, _events, state) = context("battery-builtin-names", json!({}));
    let node = crate::commands::NodeRuntime {
        paths: base.node.paths.clone(),
        config: base.node.config.clone(),
        path_env: format!("/usr/bin:/bin:{}", bin.display()),
        secrets: crate::secrets::Secrets::default(),
        approvals: crate::approvals::ApprovalsStore::new(&base.node.paths),
        browser: None,
    };
    let ctx = InvokeContext {
        cancel: crate::cancel::CancelToken::new(),
        events: base.events.clone(),
        node: std::sync::Arc::new(node),
    };
    let mut failures = Vec::new();
    for payload in [
        "TRUE",
        "echo a && TRUE",
        "Cd /tmp",
        "PWD",
        "Test -f x",
        "' true'",
        "'true '",
        "\\ true",
        "cd /tmp && ' true'",
    ] {
        for shell in ["sh", "bash"] {
            let _ = std::fs::remove_file(&f.canary);
            let params = json!({"command": [shell, "-c", payload], "cwd": f.start});
            approvals(&state, "full", &[]);
            let _ = handle_run(&ctx, Some(&params.to_string()));
            if !f.canary.exists() {
                failures.push(format!("{shell} -c {payload:?}: the control run did not create the canary"));
                continue;
            }
            std::fs::remove_file(&f.canary).unwrap();
            approvals(&state, "allowlist", &[]);
            let result = handle_run(&ctx, Some(&params.to_string()));
            if f.canary.exists() || result.is_ok() {
                failures.push(format!("{shell} -c {payload:?}: {result:?}, canary {}", f.canary.exists()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn battery_expansions_behind_wrappers_and_carriers() {
    // `*`, `?`, `b` and `x` are echo symlinks (what the resolver sees literally); `!` sorts
    // first and is the canary: `nice ./*` runs `./!`.
    let f = fixture("expansions");
    let dir = f.other.join("glob");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["*", "?", "[!a]", "b", "{a,b}", "~"] {
        std::os::unix::fs::symlink(real("echo"), dir.join(name)).unwrap();
    }
    script(&dir.join("!"), &f.canary);
    script(&dir.join("a"), &f.canary);
    let mut cases = Vec::new();
    for payload in [
        "nice ./*",
        "nice ./?",
        "nice ./[!a]",
        "timeout 5 ./*",
        "env ./*",
        "env -- ./?",
        "nohup ./*",
        "stdbuf -oL ./*",
        "exec ./*",
        "command ./*",
        "nice timeout 5 ./*",
        "sh -c 'nice ./*'",
        "sh ./*",
    ] {
        for case in f.shells(POSIX, payload, Control) {
            cases.push(in_cwd(case, &dir));
        }
    }
    // Brace expansion and `exec -a` are bash's.
    for payload in ["exec -a x ./?", "nice ./{a,b}", "exec ./{a,b}", "sh ./{a,b}", "nice ./{\\!,b}"] {
        for case in f.shells(BASH, payload, Control) {
            cases.push(in_cwd(case, &dir));
        }
    }
    run_battery(&f, "expansions", cases);
}

#[test]
fn battery_relative_cwd_is_the_one_the_child_gets() {
    // A relative cwd `tmp/<name>`: the child runs in `<node cwd>/tmp/<name>` (the canary),
    // while `/tmp/<name>` holds an echo symlink the check must not look at.
    let f = fixture("relcwd");
    let name = format!("oc-battery-relcwd-{}", std::process::id());
    let node_cwd = std::env::current_dir().unwrap();
    let under_node = node_cwd.join("tmp").join(&name);
    let under_root = Path::new("/tmp").join(&name);
    for dir in [&under_node, &under_root] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
    }
    script(&under_node.join("x"), &f.canary);
    std::os::unix::fs::symlink(real("echo"), under_root.join("x")).unwrap();
    let relative = PathBuf::from("tmp").join(&name);
    let mut cases = Vec::new();
    for argv in [&["./x"][..], &["sh", "-c", "./x"], &["nice", "./x"], &["bash", "-c", "echo a && ./x"]] {
        cases.push(in_cwd(f.case(argv, Control), &relative));
    }
    run_battery(&f, "relcwd", cases);
    let _ = std::fs::remove_dir_all(node_cwd.join("tmp"));
    let _ = std::fs::remove_dir_all(&under_root);
}

#[test]
fn battery_subscript_words_in_command_position() {
    // `X[/e` is an echo symlink; for bash `X[/e ]` is one word, the canary `X[/e ]`.
    let f = fixture("subscript");
    std::fs::create_dir_all(f.start.join("X[")).unwrap();
    std::os::unix::fs::symlink(real("echo"), f.start.join("X[").join("e")).unwrap();
    script(&f.start.join("X[").join("e ]"), &f.canary);
    script(&f.start.join("X[").join("e  a ]"), &f.canary);
    let mut cases = Vec::new();
    for payload in ["X[/e ]", "echo a && X[/e ]", "X[/e  a ]", "true; X[/e ]"] {
        cases.extend(f.shells(&["bash -c", "nice bash -c"], payload, Control));
    }
    run_battery(&f, "subscript", cases);
}
