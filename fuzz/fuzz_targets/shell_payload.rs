//! Shell-payload analysis (allowlist mode): any `sh -c` payload is split into simple commands
//! or refused; each segment then goes through command resolution, nested-shell flattening and
//! the allowlist evaluation with an empty allowlist.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_node::approvals::allowlist;
use openclaw_node::approvals::argv;
use openclaw_node::approvals::resolve::{self, ResolveContext, Segment};
use openclaw_node::approvals::safe_bins::SafeBins;
use openclaw_node::approvals::shell;
use openclaw_node_fuzz::fuzz_path_env;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = std::str::from_utf8(data) else {
        return;
    };
    let _ = argv::split_shell_args(payload);
    let Ok(segments) = shell::analyze_payload(payload) else {
        return;
    };
    // Characters the analysis promises to refuse wherever they are unquoted: a payload without
    // quotes, escapes or comments cannot hold one at all.
    if !payload.contains(['\'', '"', '\\', '#']) {
        assert!(
            !payload.contains(['\n', '\r', '\0', '`', '$', '<', '>', '(', ')']),
            "an unquoted control character passed: {payload:?}"
        );
    }
    let ctx = ResolveContext {
        cwd: "/tmp".into(),
        path_env: fuzz_path_env(),
        home: Some("/home/fuzz".into()),
        ..Default::default()
    };
    let safe_bins = SafeBins::new(None, &[]);
    let mut converted = Vec::new();
    for segment in &segments {
        assert!(!segment.argv.is_empty(), "an empty segment was accepted");
        assert!(
            payload.contains(segment.raw.as_str()),
            "a segment's raw text is not part of the payload"
        );
        let _ = shell::is_safe_builtin_segment(segment);
        converted.push(Segment::from_shell(segment, &ctx));
    }
    for segment in resolve::flatten_nested_shells(converted, &ctx, 0) {
        let _ = segment.planned_argv();
        let verdict = allowlist::evaluate_segment(&segment, &[], &safe_bins, &ctx);
        assert!(verdict.entry.is_none(), "an empty allowlist matched");
    }
});
