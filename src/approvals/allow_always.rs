//! Writing a run's consequences into the document (protocol §6.4 usage metadata, §6.7
//! allow-always), after re-checking that the policy the run was decided under is still the
//! current one.
//!
//! * allow-always: one entry per covered segment, `{id, pattern: <real path>, argPattern:
//!   "sha256:cwd-argv:v1:…", source: "allow-always", lastUsedAt}`, plus, when every segment is
//!   covered, the exact-command marker `{id, pattern: "=node-command:<16 hex>", source,
//!   lastUsedAt}`, appended to `agents[agentId].allowlist`. An older allow-always entry for the
//!   same path without a cwd-bound hash is replaced.
//! * Usage: each matched entry (in `*` and the agent's list) gets `lastUsedAt`,
//!   `lastUsedCommand` (omitted for hash-bound entries) and `lastResolvedPath` (the first
//!   segment's executable).
//!
//! Deviation: the TS host fails a run whose usage it cannot attribute to an agent (no
//! `agentId`); this port records usage under the `default` key instead. allow-always without an
//! agent id is still refused, as in the TS host.

use crate::clock::now_ms;

use serde_json::{Map, Value};

use super::document::{random_uuid, set_key};
use super::pattern::{is_cwd_bound_hash_pattern, is_generated_hash_pattern, node_command_marker};
use super::policy::{AllowlistEntry, PolicySnapshot};

/// What allow-always persists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowAlwaysGrant {
    pub patterns: Vec<(String, String)>,
    /// Set when the coverage was complete: adds the exact-command marker.
    pub command_text: Option<String>,
}

/// Everything a commit needs.
#[derive(Debug, Clone)]
pub struct Commit {
    pub agent_id: Option<String>,
    pub matches: Vec<AllowlistEntry>,
    pub command_text: String,
    pub resolved_path: Option<String>,
    pub grant: Option<AllowAlwaysGrant>,
    /// The document policy the decision was made under.
    pub expected: PolicySnapshot,
}

/// Why a commit was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// The policy changed since the decision: `exec approval changed before execution`.
    Changed,
    /// The grant cannot be stored: `approval state could not be persisted`.
    Unpersistable(String),
}

fn entry_key(entry: &Value) -> (Option<&str>, Option<&str>) {
    (
        entry.get("pattern").and_then(Value::as_str),
        entry.get("argPattern").and_then(Value::as_str),
    )
}

fn agent_list<'a>(doc: &'a mut Value, agent: &str) -> Option<&'a mut Vec<Value>> {
    let agents = doc.get_mut("agents")?.as_object_mut()?;
    let entry = agents
        .entry(agent.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    let obj = entry.as_object_mut()?;
    if !obj.get("allowlist").is_some_and(Value::is_array) {
        obj.insert("allowlist".to_string(), Value::Array(Vec::new()));
    }
    obj.get_mut("allowlist")?.as_array_mut()
}

/// `applyAllowlistEntryUpdate`. True when something changed.
fn upsert_allow_always(
    list: &mut Vec<Value>,
    pattern: &str,
    arg_pattern: Option<&str>,
    now: u64,
) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return false;
    }
    if let Some(existing) = list
        .iter_mut()
        .find(|e| entry_key(e) == (Some(pattern), arg_pattern))
    {
        if existing.get("source").and_then(Value::as_str) == Some("allow-always") {
            return false;
        }
        if let Value::Object(obj) = existing {
            set_key(obj, "source", Some(Value::String("allow-always".into())));
            set_key(obj, "lastUsedAt", Some(Value::from(now)));
        }
        return true;
    }
    let mut obj = Map::new();
    obj.insert("id".into(), Value::String(random_uuid()));
    obj.insert("pattern".into(), Value::String(pattern.to_string()));
    if let Some(arg) = arg_pattern {
        obj.insert("argPattern".into(), Value::String(arg.to_string()));
    }
    obj.insert("source".into(), Value::String("allow-always".into()));
    obj.insert("lastUsedAt".into(), Value::from(now));
    list.push(Value::Object(obj));
    true
}

