//! `system.execApprovals.get` / `system.execApprovals.set` (protocol §5.4): the gateway's view of
//! the approvals document, with compare-and-swap writes.
//!
//! The reply is `{path, exists, file, hash}` (+ `resolvedDefaults` on request). `file` is the
//! normalised document with the socket token removed; `hash` is the SHA-256 of the exact stored
//! text, so it changes with every write, including usage bookkeeping after allowlisted runs.

use serde_json::{Map, Value};

use super::InvokeContext;
use crate::approvals::document::{normalize, redact, with_socket};
use crate::approvals::policy::resolved_defaults;
use crate::approvals::{Snapshot, StoreError};
use crate::invoke::{optional_params, require_params, InvokeError, InvokeResult};

fn snapshot_payload(
    ctx: &InvokeContext,
    snapshot: &Snapshot,
    include_resolved_defaults: bool,
) -> String {
    let mut payload = Map::new();
    payload.insert(
        "path".into(),
        Value::String(
            ctx.node
                .approvals
                .file_path()
                .to_string_lossy()
                .into_owned(),
        ),
    );
    payload.insert("exists".into(), Value::Bool(snapshot.exists));
    payload.insert("file".into(), redact(&snapshot.doc));
    payload.insert("hash".into(), Value::String(snapshot.hash.clone()));
    if include_resolved_defaults {
        payload.insert("resolvedDefaults".into(), resolved_defaults(&snapshot.doc));
    }
    Value::Object(payload).to_string()
}

fn storage_error(err: StoreError) -> InvokeError {
    log::error!("{err}");
    InvokeError::unavailable(format!("Error: {err}"))
}

/// `system.execApprovals.get`: creates the document (with its socket path and token) when
/// missing, like the TS host, so `exists` is always true afterwards.
pub fn handle_get(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let params = optional_params(params_json)?;
    let include = match &params {
        Value::Object(map) => match map.get("includeResolvedDefaults") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bool_required()),
        },
        _ => return Err(bool_required()),
    };
    let snapshot = ctx.node.approvals.ensure().map_err(storage_error)?;
    Ok(snapshot_payload(ctx, &snapshot, include).into())
}

fn bool_required() -> InvokeError {
    InvokeError::invalid("Error: INVALID_REQUEST: includeResolvedDefaults must be boolean")
}

/// `system.execApprovals.set`: replaces the whole document, checked against `baseHash`.
///
/// Refused on a node whose approvals are locked against the gateway ([`crate::approvals::lock`]).
pub fn handle_set(ctx: &InvokeContext, params_json: Option<&str>) -> InvokeResult {
    let params = require_params(params_json)?;
    if crate::approvals::lock::is_locked(
        &ctx.node.paths,
        ctx.node.config.exec_approvals_remote_readonly(),
    ) {
        log::warn!("security: system.execApprovals.set refused: exec approvals are locked");
        return Err(InvokeError::invalid(crate::approvals::lock::MSG_SET_LOCKED));
    }
    let file = match params.get("file") {
        Some(file @ Value::Object(_)) => file,
        _ => {
            return Err(InvokeError::invalid(
                "Error: INVALID_REQUEST: exec approvals file required",
            ))
        }
    };
    let normalized = normalize(file).map_err(|detail| {
        InvokeError::invalid(format!(
            "Error: INVALID_REQUEST: exec approvals file invalid ({detail})"
        ))
    })?;
    let store = &ctx.node.approvals;
    let current = store.read().map_err(|err| match err {
        StoreError::Malformed { .. } => InvokeError::unavailable(format!(
            "Error: {err}. The stored file was not replaced: repair or remove it on the node, then retry"
        )),
        other => storage_error(other),
    })?;
    let base_hash = params
        .get("baseHash")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if current.exists {
        if base_hash.is_empty() {
            return Err(InvokeError::invalid(
                "Error: INVALID_REQUEST: exec approvals base hash required; reload and retry",
            ));
        }
        if base_hash != current.hash {
            return Err(InvokeError::invalid(
                "Error: INVALID_REQUEST: exec approvals changed; reload and retry",
            ));
        }
    } else if !base_hash.is_empty() && base_hash != current.hash {
        return Err(InvokeError::invalid(
            "Error: INVALID_REQUEST: exec approvals changed; reload and retry",
        ));
    }
    let default_socket = store.default_socket_path();
    let next = store
        .update::<StoreError>(Some(&current.hash), |snapshot| {
            Ok(Some(with_socket(
                &normalized,
                Some(&snapshot.doc),
                &default_socket,
            )))
        })
        .map_err(storage_error)?;
    match next {
        Some(snapshot) => Ok(snapshot_payload(ctx, &snapshot, false).into()),
        None => Err(InvokeError::invalid(
            "INVALID_REQUEST: exec approvals changed; reload and retry",
        )),
    }
}

