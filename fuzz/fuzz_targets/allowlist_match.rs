//! Allowlist matching: entries and a command from fuzz input. Input: the entries, one per line
//! (`pattern` or `pattern<TAB>argPattern`, a leading `!` marks an allow-always entry), then
//! two NULs, then the argv with NUL between words. The argv is matched directly (exact) and,
//! as one word, as a shell payload; the glob and argPattern matchers are also checked alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openclaw_node::approvals::allowlist;
use openclaw_node::approvals::pattern;
use openclaw_node::approvals::policy::AllowlistEntry;
use openclaw_node::approvals::regex::Regex;
use openclaw_node::approvals::resolve::{self, ResolveContext, Segment};
use openclaw_node::approvals::safe_bins::SafeBins;
use openclaw_node::approvals::shell;
use openclaw_node_fuzz::{fuzz_path_env, nul_words};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (entries_text, argv_text) = text.split_once("\0\0").unwrap_or((text, ""));
    let entries: Vec<AllowlistEntry> = entries_text
        .lines()
        .take(16)
        .map(|line| {
            let (allow_always, line) = match line.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (pattern, arg_pattern) = match line.split_once('\t') {
                Some((p, a)) => (p.to_string(), Some(a.to_string())),
                None => (line.to_string(), None),
            };
            AllowlistEntry {
                pattern,
                arg_pattern,
                allow_always,
                id: None,
            }
        })
        .collect();
    let argv = nul_words(argv_text);
    let ctx = ResolveContext {
        cwd: "/tmp".into(),
        path_env: fuzz_path_env(),
        home: Some("/home/fuzz".into()),
        ..Default::default()
    };
    let safe_bins = SafeBins::new(None, &[]);

    for entry in &entries {
        let trimmed = entry.pattern.trim();
        if !trimmed.is_empty()
            && trimmed == entry.pattern
            && !trimmed.contains(['*', '?', '~', '\\'])
        {
            assert!(
                pattern::glob_matches(trimmed, trimmed, None),
                "a literal pattern does not match itself"
            );
        }
        let _ = pattern::glob_matches(&entry.pattern, argv_text, Some("/home/fuzz"));
        if let Some(arg) = &entry.arg_pattern {
            let _ = pattern::arg_pattern_matches(arg, &argv);
            if let Ok(regex) = Regex::new(arg) {
                let _ = regex.test(argv_text);
            }
        }
    }

    let resolution = resolve::resolve_executable(&argv[0], &ctx);
    let matched =
        allowlist::match_allowlist(&entries, Some(&resolution), Some(&argv), "/tmp", ctx.path_rules());
    if let Some(entry) = matched {
        assert!(entries.contains(entry));
    }

    if let Some(segment) = Segment::from_argv(&argv, &ctx) {
        let verdict = allowlist::evaluate_segment(&segment, &entries, &safe_bins, &ctx);
        if let Some(entry) = &verdict.entry {
            assert!(
                entries.contains(entry),
                "a verdict names an entry not in the list"
            );
        }
        let _ = segment.planned_argv();
    }
    if let Ok(segments) = shell::analyze_payload(argv_text) {
        let segments: Vec<Segment> = segments
            .iter()
            .map(|s| Segment::from_shell(s, &ctx))
            .collect();
        for segment in resolve::flatten_nested_shells(segments, &ctx, 0) {
            let _ = allowlist::evaluate_segment(&segment, &entries, &safe_bins, &ctx);
        }
    }
});