/// Applies `commit` to `doc`. `Ok(None)` when nothing needs writing.
pub fn apply(doc: &Value, commit: &Commit) -> Result<Option<Value>, CommitError> {
    let current = PolicySnapshot::of(doc, commit.agent_id.as_deref());
    if !commit.expected.is_current(&current) {
        return Err(CommitError::Changed);
    }
    let mut next = doc.clone();
    let mut changed = false;
    let now = now_ms();
    if let Some(grant) = &commit.grant {
        let Some(agent) = commit.agent_id.as_deref() else {
            return Err(CommitError::Unpersistable(
                "allow-always needs an explicit agent id".into(),
            ));
        };
        let generated: Vec<&str> = grant.patterns.iter().map(|(p, _)| p.as_str()).collect();
        let list = agent_list(&mut next, agent)
            .ok_or_else(|| CommitError::Unpersistable("agents is not an object".into()))?;
        let before = list.len();
        list.retain(|entry| {
            let pattern = entry.get("pattern").and_then(Value::as_str).unwrap_or("");
            let always = entry.get("source").and_then(Value::as_str) == Some("allow-always");
            let arg = entry.get("argPattern").and_then(Value::as_str);
            !(generated.contains(&pattern) && always && !is_cwd_bound_hash_pattern(arg))
        });
        changed |= list.len() != before;
        for (pattern, arg) in &grant.patterns {
            changed |= upsert_allow_always(list, pattern, Some(arg), now);
        }
        if let Some(text) = grant
            .command_text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            changed |= upsert_allow_always(list, &node_command_marker(text), None, now);
        }
    }
    let keys: Vec<(String, Option<String>)> = commit
        .matches
        .iter()
        .map(AllowlistEntry::match_key)
        .collect();
    if !keys.is_empty() {
        let target = commit
            .agent_id
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let lists: Vec<String> = if target == "*" {
            vec![target]
        } else {
            vec!["*".to_string(), target]
        };
        if let Some(agents) = next.get_mut("agents").and_then(Value::as_object_mut) {
            for key in lists {
                let Some(Value::Array(list)) =
                    agents.get_mut(&key).and_then(|a| a.get_mut("allowlist"))
                else {
                    continue;
                };
                for entry in list.iter_mut() {
                    let (pattern, arg) = entry_key(entry);
                    let key = (pattern.unwrap_or("").to_string(), arg.map(str::to_string));
                    if !keys.contains(&key) {
                        continue;
                    }
                    let generated = is_generated_hash_pattern(arg);
                    let Value::Object(obj) = entry else { continue };
                    if !obj
                        .get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| !id.is_empty())
                    {
                        set_key(obj, "id", Some(Value::String(random_uuid())));
                    }
                    set_key(obj, "lastUsedAt", Some(Value::from(now)));
                    set_key(
                        obj,
                        "lastUsedCommand",
                        (!generated).then(|| Value::String(commit.command_text.clone())),
                    );
                    set_key(
                        obj,
                        "lastResolvedPath",
                        commit.resolved_path.clone().map(Value::String),
                    );
                    changed = true;
                }
            }
        }
    }
    Ok(changed.then_some(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: Value) -> Value {
        super::super::document::normalize(&value).unwrap()
    }

    #[test]
    fn allow_always_appends_hash_entry_and_marker() {
        let d = doc(
            json!({"version": 1, "defaults": {"security": "allowlist", "ask": "on-miss"}, "agents": {}}),
        );
        let hash =
            "sha256:cwd-argv:v1:f51b9bb536bd638ffab79981a615f5cc5d1a8ffe6f7f1e54dc8b3af6070c419e";
        let commit = Commit {
            agent_id: Some("main".into()),
            matches: vec![],
            command_text: "/usr/bin/uname -s".into(),
            resolved_path: Some("/usr/bin/uname".into()),
            grant: Some(AllowAlwaysGrant {
                patterns: vec![("/usr/bin/uname".into(), hash.into())],
                command_text: Some("/usr/bin/uname -s".into()),
            }),
            expected: PolicySnapshot::of(&d, Some("main")),
        };
        let next = apply(&d, &commit).unwrap().unwrap();
        let list = next["agents"]["main"]["allowlist"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["pattern"], "/usr/bin/uname");
        assert_eq!(list[0]["argPattern"], hash);
        assert_eq!(list[0]["source"], "allow-always");
        assert!(list[0]["lastUsedAt"].is_u64());
        assert_eq!(list[1]["pattern"], "=node-command:09cb476c277ff1b4");
        assert!(list[1].get("argPattern").is_none());
        // Applying the same grant again changes nothing.
        let again = Commit {
            expected: PolicySnapshot::of(&next, Some("main")),
            ..commit.clone()
        };
        assert!(apply(&next, &again).unwrap().is_none());
        // Without an agent id the grant cannot be stored.
        let anonymous = Commit {
            agent_id: None,
            expected: PolicySnapshot::of(&d, None),
            ..commit
        };
        assert!(matches!(
            apply(&d, &anonymous),
            Err(CommitError::Unpersistable(_))
        ));
    }

    #[test]
    fn usage_metadata_and_policy_recheck() {
        let d = doc(json!({"version": 1, "defaults": {"security": "allowlist"},
            "agents": {"main": {"allowlist": [{"pattern": "/usr/bin/echo", "id": "e1"}, {"pattern": "uname", "id": "u1"}]}}}));
        let matched = AllowlistEntry {
            pattern: "/usr/bin/echo".into(),
            arg_pattern: None,
            allow_always: false,
            id: Some("e1".into()),
        };
        let commit = Commit {
            agent_id: Some("main".into()),
            matches: vec![matched],
            command_text: "sh -c \"echo a && uname\"".into(),
            resolved_path: Some("/usr/bin/echo".into()),
            grant: None,
            expected: PolicySnapshot::of(&d, Some("main")),
        };
        let next = apply(&d, &commit).unwrap().unwrap();
        let echo = &next["agents"]["main"]["allowlist"][0];
        assert_eq!(echo["lastUsedCommand"], "sh -c \"echo a && uname\"");
        assert_eq!(echo["lastResolvedPath"], "/usr/bin/echo");
        let keys: Vec<&String> = echo.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "pattern",
                "id",
                "lastUsedAt",
                "lastUsedCommand",
                "lastResolvedPath"
            ]
        );
        assert!(next["agents"]["main"]["allowlist"][1]
            .get("lastUsedAt")
            .is_none());
        // The policy changed under the run: refused.
        let mut changed = d.clone();
        changed["defaults"]["security"] = json!("deny");
        assert_eq!(apply(&changed, &commit), Err(CommitError::Changed));
        let mut removed = d.clone();
        removed["agents"]["main"]["allowlist"]
            .as_array_mut()
            .unwrap()
            .remove(0);
        assert_eq!(apply(&removed, &commit), Err(CommitError::Changed));
    }
}
