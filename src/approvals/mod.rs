//! Exec approvals: the local policy document and the decision for each run.
//!
//! The node decides every `system.run` itself, whatever the gateway asks: the gateway can only
//! relay an operator's approval (`approved`, `approvalDecision`) bound to a prepared plan, and
//! the node still refuses when its own policy says `deny`. Nothing here ever prompts; a run
//! that needs a human is denied with `approval-required` and the gateway asks.
//!
//! A `system.run` is analysed in stages, each a function from one value to the next, each in
//! its own file: [`command::resolve_command_request`] (a checked request) →
//! [`resolve::resolve_request`] (resolved segments) → [`allowlist::match_segments`] (matches) →
//! [`decision::decide`] (a decision) → [`binding::bind`] (a bound plan).
//!
//! Module map:
//! - [`document`]: the JSON document — validation, normalisation, serialisation, hash.
//! - [`store`]: the file on disk — locked, hash-checked, atomic writes ([`ApprovalsStore`]).
//! - [`policy`]: security/ask/askFallback for an agent, the config floor, policy snapshots.
//! - [`command`]: the request: argv, `rawCommand` and its check (the parse stage).
//! - [`argv`]: command words: tokens and display text, dispatch wrappers (`env`, `nice`,
//!   `timeout`, ...), unwrapping them, and a shell's payload or script operand.
//! - [`shells`]: the one table of shell names and what each can do.
//! - [`shell`]: the fail-closed shell-payload analysis for allowlist mode. [`shell_trace`]
//!   (tests and fuzzing only): the analysis checked against what `bash -x` really runs.
//! - [`resolve`]: which file a command word names; the resolve stage.
//! - [`pattern`], [`regex`]: globs, argPatterns, generated hash patterns.
//! - [`allowlist`]: matching segments against entries; the match stage. [`safe_bins`]: the
//!   stdin-only tools allowed without an entry.
//! - [`decision`]: the allow/deny matrix and the checks around it; the decide stage.
//! - [`env`]: the child's environment.
//! - [`binding`]: cwd/executable/script binding of approvals and their re-checks; the bind stage.
//! - [`prepare`]: `system.run.prepare` plans and allow-always coverage.
//! - [`allow_always`]: persisting allow-always grants and usage metadata.
//! - [`audit`]: the audit log.
//! - [`lock`]: the remote-readonly lock (only a local admin widens what runs).

pub mod allow_always;
pub mod allowlist;
pub mod argv;
pub mod audit;
pub mod binding;
pub mod command;
pub mod decision;
pub mod document;
pub mod env;
pub mod lock;
pub mod pattern;
pub mod policy;
pub mod prepare;
pub mod regex;
pub mod resolve;
pub mod safe_bins;
pub mod shell;
#[cfg(any(test, feature = "internals"))]
pub mod shell_trace;
pub mod shells;
pub mod store;

pub use store::{ApprovalsStore, Snapshot, StoreError};

use policy::ExecConfig;

/// What `run` says about the exec policy at start-up: one line, at a level that matches what
/// it means for the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyNotice {
    pub level: log::Level,
    pub message: String,
}

/// The effective default policy, where it comes from, and how to change it. Never fails: a
/// broken document or config is reported in the notice itself, at ERROR, because every run is
/// then denied. `security=full` that nobody chose (no document value, no config value) is a
/// WARN: every command the gateway sends runs.
pub fn startup_notice(approvals: &ApprovalsStore, config: ExecConfig<'_>) -> PolicyNotice {
    let file = approvals.file_path();
    let source = approvals.source();
    let broken = |err: &dyn std::fmt::Display| PolicyNotice {
        level: log::Level::Error,
        message: format!(
            "exec policy: {source} cannot be used ({err}); every system.run is denied until it is \
             fixed. `openclaw-node approvals show` shows the problem"
        ),
    };
    let snapshot = match approvals.read() {
        Ok(snapshot) => snapshot,
        Err(err) => return broken(&err),
    };
    let effective = match policy::effective_policy(&snapshot.doc, config, None) {
        Ok(effective) => effective,
        Err(err) => return broken(&err),
    };
    let sources = describe_sources(&effective, snapshot.exists);
    let agents = snapshot
        .doc
        .get("agents")
        .and_then(serde_json::Value::as_object)
        .map(|a| a.len())
        .unwrap_or(0);
    let origin = if snapshot.exists {
        source.clone()
    } else {
        format!("built-in defaults: no document in {source}")
    };
    let summary = format!(
        "exec policy: security={} ask={} askFallback={} ({sources}; {} agent entr{}; from {origin})",
        effective.security.as_str(),
        effective.ask.as_str(),
        effective.approvals.ask_fallback.as_str(),
        agents,
        if agents == 1 { "y" } else { "ies" },
    );
    let chosen_by_nobody =
        effective.approvals.sources[0].is_none() && effective.config.source == BUILT_IN_SOURCE;
    if effective.security == policy::Security::Full && chosen_by_nobody {
        PolicyNotice {
            level: log::Level::Warn,
            message: format!(
                "{summary}: every command the gateway sends runs on this machine. To run only \
                 what you allow: `openclaw-node approvals set --security allowlist` and \
                 `openclaw-node approvals allow '/usr/bin/git'`"
            ),
        }
    } else {
        PolicyNotice {
            level: log::Level::Info,
            message: format!(
                "{summary}; change it with `openclaw-node approvals` or in {}",
                file.display()
            ),
        }
    }
}

