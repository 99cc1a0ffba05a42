//! `system.notify` with a `notify-send` stand-in on the node's PATH that records its argv
//! (node-surface §12.1): declared only when it is there, TS's argv and urgencies, the empty
//! notification refusal, and a failing `notify-send`'s stderr in the error.
// POSIX only: these tests use sh, flock(2) or a Python fixture that Wine does not have.
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openclaw_node::approvals::ApprovalsStore;
use openclaw_node::cancel::CancelToken;
use openclaw_node::commands::{dispatch, CommandSurface, InvokeContext, NodeRuntime};
use openclaw_node::config::NodeConfig;
use openclaw_node::invoke::NoEvents;
use openclaw_node::paths::StatePaths;
use serde_json::json;

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oc-notify-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `notify-send` that appends its arguments (one per line, then `--end--`) to `argv.log`
/// and fails with a message when the body is `fail`.
fn fake_notify_send(dir: &Path) {
    let script = dir.join("notify-send");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\necho --end-- >> '{}'\n\
             [ \"$5\" = fail ] && {{ echo 'Cannot connect\n  to   dbus' >&2; exit 1; }}\nexit 0\n",
            dir.join("argv.log").display(),
            dir.join("argv.log").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn context(path_env: String, dir: &Path) -> InvokeContext {
    let paths = StatePaths::at(dir.join("state"));
    InvokeContext {
        cancel: CancelToken::new(),
        events: Arc::new(NoEvents),
        node: Arc::new(NodeRuntime {
            approvals: ApprovalsStore::new(&paths),
            paths,
            config: Arc::new(NodeConfig::default()),
            path_env,
            secrets: openclaw_node::secrets::Secrets::default(),
            browser: None,
            mcp: None,
        }),
        timeout_ms: None,
    }
}

#[test]
fn notify_send_gets_ts_argv_and_failures_read_as_ts() {
    let dir = scratch("argv");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    fake_notify_send(&bin);
    let ctx = context(format!("{}:/usr/bin:/bin", bin.display()), &dir);
    let (_, commands) = CommandSurface::new(ctx.node.clone()).advertised();
    assert!(
        commands.contains(&"system.notify".to_string()),
        "{commands:?}"
    );

    let run = |params: serde_json::Value| {
        dispatch(&ctx, "system.notify", Some(&params.to_string())).map_err(|e| (e.code, e.message))
    };
    assert_eq!(
        run(json!({"title":" Build ","body":"Done","priority":"timeSensitive","sound":"x"}))
            .unwrap(),
        r#"{"ok":true}"#
    );
    run(json!({"title":"t","priority":"passive"})).unwrap();
    run(json!({"body":"b","priority":"active"})).unwrap();
    let log = std::fs::read_to_string(bin.join("argv.log")).unwrap();
    assert_eq!(
        log,
        "--urgency\ncritical\n--\nBuild\nDone\n--end--\n\
         --urgency\nlow\n--\nt\n\n--end--\n\
         --urgency\nnormal\n--\n\nb\n--end--\n"
    );
    assert_eq!(
        run(json!({"title":"  ","body":""})).unwrap_err(),
        (
            "INVALID_REQUEST".to_string(),
            "Error: INVALID_REQUEST: empty notification".to_string()
        )
    );
    assert_eq!(
        dispatch(&ctx, "system.notify", Some("not json"))
            .unwrap_err()
            .message,
        "Error: INVALID_REQUEST: empty notification"
    );
    assert_eq!(
        run(json!({"title":"t","body":"fail"})).unwrap_err(),
        (
            "INVALID_REQUEST".to_string(),
            "Error: NOTIFICATIONS_UNAVAILABLE: Cannot connect to dbus".to_string()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_notify_send_the_command_is_not_declared() {
    let dir = scratch("absent");
    let ctx = context(format!("{}", dir.display()), &dir);
    let (_, commands) = CommandSurface::new(ctx.node.clone()).advertised();
    assert!(!commands.contains(&"system.notify".to_string()));
    assert_eq!(
        dispatch(&ctx, "system.notify", Some(r#"{"title":"t"}"#))
            .unwrap_err()
            .message,
        "command not supported"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
