//! Resolving the exec policy for one run (protocol §6.2): the approvals document's answer for an
//! agent, the node config's `tools.exec` floor, and the stricter of the two.
//!
//! * Per field (security, ask, askFallback): `agents[agent]` if it has a valid value; an invalid
//!   one falls straight to `defaults` (skipping `*`); else `agents["*"]`; else `defaults`; else
//!   the fallback (the config's value for security/ask, built-in `deny` for askFallback).
//! * `autoAllowSkills`: agent → `*` → defaults → false.
//! * Allowlist: `agents["*"].allowlist` then `agents[agent].allowlist`.
//! * Effective: `security = min(config, document)` (deny < allowlist < full) and
//!   `ask = max(config, document)` (off < on-miss < always).
//!
//! Config (`openclaw.json`): `tools.exec` and, per agent, `agents.list[{id}].tools.exec`, each
//! with `mode` (deny|allowlist|ask|auto|full) or `security`/`ask`, layered global then agent.
//! Out of the box (no config, no document) the policy is full/off with askFallback deny. An
//! invalid config value is an error (the run fails closed), never silently ignored.

use std::path::Path;

use serde_json::{Map, Value};

/// The three parts of the node config (`openclaw.json`) the exec policy reads, so that this
/// library does not depend on the application's config type, which converts into it (`impl
/// From` in `crate::config`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecConfig<'a> {
    /// The file the config was read from, named in error messages; `None` says `openclaw.json`.
    pub file: Option<&'a Path>,
    /// `tools.exec`.
    pub tools_exec: Option<&'a Value>,
    /// `agents.list`.
    pub agents_list: Option<&'a Value>,
    /// `nodeHost.execApprovals.remote` is read-only ([`super::lock`]).
    pub remote_readonly: bool,
}

/// `security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Security {
    Deny,
    Allowlist,
    Full,
}

impl Security {
    pub fn parse(value: &str) -> Option<Security> {
        match value {
            "deny" => Some(Security::Deny),
            "allowlist" => Some(Security::Allowlist),
            "full" => Some(Security::Full),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Deny => "deny",
            Security::Allowlist => "allowlist",
            Security::Full => "full",
        }
    }
}

/// `ask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ask {
    Off,
    OnMiss,
    Always,
}

impl Ask {
    pub fn parse(value: &str) -> Option<Ask> {
        match value {
            "off" => Some(Ask::Off),
            "on-miss" => Some(Ask::OnMiss),
            "always" => Some(Ask::Always),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Ask::Off => "off",
            Ask::OnMiss => "on-miss",
            Ask::Always => "always",
        }
    }
}

/// The config side of the policy (`tools.exec`), and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPolicy {
    pub security: Security,
    pub ask: Ask,
    /// `tools.exec.mode == "auto"`: the TS host's model-backed auto-review. This port does not
    /// review; the mode still resolves to allowlist/on-miss.
    pub auto_review: bool,
    pub strict_inline_eval: bool,
    /// Human-readable origin, e.g. `openclaw.json tools.exec.security`, or `built-in`.
    pub source: String,
    /// `safeBins` (agent wins over global); `None` means the default list.
    pub safe_bins: Option<Vec<String>>,
    pub safe_bin_trusted_dirs: Vec<String>,
}

fn mode_policy(mode: &str) -> Option<(Security, Ask, bool)> {
    match mode {
        "deny" => Some((Security::Deny, Ask::Off, false)),
        "allowlist" => Some((Security::Allowlist, Ask::Off, false)),
        "ask" => Some((Security::Allowlist, Ask::OnMiss, false)),
        "auto" => Some((Security::Allowlist, Ask::OnMiss, true)),
        "full" => Some((Security::Full, Ask::Off, false)),
        _ => None,
    }
}

fn agent_exec_config<'a>(
    config: &ExecConfig<'a>,
    agent_id: Option<&str>,
) -> Option<&'a Map<String, Value>> {
    let agent_id = agent_id?.trim().to_lowercase();
    let list = config.agents_list?.as_array()?;
    list.iter()
        .find(|entry| {
            entry
                .get("id")
                .and_then(Value::as_str)
                .map(|id| id.trim().to_lowercase())
                == Some(agent_id.clone())
        })
        .and_then(|entry| entry.get("tools")?.get("exec")?.as_object())
}