/// [`policy::ConfigPolicy::source`] when no config value set the policy.
pub(crate) const BUILT_IN_SOURCE: &str = "built-in default";

/// Where the effective security and ask came from, in words.
pub fn describe_sources(effective: &policy::EffectivePolicy, document_exists: bool) -> String {
    let doc_label = |source: &Option<String>| match source {
        Some(field) => format!("exec-approvals.json {field}"),
        None if document_exists => "exec-approvals.json (no value)".to_string(),
        None => "no exec-approvals.json".to_string(),
    };
    let security_from = if effective.config.security < effective.approvals.security
        || effective.approvals.sources[0].is_none()
    {
        effective.config.source.clone()
    } else {
        doc_label(&effective.approvals.sources[0])
    };
    let ask_from = if effective.config.ask > effective.approvals.ask
        || effective.approvals.sources[1].is_none()
    {
        effective.config.source.clone()
    } else {
        doc_label(&effective.approvals.sources[1])
    };
    format!("security from {security_from}, ask from {ask_from}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::StatePaths;
    use serde_json::json;

    /// The exec config an `openclaw.json` tree gives.
    pub(crate) fn exec_config(tree: &serde_json::Value) -> ExecConfig<'_> {
        ExecConfig {
            file: None,
            tools_exec: tree.pointer("/tools/exec"),
            agents_list: tree.pointer("/agents/list"),
            remote_readonly: false,
        }
    }

    fn notice(name: &str, doc: Option<&str>, config: serde_json::Value) -> PolicyNotice {
        let dir = std::env::temp_dir().join(format!("oc-notice-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let paths = StatePaths::at(&dir).with_new_state(crate::paths::NewStateBackend::Json);
        if let Some(doc) = doc {
            std::fs::write(dir.join("exec-approvals.json"), doc).unwrap();
        }
        let store = ApprovalsStore::new(&paths);
        let notice = startup_notice(&store, exec_config(&config));
        let _ = std::fs::remove_dir_all(&dir);
        notice
    }

    #[test]
    fn full_that_nobody_chose_is_a_warning_with_the_way_out() {
        let n = notice("default", None, json!({}));
        assert_eq!(n.level, log::Level::Warn, "{}", n.message);
        assert!(n.message.contains("security=full"), "{}", n.message);
        assert!(
            n.message
                .contains("`openclaw-node approvals set --security allowlist`"),
            "{}",
            n.message
        );
    }

    #[test]
    fn a_chosen_policy_is_information() {
        let doc = r#"{"version":1,"defaults":{"security":"full"},"agents":{}}"#;
        let n = notice("chosen-full", Some(doc), json!({}));
        assert_eq!(n.level, log::Level::Info, "{}", n.message);
        let n = notice(
            "config-allowlist",
            None,
            json!({"tools":{"exec":{"security":"allowlist"}}}),
        );
        assert_eq!(n.level, log::Level::Info, "{}", n.message);
        assert!(n.message.contains("security=allowlist"), "{}", n.message);
    }

    #[test]
    fn a_broken_document_is_an_error_that_says_every_run_is_denied() {
        let n = notice("broken", Some("{not json"), json!({}));
        assert_eq!(n.level, log::Level::Error, "{}", n.message);
        assert!(n.message.contains("exec-approvals.json"), "{}", n.message);
        assert!(
            n.message.contains("every system.run is denied"),
            "{}",
            n.message
        );
    }
}
