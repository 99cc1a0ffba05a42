//! The argv analyses behind `system.run` and `system.run.prepare`: the `rawCommand` check,
//! dispatch-wrapper and shell-wrapper unwrapping, inline-eval detection, env preludes, and
//! the prepared plan. Input: argv words separated by NUL; an optional rawCommand after `\0\0`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_node::approvals::{argv, command, decision, prepare};
use openclaw_node_fuzz::{fuzz_path_env, nul_words};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (argv_text, raw) = match text.split_once("\0\0") {
        Some((argv, raw)) => (argv, Some(raw)),
        None => (text, None),
    };
    let argv = nul_words(argv_text);

    let _ = argv::format_exec_command(&argv);
    let _ = argv::unwrap_dispatch_wrappers(&argv);
    let _ = argv::unwrap_dispatch_wrapper(&argv);
    let _ = argv::dispatch_trust_plan(&argv, 8);
    let _ = argv::wrapper_trust_plan(&argv);
    let _ = argv::env_assignment_keys_from_dispatch_wrappers(&argv);
    let _ = argv::has_dispatch_cwd_option(&argv);
    let _ = argv::unwrap_shell_multiplexer(&argv);
    let _ = argv::posix_inline_match(&argv);
    let _ = argv::extract_shell_wrapper_command(&argv, raw);
    let _ = argv::bindable_shell_wrapper_inline_command(&argv, raw);
    let _ = argv::shell_wrapper_transport(&argv);
    let _ = argv::is_shell_wrapper_invocation(&argv);
    let _ = argv::has_env_manipulation_before_shell_wrapper(&argv);
    let _ = argv::is_blocked_shell_wrapper_command(&argv, raw);
    let _ = argv::has_trailing_positional_argv_after_inline_command(&argv);
    let _ = argv::parse_env_prelude(&argv, 0);
    let _ = decision::detect_inline_eval(&argv).map(|hit| hit.describe());
    let _ = decision::is_read_only_suppression_inspection(&argv);
    let _ = decision::mentions_security_audit_suppressions(argv_text);
    for word in argv.iter().take(4) {
        let _ = argv::normalize_executable_token(word);
        let _ = argv::split_inline_option(word);
        let _ = argv::advance_posix_option_scan(word);
        let _ = prepare::is_interpreter_pattern(word);
    }

    if let Ok(request) = command::resolve_command_request(argv.clone(), raw) {
        assert_eq!(request.argv, argv);
        assert_eq!(request.command_text, argv::format_exec_command(&argv));
    }

    // The plan prepare would offer, bound and unbound; a plan reads back from its JSON.
    let mut params = json!({"command": argv, "cwd": "/tmp"});
    if let Some(raw) = raw {
        params["rawCommand"] = Value::String(raw.to_string());
    }
    for bind in [false, true] {
        if let Ok(plan) = prepare::build_plan(&params, bind, &fuzz_path_env(), false) {
            let json = plan.to_json();
            let back = prepare::RunPlan::from_json(&json).expect("a plan does not read back");
            assert_eq!(back.to_json(), json, "plan JSON round trip");
        }
    }
});
