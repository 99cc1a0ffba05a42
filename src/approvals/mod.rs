//! Exec approvals: the local policy document and the decision for each run.
//!
//! The node decides every `system.run` itself, whatever the gateway asks: the gateway can only
//! relay an operator's approval (`approved`, `approvalDecision`) bound to a prepared plan, and
//! the node still refuses when its own policy says `deny`. Nothing here ever prompts; a run
//! that needs a human is denied with `approval-required` and the gateway asks.
//!
//! Module map:
//! - [`document`]: the JSON document — validation, normalisation, serialisation, hash.
//! - [`store`]: the file on disk — locked, hash-checked, atomic writes ([`ApprovalsStore`]).
//! - [`policy`]: security/ask/askFallback for an agent, the config floor, policy snapshots.
//! - [`command`]: display text, `rawCommand` check, dispatch and shell wrappers.
//! - [`shell`]: the fail-closed shell-payload analysis for allowlist mode.
//! - [`resolve`]: which file a command word names.
//! - [`pattern`], [`regex`]: globs, argPatterns, generated hash patterns.
//! - [`allowlist`]: matching segments against entries and safe bins.
//! - [`decision`]: the allow/deny matrix and the checks around it.
//! - [`env`]: the child's environment.
//! - [`binding`]: cwd/executable/script binding of approvals and their re-checks.
//! - [`prepare`]: `system.run.prepare` plans and allow-always coverage.
//! - [`allow_always`]: persisting allow-always grants and usage metadata.
//! - [`audit`]: the audit log.
//! - [`cli`]: `openclaw-node approvals ...`.

pub mod allow_always;
pub mod allowlist;
pub mod argv;
pub mod audit;
pub mod binding;
pub mod cli;
pub mod command;
pub mod decision;
pub mod document;
pub mod env;
pub mod pattern;
pub mod policy;
pub mod prepare;
pub mod regex;
pub mod resolve;
pub mod safe_bins;
pub mod shell;
pub mod shells;
pub mod store;

pub use store::{ApprovalsStore, Snapshot, StoreError};

use crate::config::NodeConfig;

/// One line for start-up: the effective default policy, where it comes from, and how to change
/// it. Never fails: a broken document or config is reported in the line itself.
pub fn startup_summary(approvals: &ApprovalsStore, config: &NodeConfig) -> String {
    let file = approvals.file_path();
    let snapshot = match approvals.read() {
        Ok(snapshot) => snapshot,
        Err(err) => return format!("exec policy: every command is refused: {err}"),
    };
    let effective = match policy::effective_policy(&snapshot.doc, config, None) {
        Ok(effective) => effective,
        Err(err) => return format!("exec policy: every command is refused: {err}"),
    };
    let sources = describe_sources(&effective, snapshot.exists);
    let agents = snapshot
        .doc
        .get("agents")
        .and_then(serde_json::Value::as_object)
        .map(|a| a.len())
        .unwrap_or(0);
    format!(
        "exec policy: security={} ask={} askFallback={} ({sources}; {} agent entr{}); change it with \
         `openclaw-node approvals` or in {}",
        effective.security.as_str(),
        effective.ask.as_str(),
        effective.approvals.ask_fallback.as_str(),
        agents,
        if agents == 1 { "y" } else { "ies" },
        file.display()
    )
}

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
