//! Allow-always records exactly what the matcher accepts for the approved command, no more:
//! each grant built by [`plan_coverage`] is fed back to the matcher as the only entry, and
//! must accept the command it was built for and refuse its neighbours (other arguments,
//! another cwd, the same words read by another shell, the direct argv of a payload's words).

use std::path::{Path, PathBuf};

use super::*;
use crate::approvals::allowlist::match_segments;
use crate::approvals::policy::AllowlistEntry;
use crate::approvals::resolve::resolve_request;
use crate::approvals::safe_bins::SafeBins;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

struct Dirs {
    cwd: PathBuf,
    other: PathBuf,
    home: PathBuf,
}

fn dirs() -> Dirs {
    let root = std::env::temp_dir().join(format!("oc-grants-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cwd = root.join("cwd");
    let other = root.join("other");
    let home = root.join("home");
    for dir in [&cwd, &other, &home, &cwd.join("~")] {
        std::fs::create_dir_all(dir).unwrap();
    }
    for dir in [&cwd, &other, &home, &cwd.join("~")] {
        std::fs::write(dir.join("x.sh"), "echo x\n").unwrap();
        std::fs::write(dir.join("x.fish"), "echo x\n").unwrap();
    }
    // A shell the node's account wrote: not a system file.
    std::fs::copy("/bin/sh", cwd.join("sh")).unwrap();
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap();
    Dirs {
        cwd: canon(&cwd),
        other: canon(&other),
        home: canon(&home),
    }
}

fn ctx(cwd: &Path, home: &Path) -> ResolveContext {
    ResolveContext {
        cwd: cwd.to_path_buf(),
        path_env: PATH.into(),
        home: Some(home.display().to_string()),
    }
}

fn grants(argv: &[String], ctx: &ResolveContext) -> Vec<AllowlistEntry> {
    let raw = extract_shell_wrapper_command(argv, None).command;
    plan_coverage(argv, raw.as_deref(), ctx, false)
        .patterns
        .into_iter()
        .map(|(pattern, arg)| AllowlistEntry {
            pattern,
            arg_pattern: Some(arg),
            allow_always: true,
            id: None,
        })
        .collect()
}

fn accepts(argv: &[String], ctx: &ResolveContext, entries: &[AllowlistEntry]) -> bool {
    let Ok(request) = resolve_command_request(argv.to_vec(), None) else {
        return false;
    };
    let resolved = resolve_request(&request, ctx);
    match_segments(&resolved, entries, &SafeBins::new(Some(&[]), &[]), ctx).all_satisfied
}

#[test]
fn a_grant_accepts_its_command_and_nothing_next_to_it() {
    let d = dirs();
    let here = ctx(&d.cwd, &d.home);
    let there = ctx(&d.other, &d.home);
    let cases: Vec<(Vec<String>, Vec<Vec<String>>)> = vec![
        (
            v(&["sh", "x.sh", "a"]),
            vec![v(&["sh", "x.sh", "b"]), v(&["sh", "x.sh"]), v(&["sh", "x.sh", "a", "b"])],
        ),
        // A direct argv: no shell expands `~`, the shell opens <cwd>/~/x.sh.
        (
            v(&["sh", "~/x.sh", "a"]),
            vec![v(&["sh", "-c", "sh ~/x.sh a"]), v(&["sh", "~/x.sh", "b"])],
        ),
        (
            v(&["sh", "-c", "echo a && sh ./x.sh"]),
            vec![v(&["sh", "-c", "sh ./x.sh b"])],
        ),
        (v(&["/usr/bin/uname", "-s"]), vec![v(&["/usr/bin/uname", "-a"])]),
    ];
    for (command, neighbours) in &cases {
        let granted = grants(command, &here);
        assert!(!granted.is_empty(), "a grant for {command:?}");
        assert!(accepts(command, &here, &granted), "{command:?} accepts its own grant {granted:?}");
        assert!(!accepts(command, &there, &granted), "{command:?} in another cwd");
        for other in neighbours {
            assert!(!accepts(other, &here, &granted), "the grant for {command:?} accepts {other:?}");
        }
    }
}

#[test]
fn nothing_is_recorded_that_the_matcher_never_accepts() {
    let d = dirs();
    let here = ctx(&d.cwd, &d.home);
    let sh = d.cwd.join("sh").display().to_string();
    for command in [
        // fish scripts and shells in startup modes are refused by the matcher.
        v(&["fish", "x.fish"]),
        v(&["bash", "-i", "x.sh"]),
        v(&["bash", "--rcfile", "x.sh", "x.sh"]),
        v(&["sh", "-s", "x.sh"]),
        // The shell reading the script is the account's own file.
        v(&[&sh, "x.sh"]),
        // After a cd the segment ran elsewhere; a glob argument has no exact argv.
        v(&["sh", "-c", "cd /tmp && /usr/bin/uname -s"]),
        v(&["sh", "-c", "/usr/bin/uname *"]),
        // The shell expands `~` (from HOME): not an exact argv either.
        v(&["sh", "-c", "sh ~/x.sh a"]),
    ] {
        let granted = grants(&command, &here);
        assert!(granted.is_empty(), "{command:?} recorded {granted:?}");
    }
}