fn string_list(value: Option<&Value>) -> Option<Vec<String>> {
    value?.as_array().map(|items| {
        items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// `resolveNodeExecConfigPolicy`. `Err` names the bad config value.
pub fn config_policy<'a>(
    config: impl Into<ExecConfig<'a>>,
    agent_id: Option<&str>,
) -> Result<ConfigPolicy, String> {
    let config: ExecConfig<'a> = config.into();
    let file = config
        .file
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "openclaw.json".to_string());
    let mut policy = ConfigPolicy {
        security: Security::Full,
        ask: Ask::Off,
        auto_review: false,
        strict_inline_eval: false,
        source: super::BUILT_IN_SOURCE.to_string(),
        safe_bins: None,
        safe_bin_trusted_dirs: Vec::new(),
    };
    let global = config.tools_exec.and_then(Value::as_object);
    let agent = agent_exec_config(&config, agent_id);
    for (layer, label) in [
        (global, "tools.exec".to_string()),
        (
            agent,
            format!("agents.list[{}].tools.exec", agent_id.unwrap_or("")),
        ),
    ] {
        let Some(layer) = layer else { continue };
        if let Some(mode) = layer.get("mode") {
            let text = mode
                .as_str()
                .map(|m| m.trim().to_lowercase())
                .unwrap_or_default();
            let Some((security, ask, auto)) = mode_policy(&text) else {
                return Err(format!(
                    "{file}: {label}.mode must be one of deny, allowlist, ask, auto, full (got {mode})"
                ));
            };
            policy.security = security;
            policy.ask = ask;
            policy.auto_review = auto;
            policy.source = format!("{file} {label}.mode");
        } else if layer.contains_key("security") || layer.contains_key("ask") {
            if let Some(value) = layer.get("security") {
                let Some(security) = value.as_str().and_then(|s| Security::parse(s.trim())) else {
                    return Err(format!("{file}: {label}.security must be one of deny, allowlist, full (got {value})"));
                };
                policy.security = security;
            }
            if let Some(value) = layer.get("ask") {
                let Some(ask) = value.as_str().and_then(|s| Ask::parse(s.trim())) else {
                    return Err(format!(
                        "{file}: {label}.ask must be one of off, on-miss, always (got {value})"
                    ));
                };
                policy.ask = ask;
            }
            policy.auto_review = false;
            policy.source = format!("{file} {label}");
        }
        if layer.get("strictInlineEval").and_then(Value::as_bool) == Some(true) {
            policy.strict_inline_eval = true;
        }
        if let Some(bins) = string_list(layer.get("safeBins")) {
            policy.safe_bins = Some(bins);
        }
        if let Some(dirs) = string_list(layer.get("safeBinTrustedDirs")) {
            policy.safe_bin_trusted_dirs.extend(dirs);
        }
    }
    Ok(policy)
}

/// One allowlist entry as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowlistEntry {
    pub pattern: String,
    pub arg_pattern: Option<String>,
    pub allow_always: bool,
    pub id: Option<String>,
}

impl AllowlistEntry {
    /// `buildAllowlistEntryMatchKey`: entries are identified by (pattern, argPattern).
    pub fn match_key(&self) -> (String, Option<String>) {
        (self.pattern.clone(), self.arg_pattern.clone())
    }