// Built on system_run's POSIX test support.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::commands::system_run::tests::support::{context, Recorder};
    use serde_json::json;

    fn parse(result: InvokeResult) -> Value {
        serde_json::from_str(&result.unwrap()).unwrap()
    }

    #[test]
    fn get_creates_and_redacts() {
        let (ctx, _events, dir) = context("approvals-get", json!({}));
        let first = parse(handle_get(&ctx, None));
        assert_eq!(first["exists"], true);
        let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["path", "exists", "file", "hash"]);
        assert_eq!(
            first["file"],
            json!({"version": 1, "socket": {"path": dir.join("exec-approvals.sock").to_string_lossy()}, "defaults": {}, "agents": {}})
        );
        let stored = std::fs::read_to_string(dir.join("exec-approvals.json")).unwrap();
        assert!(stored.contains("\"token\""), "the token is stored");
        assert_eq!(
            first["hash"],
            crate::digest::sha256_hex(stored.as_bytes())
        );
        let with_defaults = parse(handle_get(&ctx, Some("{\"includeResolvedDefaults\":true}")));
        assert_eq!(
            with_defaults["resolvedDefaults"],
            json!({"security": "full", "ask": "off", "askFallback": "deny", "autoAllowSkills": false})
        );
        assert_eq!(with_defaults["hash"], first["hash"]);
        for bad in ["{\"includeResolvedDefaults\":1}", "[]", "null"] {
            assert_eq!(
                handle_get(&ctx, Some(bad)).unwrap_err().message,
                "Error: INVALID_REQUEST: includeResolvedDefaults must be boolean"
            );
        }
        assert_eq!(
            handle_get(&ctx, Some("{x")).unwrap_err().message,
            "Error: INVALID_REQUEST: paramsJSON malformed JSON"
        );
    }

    #[test]
    fn a_locked_node_refuses_set_and_keeps_its_document() {
        for (name, config, by_file) in [
            (
                "approvals-set-locked-config",
                json!({"nodeHost": {"execApprovals": {"remote": "readonly"}}}),
                false,
            ),
            ("approvals-set-locked-file", json!({}), true),
        ] {
            let (ctx, _events, _dir) = context(name, config);
            let before = parse(handle_get(&ctx, None));
            if by_file {
                crate::approvals::lock::lock(&ctx.node.paths).unwrap();
            }
            let widened = json!({"file": {"version": 1, "defaults": {"security": "full"}}, "baseHash": before["hash"]});
            let err = handle_set(&ctx, Some(&widened.to_string())).unwrap_err();
            assert_eq!(err.code, "INVALID_REQUEST");
            assert_eq!(err.message, crate::approvals::lock::MSG_SET_LOCKED);
            assert_eq!(parse(handle_get(&ctx, None))["hash"], before["hash"]);
            if by_file {
                crate::approvals::lock::unlock(&ctx.node.paths).unwrap();
                assert!(handle_set(&ctx, Some(&widened.to_string())).is_ok());
            }
        }
    }

    #[test]
    fn set_cas_rules_and_exact_strings() {
        let (ctx, _events, dir) = context("approvals-set", json!({}));
        let missing = format!("missing:{}", crate::digest::sha256_hex(b""));
        // No document yet: baseHash optional, but must be the missing hash when given.
        assert_eq!(
            handle_set(
                &ctx,
                Some(&json!({"file": {"version": 1}, "baseHash": "stale"}).to_string())
            )
            .unwrap_err()
            .message,
            "Error: INVALID_REQUEST: exec approvals changed; reload and retry"
        );
        let created = parse(handle_set(
            &ctx,
            Some(&json!({"file": {"version": 1}, "baseHash": missing}).to_string()),
        ));
        assert_eq!(created["exists"], true);
        let hash = created["hash"].as_str().unwrap().to_string();
        assert_eq!(
            handle_set(&ctx, Some(&json!({"file": {"version": 1}}).to_string()))
                .unwrap_err()
                .message,
            "Error: INVALID_REQUEST: exec approvals base hash required; reload and retry"
        );
        assert_eq!(
            handle_set(
                &ctx,
                Some(&json!({"file": {"version": 1}, "baseHash": "stale"}).to_string())
            )
            .unwrap_err()
            .message,
            "Error: INVALID_REQUEST: exec approvals changed; reload and retry"
        );
        assert_eq!(
            handle_set(&ctx, Some("{}")).unwrap_err().message,
            "Error: INVALID_REQUEST: exec approvals file required"
        );
        assert_eq!(
            handle_set(&ctx, None).unwrap_err().message,
            "Error: INVALID_REQUEST: paramsJSON required"
        );
        let token_before = std::fs::read_to_string(dir.join("exec-approvals.json")).unwrap();
        let next = parse(handle_set(
            &ctx,
            Some(&json!({"file": {"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss", "askFallback": "deny"},
                "agents": {"main": {"allowlist": [{"pattern": "/usr/bin/echo"}, "uname"]}}}, "baseHash": hash}).to_string()),
        ));
        assert_ne!(next["hash"], created["hash"]);
        assert_eq!(
            next["file"]["defaults"],
            json!({"security": "allowlist", "ask": "on-miss", "askFallback": "deny"})
        );
        let list = next["file"]["agents"]["main"]["allowlist"]
            .as_array()
            .unwrap();
        assert_eq!(list[1]["pattern"], "uname");
        assert_eq!(list[0]["id"].as_str().unwrap().len(), 36);
        assert!(next["file"]["socket"].get("token").is_none());
        let stored = std::fs::read_to_string(dir.join("exec-approvals.json")).unwrap();
        let token =
            |text: &str| serde_json::from_str::<Value>(text).unwrap()["socket"]["token"].clone();
        assert_eq!(
            token(&stored),
            token(&token_before),
            "the socket token is kept"
        );
        // Invalid policy values are refused before anything is written.
        let bad =
            json!({"file": {"version": 1, "agents": {"main": "x"}}, "baseHash": next["hash"]});
        assert!(handle_set(&ctx, Some(&bad.to_string()))
            .unwrap_err()
            .message
            .contains("agents.main"));
    }

    #[test]
    fn malformed_file_is_never_overwritten() {
        let (ctx, _events, dir) = context("approvals-malformed", json!({}));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("exec-approvals.json"), "{\"version\": 2}").unwrap();
        let err = handle_get(&ctx, None).unwrap_err();
        assert_eq!(err.code, "UNAVAILABLE");
        assert!(err.message.contains("exec-approvals.json"));
        let err = handle_set(
            &ctx,
            Some(&json!({"file": {"version": 1}, "baseHash": "x"}).to_string()),
        )
        .unwrap_err();
        assert!(err.message.contains("not replaced"), "{}", err.message);
        assert_eq!(
            std::fs::read_to_string(dir.join("exec-approvals.json")).unwrap(),
            "{\"version\": 2}"
        );
        let _unused: Option<Recorder> = None;
    }
}