    fn from_value(value: &Value) -> Option<AllowlistEntry> {
        let pattern = value.get("pattern")?.as_str()?.to_string();
        Some(AllowlistEntry {
            pattern,
            arg_pattern: value
                .get("argPattern")
                .and_then(Value::as_str)
                .map(str::to_string),
            allow_always: value.get("source").and_then(Value::as_str) == Some("allow-always"),
            id: value.get("id").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// The document's policy for one agent (`resolveExecApprovalsFromFile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentApprovals {
    pub security: Security,
    pub ask: Ask,
    pub ask_fallback: Security,
    pub auto_allow_skills: bool,
    pub allowlist: Vec<AllowlistEntry>,
    /// Where each of security/ask/askFallback came from (`defaults.security`, `agents.*.ask`, or
    /// `None` for the fallback).
    pub sources: [Option<String>; 3],
}

/// The resolved `defaults` with built-in fallbacks (`resolvedDefaults` in `get`).
pub fn resolved_defaults(doc: &Value) -> Value {
    let defaults = doc.get("defaults");
    let field = |key: &str| defaults.and_then(|d| d.get(key)).and_then(Value::as_str);
    serde_json::json!({
        "security": field("security").and_then(Security::parse).unwrap_or(Security::Full).as_str(),
        "ask": field("ask").and_then(Ask::parse).unwrap_or(Ask::Off).as_str(),
        "askFallback": field("askFallback").and_then(Security::parse).unwrap_or(Security::Deny).as_str(),
        "autoAllowSkills": defaults.and_then(|d| d.get("autoAllowSkills")).and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Resolves the document's policy for `agent_id` (`None` → the `default` key) with the given
/// fallbacks for security and ask.
pub fn agent_approvals(
    doc: &Value,
    agent_id: Option<&str>,
    fallback_security: Security,
    fallback_ask: Ask,
) -> AgentApprovals {
    let agent_key = agent_id.unwrap_or("default");
    let empty = Map::new();
    let agents = doc
        .get("agents")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let agent = agents
        .get(agent_key)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let wildcard = agents.get("*").and_then(Value::as_object).unwrap_or(&empty);
    let defaults = doc
        .get("defaults")
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    let resolve =
        |field: &str, parse: &dyn Fn(&str) -> bool, fallback: &str| -> (String, Option<String>) {
            let valid = |obj: &Map<String, Value>| {
                obj.get(field)
                    .and_then(Value::as_str)
                    .filter(|v| parse(v))
                    .map(str::to_string)
            };
            let default_field = match valid(defaults) {
                Some(value) => (value, Some(format!("defaults.{field}"))),
                None => (fallback.to_string(), None),
            };
            if agent.get(field).is_some_and(|v| !v.is_null()) {
                return match valid(agent) {
                    Some(value) => (value, Some(format!("agents.{agent_key}.{field}"))),
                    None => default_field,
                };
            }
            if wildcard.get(field).is_some_and(|v| !v.is_null()) {
                return match valid(wildcard) {
                    Some(value) => (value, Some(format!("agents.*.{field}"))),
                    None => default_field,
                };
            }
            default_field
        };
    let is_security = |v: &str| Security::parse(v).is_some();
    let is_ask = |v: &str| Ask::parse(v).is_some();
    // The fallbacks are first folded through `defaults` (resolvedDefaults).
    let (security, security_source) = resolve("security", &is_security, fallback_security.as_str());
    let (ask, ask_source) = resolve("ask", &is_ask, fallback_ask.as_str());
    let (ask_fallback, fallback_source) = resolve("askFallback", &is_security, "deny");
    let auto_allow_skills = agent
        .get("autoAllowSkills")
        .and_then(Value::as_bool)
        .or_else(|| wildcard.get("autoAllowSkills").and_then(Value::as_bool))
        .or_else(|| defaults.get("autoAllowSkills").and_then(Value::as_bool))
        .unwrap_or(false);
    let mut allowlist = Vec::new();
    for list in [wildcard.get("allowlist"), agent.get("allowlist")] {
        if let Some(Value::Array(entries)) = list {
            allowlist.extend(entries.iter().filter_map(AllowlistEntry::from_value));
        }
    }
    AgentApprovals {
        security: Security::parse(&security).unwrap_or(Security::Deny),
        ask: Ask::parse(&ask).unwrap_or(Ask::Always),
        ask_fallback: Security::parse(&ask_fallback).unwrap_or(Security::Deny),
        auto_allow_skills,
        allowlist,
        sources: [security_source, ask_source, fallback_source],
    }
}

/// `policySnapshot` (protocol §5.2): the document's policy for an agent without ids or usage
/// metadata, rules de-duplicated and sorted by UTF-8 bytes of (pattern, argPattern, source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySnapshot {
    pub security: Security,
    pub ask: Ask,
    pub ask_fallback: Security,
    pub auto_allow_skills: bool,
    pub rules: Vec<(String, Option<String>, bool)>,
}

fn canonical_rules(
    mut rules: Vec<(String, Option<String>, bool)>,
) -> Vec<(String, Option<String>, bool)> {
    // Absent sorts before present; "allow-always" is the only source value.
    rules.sort_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then_with(|| {
                a.1.as_ref()
                    .map(|s| s.as_bytes())
                    .cmp(&b.1.as_ref().map(|s| s.as_bytes()))
            })
            .then_with(|| a.2.cmp(&b.2))
    });
    rules.dedup();
    rules
}

impl PolicySnapshot {
    /// `createExecApprovalPolicySnapshot` (document only, built-in fallbacks).
    pub fn of(doc: &Value, agent_id: Option<&str>) -> PolicySnapshot {
        let resolved = agent_approvals(doc, agent_id, Security::Full, Ask::Off);
        let rules = resolved
            .allowlist
            .iter()
            .map(|e| (e.pattern.clone(), e.arg_pattern.clone(), e.allow_always))
            .collect();
        PolicySnapshot {
            security: resolved.security,
            ask: resolved.ask,
            ask_fallback: resolved.ask_fallback,
            auto_allow_skills: resolved.auto_allow_skills,
            rules: canonical_rules(rules),
        }
    }

    /// `normalizeExecApprovalPolicySnapshot`: `None` for anything malformed.
    pub fn from_json(value: &Value) -> Option<PolicySnapshot> {
        let obj = value.as_object()?;
        let security = Security::parse(obj.get("security")?.as_str()?)?;
        let ask = Ask::parse(obj.get("ask")?.as_str()?)?;
        let ask_fallback = Security::parse(obj.get("askFallback")?.as_str()?)?;
        let auto_allow_skills = obj.get("autoAllowSkills")?.as_bool()?;
        let mut rules = Vec::new();
        for rule in obj.get("allowlistRules")?.as_array()? {
            let rule = rule.as_object()?;
            let pattern = rule.get("pattern")?.as_str()?.to_string();
            let arg_pattern = match rule.get("argPattern") {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return None,
            };
            let allow_always = match rule.get("source") {
                None => false,
                Some(Value::String(s)) if s == "allow-always" => true,
                Some(_) => return None,
            };
            rules.push((pattern, arg_pattern, allow_always));
        }
        Some(PolicySnapshot {
            security,
            ask,
            ask_fallback,
            auto_allow_skills,
            rules: canonical_rules(rules),
        })
    }

    pub fn to_json(&self) -> Value {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|(pattern, arg, always)| {
                let mut rule = Map::new();
                rule.insert("pattern".to_string(), Value::String(pattern.clone()));
                if let Some(arg) = arg {
                    rule.insert("argPattern".to_string(), Value::String(arg.clone()));
                }
                if *always {
                    rule.insert(
                        "source".to_string(),
                        Value::String("allow-always".to_string()),
                    );
                }
                Value::Object(rule)
            })
            .collect();
        serde_json::json!({
            "security": self.security.as_str(),
            "ask": self.ask.as_str(),
            "askFallback": self.ask_fallback.as_str(),
            "autoAllowSkills": self.auto_allow_skills,
            "allowlistRules": rules,
        })
    }

    /// `isExecApprovalPolicySnapshotCurrent`: same policy values, and every expected rule still
    /// present (a plain rule may since have been upgraded to `allow-always`).
    pub fn is_current(&self, current: &PolicySnapshot) -> bool {
        self.security == current.security
            && self.ask == current.ask
            && self.ask_fallback == current.ask_fallback
            && self.auto_allow_skills == current.auto_allow_skills
            && self.rules.iter().all(|rule| {
                current.rules.contains(rule)
                    || (!rule.2
                        && current
                            .rules
                            .contains(&(rule.0.clone(), rule.1.clone(), true)))
            })
    }
}

/// The policy a run is decided under.
#[derive(Debug, Clone)]
pub struct EffectivePolicy {
    pub security: Security,
    pub ask: Ask,
    pub approvals: AgentApprovals,
    pub config: ConfigPolicy,
    /// The approvals are locked against the gateway ([`super::lock`]): no gateway approval is
    /// honoured. Set from the config here; the system.run policy phase adds the lock file.
    pub remote_readonly: bool,
}

/// `resolveEffectiveSystemRunExecPolicy` over an already loaded document.
pub fn effective_policy<'a>(
    doc: &Value,
    config: impl Into<ExecConfig<'a>>,
    agent_id: Option<&str>,
) -> Result<EffectivePolicy, String> {
    let config: ExecConfig<'a> = config.into();
    let remote_readonly = config.remote_readonly;
    let config = config_policy(config, agent_id)?;
    let approvals = agent_approvals(doc, agent_id, config.security, config.ask);
    Ok(EffectivePolicy {
        security: config.security.min(approvals.security),
        ask: config.ask.max(approvals.ask),
        approvals,
        config,
        remote_readonly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::tests::exec_config;
    use serde_json::json;

    fn doc(value: Value) -> Value {
        super::super::document::normalize(&value).unwrap()
    }

    #[test]
    fn defaults_are_full_off_deny() {
        let policy =
            effective_policy(&doc(json!({"version": 1})), ExecConfig::default(), None).unwrap();
        assert_eq!(
            (policy.security, policy.ask, policy.approvals.ask_fallback),
            (Security::Full, Ask::Off, Security::Deny)
        );
    }

    #[test]
    fn field_resolution_order() {
        let d = doc(json!({"version": 1,
            "defaults": {"security": "allowlist", "ask": "on-miss"},
            "agents": {"*": {"security": "full", "ask": "always"}, "main": {"security": "deny"}}}));
        let main = agent_approvals(&d, Some("main"), Security::Full, Ask::Off);
        assert_eq!(main.security, Security::Deny);
        assert_eq!(main.ask, Ask::Always, "falls back to *");
        let other = agent_approvals(&d, Some("ops"), Security::Full, Ask::Off);
        assert_eq!(other.security, Security::Full);
        assert_eq!(other.sources[0].as_deref(), Some("agents.*.security"));
        // An invalid agent value (kept in a raw document) skips `*` and goes to defaults.
        let raw = json!({"version": 1, "defaults": {"security": "allowlist"},
            "agents": {"*": {"security": "full"}, "main": {"security": "bogus"}}});
        let main = agent_approvals(&raw, Some("main"), Security::Full, Ask::Off);
        assert_eq!(main.security, Security::Allowlist);
        // No agent id: only * and defaults (agents.default was folded into main).
        let none = agent_approvals(&d, None, Security::Full, Ask::Off);
        assert_eq!(none.security, Security::Full);
    }

    #[test]
    fn stricter_of_config_and_document() {
        let config_tree = json!({"tools": {"exec": {"security": "allowlist", "ask": "off"}}});
        let config = exec_config(&config_tree);
        let d = doc(json!({"version": 1, "defaults": {"security": "full", "ask": "on-miss"}}));
        let policy = effective_policy(&d, config, Some("main")).unwrap();
        assert_eq!(
            (policy.security, policy.ask),
            (Security::Allowlist, Ask::OnMiss)
        );
        // Without a document value, the config value is the fallback.
        let policy = effective_policy(&doc(json!({"version": 1})), config, None).unwrap();
        assert_eq!(
            (policy.security, policy.ask),
            (Security::Allowlist, Ask::Off)
        );
        let mode_tree = json!({"tools": {"exec": {"mode": "ask"}},
            "agents": {"list": [{"id": "ops", "tools": {"exec": {"mode": "deny"}}}]}});
        let mode = exec_config(&mode_tree);
        assert_eq!(config_policy(mode, Some("main")).unwrap().ask, Ask::OnMiss);
        assert_eq!(
            config_policy(mode, Some("ops")).unwrap().security,
            Security::Deny
        );
        let bad_tree = json!({"tools": {"exec": {"security": "sometimes"}}});
        assert!(config_policy(exec_config(&bad_tree), None)
            .unwrap_err()
            .contains("tools.exec.security"));
    }

    #[test]
    fn snapshot_round_trip_and_currency() {
        let d = doc(json!({"version": 1, "defaults": {"security": "allowlist"},
            "agents": {"main": {"allowlist": [{"pattern": "uname"}, {"pattern": "/usr/bin/echo"}, {"pattern": "uname"}]}}}));
        let snapshot = PolicySnapshot::of(&d, Some("main"));
        let json = snapshot.to_json();
        assert_eq!(
            json["allowlistRules"],
            json!([{"pattern": "/usr/bin/echo"}, {"pattern": "uname"}])
        );
        assert_eq!(json["ask"], "off");
        let back = PolicySnapshot::from_json(&json).unwrap();
        assert_eq!(back, snapshot);
        assert!(snapshot.is_current(&snapshot));
        let mut upgraded = snapshot.clone();
        upgraded.rules = vec![
            ("/usr/bin/echo".into(), None, true),
            ("uname".into(), None, false),
        ];
        assert!(snapshot.is_current(&upgraded));
        let mut removed = snapshot.clone();
        removed.rules.pop();
        assert!(!snapshot.is_current(&removed));
        assert!(PolicySnapshot::from_json(&json!({"security": "full"})).is_none());
    }

    #[test]
    fn exec_config_alone_is_enough() {
        let exec = json!({"security": "allowlist", "safeBins": ["wc"]});
        let agents = json!([{"id": "Ops", "tools": {"exec": {"ask": "always"}}}]);
        let config = ExecConfig {
            file: None,
            tools_exec: Some(&exec),
            agents_list: Some(&agents),
            ..ExecConfig::default()
        };
        let policy = config_policy(config, Some("ops")).unwrap();
        assert_eq!(policy.security, Security::Allowlist);
        assert_eq!(policy.ask, Ask::Always);
        assert_eq!(policy.source, "openclaw.json agents.list[ops].tools.exec");
        assert_eq!(policy.safe_bins, Some(vec!["wc".to_string()]));
        // The same answer as through the whole config tree.
        let whole_tree = json!({"tools": {"exec": exec}, "agents": {"list": agents}});
        assert_eq!(
            config_policy(exec_config(&whole_tree), Some("ops")).unwrap(),
            policy
        );
    }
}
