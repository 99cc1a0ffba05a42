//! `openclaw-node approvals ...`: the local admin's view of the exec approvals document.
//!
//! * `show [--agent ID]`: the effective policy for an agent (default: a request without an
//!   agent id), where each value comes from, and the allowlist that applies.
//! * `allow <pattern> [--agent ID] [--arg-pattern RE]`: adds an allowlist entry to
//!   `agents[ID]` (default `*`, which applies to every agent).
//! * `remove <pattern> [--agent ID]`: removes the entries with exactly that pattern.
//! * `check [--agent ID] [--cwd DIR] -- <argv...>`: would `system.run` run this now, and by
//!   which rule? When not, each segment's resolved executable, the segments that missed the
//!   allowlist, and the `approvals allow` lines that would let it run. Nothing is executed,
//!   sent or written. Exit status 0 when it would run, 1 when it would be denied.
//!
//! * `lock` / `unlock`: make the exec approvals read-only for the gateway, or writable again
//!   (see [`crate::approvals::lock`]). `show` says whether they are locked, and by what.
//!
//! Every command takes `--json`. Writes are atomic, mode 0600, and checked against the hash read
//! at the start, so a concurrent change (the running node recording usage, a gateway `set`) is
//! never overwritten: the command fails and asks to retry.

use std::process::ExitCode;
use std::sync::Arc;

use argh::FromArgs;
use serde_json::{json, Map, Value};

use crate::approvals::document::random_uuid;
use crate::approvals::policy::{effective_policy, Ask, EffectivePolicy, Security};
use crate::approvals::regex::Regex;
use crate::approvals::store::{ApprovalsStore, StoreError};
use crate::cancel::CancelToken;
use crate::commands::system_run::CheckReport;
use crate::commands::{InvokeContext, NodeRuntime};
use crate::config::NodeConfig;
use crate::invoke::NoEvents;
use crate::paths::StatePaths;
use crate::platform::search_path::effective_path_env;
use crate::CliError;

/// Show or edit the local exec approvals (show, allow, remove, check).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "approvals")]
pub struct ApprovalsArgs {
    #[argh(subcommand)]
    pub action: ApprovalsAction,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum ApprovalsAction {
    Show(ShowArgs),
    Set(SetArgs),
    Allow(AllowArgs),
    Remove(RemoveArgs),
    Check(CheckArgs),
    Lock(LockArgs),
    Unlock(UnlockArgs),
}

/// Make the exec approvals read-only for the gateway: it can no longer replace them, persist
/// allow-always grants, or approve a command past the allowlist. Only this machine's admin
/// widens what runs.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "lock")]
pub struct LockArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Remove the lock made by `approvals lock` (a lock set in openclaw.json stays).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "unlock")]
pub struct UnlockArgs {
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Print the effective exec policy and where it comes from.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
pub struct ShowArgs {
    /// the agent id to resolve the policy for (default: requests without an agent id)
    #[argh(option)]
    pub agent: Option<String>,
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Set the exec policy: security (deny, allowlist, full), ask, askFallback.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "set")]
pub struct SetArgs {
    /// deny (nothing runs), allowlist (only allowlisted executables), or full (everything)
    #[argh(option)]
    pub security: Option<String>,
    /// when to ask an operator: off, on-miss, or always
    #[argh(option)]
    pub ask: Option<String>,
    /// what an unanswered ask falls back to: deny, allowlist, or full
    #[argh(option)]
    pub ask_fallback: Option<String>,
    /// the agent whose policy to set (default: the defaults every agent inherits)
    #[argh(option)]
    pub agent: Option<String>,
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Add an allowlist pattern (a path glob like /usr/bin/git, or a bare name like rg).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "allow")]
pub struct AllowArgs {
    /// the pattern: a glob on the executable's real path (/usr/bin/*), or a bare name
    #[argh(positional)]
    pub pattern: String,
    /// the agent whose list gets the entry (default: *, every agent)
    #[argh(option)]
    pub agent: Option<String>,
    /// also require the arguments (joined by spaces) to match this regex, e.g. '^status( |$)'
    #[argh(option)]
    pub arg_pattern: Option<String>,
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Remove the allowlist entries with exactly this pattern.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "remove")]
pub struct RemoveArgs {
    /// the pattern, as shown by `approvals show`
    #[argh(positional)]
    pub pattern: String,
    /// the agent whose list holds the entry (default: *)
    #[argh(option)]
    pub agent: Option<String>,
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
}

/// Say whether system.run would run a command now, and by which rule (runs nothing).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "check")]
pub struct CheckArgs {
    /// the agent id the request would carry
    #[argh(option)]
    pub agent: Option<String>,
    /// the working directory the request would carry
    #[argh(option)]
    pub cwd: Option<String>,
    /// machine-readable output
    #[argh(switch)]
    pub json: bool,
    /// the command, after `--`
    #[argh(positional, greedy)]
    pub argv: Vec<String>,
}

/// `openclaw-node approvals`: dispatches to the subcommand.
pub fn main(args: &ApprovalsArgs) -> Result<ExitCode, CliError> {
    let paths = StatePaths::from_env().map_err(CliError::new)?;
    let config = NodeConfig::load(&paths.config_file())?;
    let store = ApprovalsStore::new(&paths);
    match &args.action {
        ApprovalsAction::Show(show_args) => show(&store, &config, &paths, show_args),
        ApprovalsAction::Set(set_args) => set(&store, &config, set_args),
        ApprovalsAction::Allow(allow_args) => allow(&store, allow_args),
        ApprovalsAction::Remove(remove_args) => remove(&store, remove_args),
        ApprovalsAction::Check(check_args) => check(paths, config, check_args),
        ApprovalsAction::Lock(lock_args) => lock(&paths, &config, lock_args.json),
        ApprovalsAction::Unlock(unlock_args) => unlock(&paths, &config, unlock_args.json),
    }
}

/// The lock state, for `show`, `lock` and `unlock`: `(locked, by file, by config)`.
fn lock_state(paths: &StatePaths, config: &NodeConfig) -> (bool, bool, bool) {
    let by_file = crate::approvals::lock::locked_by_file(paths);
    let by_config = config.exec_approvals_remote_readonly();
    (by_file || by_config, by_file, by_config)
}

fn print_lock(paths: &StatePaths, config: &NodeConfig, changed: bool, json_out: bool) {
    let (locked, by_file, by_config) = lock_state(paths, config);
    let file = crate::approvals::lock::lock_file(paths);
    if json_out {
        print_json(&json!({
            "locked": locked,
            "changed": changed,
            "lockFile": file.to_string_lossy(),
            "byLockFile": by_file,
            "byConfig": by_config,
        }));
        return;
    }
    let state = if locked {
        "exec approvals are read-only for the gateway"
    } else {
        "exec approvals are writable by the gateway"
    };
    let mut from = Vec::new();
    if by_file {
        from.push(format!("lock file {}", file.display()));
    }
    if by_config {
        from.push("openclaw.json nodeHost.execApprovals.remote".to_string());
    }
    if from.is_empty() {
        println!("{state}");
    } else {
        println!("{state} ({})", from.join(", "));
    }
}

/// `approvals lock`: creates the lock file. The running node reads it on every run and
/// every `system.execApprovals.set`, so no restart is needed.
fn lock(paths: &StatePaths, config: &NodeConfig, json_out: bool) -> Result<ExitCode, CliError> {
    let changed = crate::approvals::lock::lock(paths).map_err(|err| {
        CliError::new(format!(
            "cannot write {}: {err}",
            crate::approvals::lock::lock_file(paths).display()
        ))
    })?;
    print_lock(paths, config, changed, json_out);
    Ok(ExitCode::SUCCESS)
}

/// `approvals unlock`: removes the lock file. A lock in `openclaw.json` stays, and is named.
fn unlock(paths: &StatePaths, config: &NodeConfig, json_out: bool) -> Result<ExitCode, CliError> {
    let changed = crate::approvals::lock::unlock(paths).map_err(|err| {
        CliError::new(format!(
            "cannot remove {}: {err}",
            crate::approvals::lock::lock_file(paths).display()
        ))
    })?;
    print_lock(paths, config, changed, json_out);
    Ok(ExitCode::SUCCESS)
}

fn store_error(err: StoreError) -> CliError {
    CliError::new(err.to_string())
}

fn agent_key(agent: &Option<String>) -> Option<String> {
    agent
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn show(
    store: &ApprovalsStore,
    config: &NodeConfig,
    paths: &StatePaths,
    args: &ShowArgs,
) -> Result<ExitCode, CliError> {
    let (locked, _, _) = lock_state(paths, config);
    let snapshot = store.read().map_err(store_error)?;
    let agent = agent_key(&args.agent);
    let effective: EffectivePolicy =
        effective_policy(&snapshot.doc, config, agent.as_deref()).map_err(CliError::new)?;
    let sources = crate::approvals::describe_sources(&effective, snapshot.exists);
    let entries: Vec<Value> = effective
        .approvals
        .allowlist
        .iter()
        .map(|e| {
            let mut entry = Map::new();
            entry.insert("pattern".into(), json!(e.pattern));
            if let Some(arg) = &e.arg_pattern {
                entry.insert("argPattern".into(), json!(arg));
            }
            if e.allow_always {
                entry.insert("source".into(), json!("allow-always"));
            }
            if let Some(id) = &e.id {
                entry.insert("id".into(), json!(id));
            }
            Value::Object(entry)
        })
        .collect();
    let file = store.file_path();
    if args.json {
        print_json(&json!({
            "file": file.to_string_lossy(),
            "exists": snapshot.exists,
            "hash": snapshot.hash,
            "agentId": agent,
            "security": effective.security.as_str(),
            "ask": effective.ask.as_str(),
            "askFallback": effective.approvals.ask_fallback.as_str(),
            "autoAllowSkills": effective.approvals.auto_allow_skills,
            "sources": {
                "document": {
                    "security": effective.approvals.sources[0],
                    "ask": effective.approvals.sources[1],
                    "askFallback": effective.approvals.sources[2],
                },
                "config": {"security": effective.config.security.as_str(), "ask": effective.config.ask.as_str(), "from": effective.config.source},
            },
            "strictInlineEval": effective.config.strict_inline_eval,
            "remoteReadonly": locked,
            "allowlist": entries,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "agent:        {}",
        agent
            .as_deref()
            .unwrap_or("(none: only `*` and defaults apply)")
    );
    println!("security:     {}", effective.security.as_str());
    println!("ask:          {}", effective.ask.as_str());
    println!(
        "askFallback:  {}",
        effective.approvals.ask_fallback.as_str()
    );
    println!("from:         {sources}");
    println!(
        "config floor: security={} ask={} ({})",
        effective.config.security.as_str(),
        effective.config.ask.as_str(),
        effective.config.source
    );
    if effective.config.strict_inline_eval {
        println!("strictInlineEval: on (interpreter one-liners always need approval)");
    }
    println!(
        "gateway:      {}",
        if locked {
            "read-only: exec approvals are read-only for the gateway (`approvals unlock`)"
        } else {
            "may replace the approvals and approve misses (`approvals lock` stops that)"
        }
    );
    println!(
        "document:     {}{}",
        file.display(),
        if snapshot.exists {
            ""
        } else {
            " (not created yet)"
        }
    );
    if entries.is_empty() {
        println!("allowlist:    (empty)");
    } else {
        println!("allowlist:");
        for e in &effective.approvals.allowlist {
            let arg = e
                .arg_pattern
                .as_deref()
                .map(|a| format!("  args: {a}"))
                .unwrap_or_default();
            let always = if e.allow_always {
                "  (allow-always)"
            } else {
                ""
            };
            println!("  {}{arg}{always}", e.pattern);
        }
    }
    println!(
        "change it with `openclaw-node approvals allow|remove`, or edit {} (keep it valid JSON)",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `approvals set`: writes `defaults.<field>` (or `agents[ID].<field>`) for each value given.
fn set(store: &ApprovalsStore, config: &NodeConfig, args: &SetArgs) -> Result<ExitCode, CliError> {
    let mut fields: Vec<(&str, &'static str)> = Vec::new();
    if let Some(value) = &args.security {
        let parsed = Security::parse(value.trim()).ok_or_else(|| {
            CliError::new(format!(
                "--security {value:?} is not a policy; use deny, allowlist or full"
            ))
        })?;
        fields.push(("security", parsed.as_str()));
    }
    if let Some(value) = &args.ask {
        let parsed = Ask::parse(value.trim()).ok_or_else(|| {
            CliError::new(format!(
                "--ask {value:?} is not an ask mode; use off, on-miss or always"
            ))
        })?;
        fields.push(("ask", parsed.as_str()));
    }
    if let Some(value) = &args.ask_fallback {
        let parsed = Security::parse(value.trim()).ok_or_else(|| {
            CliError::new(format!(
                "--ask-fallback {value:?} is not a policy; use deny, allowlist or full"
            ))
        })?;
        fields.push(("askFallback", parsed.as_str()));
    }
    if fields.is_empty() {
        return Err(CliError::new(
            "nothing to set: give --security, --ask or --ask-fallback, e.g. \
             `openclaw-node approvals set --security allowlist`",
        ));
    }
    let agent = agent_key(&args.agent);
    let base = store.read().map_err(store_error)?;
    let result = store
        .update::<StoreError>(Some(&base.hash), |snapshot| {
            let mut doc = crate::approvals::store::ensure_socket_doc(store, &snapshot.doc);
            let Some(root) = doc.as_object_mut() else {
                return Ok(None);
            };
            let target = match &agent {
                None => root.entry("defaults").or_insert_with(|| json!({})),
                Some(agent) => {
                    let Some(agents) = root
                        .entry("agents")
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                    else {
                        return Ok(None);
                    };
                    agents.entry(agent.clone()).or_insert_with(|| json!({}))
                }
            };
            let Some(target) = target.as_object_mut() else {
                return Ok(None);
            };
            for (field, value) in &fields {
                target.insert((*field).to_string(), json!(value));
            }
            Ok(Some(doc))
        })
        .map_err(store_error)?;
    let Some(snapshot) = result else {
        return Err(CliError::new("the approvals document changed while it was being edited (the node may have recorded a run); run the command again"));
    };
    let effective =
        effective_policy(&snapshot.doc, config, agent.as_deref()).map_err(CliError::new)?;
    let scope = match &agent {
        None => "defaults".to_string(),
        Some(agent) => format!("agents[{agent:?}]"),
    };
    if args.json {
        let set: Map<String, Value> = fields
            .iter()
            .map(|(field, value)| ((*field).to_string(), json!(value)))
            .collect();
        print_json(&json!({
            "scope": scope,
            "set": set,
            "effective": {"security": effective.security.as_str(), "ask": effective.ask.as_str()},
            "hash": snapshot.hash,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    let written: Vec<String> = fields
        .iter()
        .map(|(field, value)| format!("{field}={value}"))
        .collect();
    println!(
        "set {} in {} of {}",
        written.join(" "),
        scope,
        store.file_path().display()
    );
    println!(
        "effective for {}: security={} ask={} (a running node applies it to the next system.run)",
        agent.as_deref().unwrap_or("requests without an agent id"),
        effective.security.as_str(),
        effective.ask.as_str()
    );
    if effective.security == Security::Allowlist && effective.approvals.allowlist.is_empty() {
        println!(
            "note: the allowlist is empty, so nothing runs yet; add entries with \
             `openclaw-node approvals allow '/usr/bin/git'`"
        );
    }
    if let Some(wanted) = args.security.as_deref().and_then(Security::parse) {
        if effective.security != wanted {
            println!(
                "note: the effective security is {} because {} sets a stricter floor",
                effective.security.as_str(),
                effective.config.source
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The pattern given to `allow` when it can be used: non-empty, and not a relative path (the
/// node matches patterns against resolved absolute paths, so `./x` or `bin/x` never match).
fn allow_pattern(raw: &str) -> Result<String, CliError> {
    let pattern = raw.trim().to_string();
    if pattern.is_empty() {
        return Err(CliError::new(
            "the pattern is empty; give a path glob (/usr/bin/git) or a bare name (rg)",
        ));
    }
    let relative = pattern.contains('/') && !pattern.starts_with(['/', '~', '*', '?']);
    if relative {
        let suggestion = std::fs::canonicalize(&pattern)
            .map(|path| {
                format!(
                    "; did you mean `openclaw-node approvals allow {}`?",
                    crate::shell_quote::if_needed(&path.to_string_lossy())
                )
            })
            .unwrap_or_default();
        return Err(CliError::new(format!(
            "{pattern:?} is a relative path, and the node matches patterns against absolute \
             resolved paths, so it could never match; give the absolute path{suggestion}"
        )));
    }
    Ok(pattern)
}

fn allow(store: &ApprovalsStore, args: &AllowArgs) -> Result<ExitCode, CliError> {
    let pattern = allow_pattern(&args.pattern)?;
    let arg_pattern = args
        .arg_pattern
        .as_deref()
        .map(str::to_string)
        .filter(|a| !a.is_empty());
    if let Some(arg) = &arg_pattern {
        if arg.starts_with(crate::approvals::pattern::CWD_BOUND_HASH_PREFIX)
            || arg.starts_with(crate::approvals::pattern::LEGACY_HASH_PREFIX)
        {
            return Err(CliError::new(
                "hash argPatterns are written by allow-always approvals, not by hand",
            ));
        }
        if let Err(unsupported) = Regex::new(arg) {
            return Err(CliError::new(format!(
                "--arg-pattern {arg:?} uses regex syntax this node does not evaluate ({}); such a pattern would never match. \
                 Use plain classes, groups, alternation and quantifiers",
                unsupported.0
            )));
        }
    }
    let agent = agent_key(&args.agent).unwrap_or_else(|| "*".to_string());
    let base = store.read().map_err(store_error)?;
    let mut added = false;
    let result = store
        .update::<StoreError>(Some(&base.hash), |snapshot| {
            let mut doc = crate::approvals::store::ensure_socket_doc(store, &snapshot.doc);
            let agents = doc.get_mut("agents").and_then(Value::as_object_mut);
            let Some(agents) = agents else {
                return Ok(None);
            };
            let entry = agents.entry(agent.clone()).or_insert_with(|| json!({}));
            let Some(obj) = entry.as_object_mut() else {
                return Ok(None);
            };
            let list = obj.entry("allowlist").or_insert_with(|| json!([]));
            let Some(list) = list.as_array_mut() else {
                return Ok(None);
            };
            let exists = list.iter().any(|e| {
                e.get("pattern").and_then(Value::as_str).map(str::trim) == Some(pattern.as_str())
                    && e.get("argPattern").and_then(Value::as_str) == arg_pattern.as_deref()
            });
            if !exists {
                let mut new = Map::new();
                new.insert("pattern".into(), json!(pattern));
                if let Some(arg) = &arg_pattern {
                    new.insert("argPattern".into(), json!(arg));
                }
                new.insert("id".into(), json!(random_uuid()));
                list.push(Value::Object(new));
                added = true;
            }
            Ok(Some(doc))
        })
        .map_err(store_error)?;
    let Some(snapshot) = result else {
        return Err(CliError::new("the approvals document changed while it was being edited (the node may have recorded a run); run the command again"));
    };
    let security = snapshot
        .doc
        .get("defaults")
        .and_then(|d| d.get("security"))
        .and_then(Value::as_str)
        .unwrap_or("full");
    if args.json {
        print_json(
            &json!({"added": added, "agent": agent, "pattern": pattern, "argPattern": arg_pattern, "hash": snapshot.hash}),
        );
    } else if added {
        println!(
            "added {pattern} to agents[{agent:?}].allowlist in {}",
            store.file_path().display()
        );
        if security != "allowlist" {
            println!("note: defaults.security is {security}; the allowlist only decides runs in allowlist mode");
        }
    } else {
        println!("{pattern} is already allowed for agents[{agent:?}]; nothing changed");
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(store: &ApprovalsStore, args: &RemoveArgs) -> Result<ExitCode, CliError> {
    let pattern = args.pattern.trim().to_string();
    let agent = agent_key(&args.agent).unwrap_or_else(|| "*".to_string());
    let base = store.read().map_err(store_error)?;
    if !base.exists {
        return Err(CliError::new(format!(
            "{} does not exist: there is nothing to remove",
            store.file_path().display()
        )));
    }
    let mut removed = 0;
    let result = store
        .update::<StoreError>(Some(&base.hash), |snapshot| {
            let mut doc = snapshot.doc.clone();
            let Some(list) = doc
                .get_mut("agents")
                .and_then(|a| a.get_mut(&agent))
                .and_then(|a| a.get_mut("allowlist"))
                .and_then(Value::as_array_mut)
            else {
                return Ok(None);
            };
            let before = list.len();
            list.retain(|e| {
                e.get("pattern").and_then(Value::as_str).map(str::trim) != Some(pattern.as_str())
            });
            removed = before - list.len();
            if list.is_empty() {
                if let Some(obj) = doc
                    .get_mut("agents")
                    .and_then(|a| a.get_mut(&agent))
                    .and_then(Value::as_object_mut)
                {
                    obj.shift_remove("allowlist");
                }
            }
            Ok((removed > 0).then_some(doc))
        })
        .map_err(store_error)?;
    let Some(snapshot) = result else {
        return Err(CliError::new("the approvals document changed while it was being edited (the node may have recorded a run); run the command again"));
    };
    if removed == 0 {
        return Err(CliError::new(format!("no entry with pattern {pattern:?} in agents[{agent:?}].allowlist; see `openclaw-node approvals show --agent {}`", crate::shell_quote::if_needed(&agent))));
    }
    if args.json {
        print_json(
            &json!({"removed": removed, "agent": agent, "pattern": pattern, "hash": snapshot.hash}),
        );
    } else {
        println!(
            "removed {removed} entr{} with pattern {pattern} from agents[{agent:?}]",
            if removed == 1 { "y" } else { "ies" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The segments of a denied check: what each runs, the file it resolved to, and whether the
/// allowlist (or a safe bin) let it through.
fn print_segments(report: &CheckReport) {
    if report.analysis_ok == Some(false) {
        println!(
            "  segments: none: the shell payload cannot be analysed (`$`, backticks, redirections \
             and subshells fail closed), so no allowlist entry can let it run; it needs an \
             operator's approval"
        );
        return;
    }
    if report.segments.is_empty() {
        return;
    }
    println!("  segments:");
    for segment in &report.segments {
        let path = segment
            .resolved_path
            .as_deref()
            .unwrap_or("(not found on PATH)");
        let verdict = match (&segment.rule, segment.matched) {
            (Some(rule), _) => format!("allowed by {rule}"),
            (None, true) => "allowed".to_string(),
            (None, false) => "MISSED the allowlist".to_string(),
        };
        println!(
            "    {}  ({} -> {path}): {verdict}",
            segment.command, segment.argv0
        );
    }
}

fn check(paths: StatePaths, config: NodeConfig, args: &CheckArgs) -> Result<ExitCode, CliError> {
    if args.argv.is_empty() {
        return Err(CliError::new("give the command to check after `--`, e.g. `openclaw-node approvals check -- git status`"));
    }
    // A document or config that cannot be used denies every run: say that once, as the
    // answer, rather than as a denial with a `security=deny` that nobody configured.
    let store = ApprovalsStore::new(&paths);
    let unusable = match store.read() {
        Err(err) => Some(err.to_string()),
        Ok(snapshot) => {
            effective_policy(&snapshot.doc, &config, agent_key(&args.agent).as_deref()).err()
        }
    };
    if let Some(err) = unusable {
        return Err(CliError::new(format!(
            "every system.run is denied, this one too: {err}"
        )));
    }
    let node = NodeRuntime {
        approvals: store,
        paths,
        config: Arc::new(config),
        path_env: effective_path_env(),
        secrets: crate::secrets::Secrets::default(),
        browser: None,
        mcp: None,
    };
    let ctx = InvokeContext {
        cancel: CancelToken::new(),
        events: Arc::new(NoEvents),
        node: Arc::new(node),
        timeout_ms: None,
    };
    let mut params = Map::new();
    params.insert("command".into(), json!(args.argv));
    if let Some(agent) = agent_key(&args.agent) {
        params.insert("agentId".into(), json!(agent));
    }
    if let Some(cwd) = &args.cwd {
        params.insert("cwd".into(), json!(cwd));
    }
    let report = crate::commands::system_run::check(&ctx, &Value::Object(params))
        .map_err(|err| CliError::new(format!("the request itself is invalid: {}", err.message)))?;
    if args.json {
        print_json(&serde_json::to_value(&report).unwrap_or_default());
    } else if report.allowed {
        println!("would run: {}", report.command);
        println!("  rule:     {}", report.rule.as_deref().unwrap_or("?"));
        println!(
            "  policy:   security={} ask={}",
            report.security.unwrap_or("?"),
            report.ask.unwrap_or("?")
        );
        if let Some(argv) = &report.exec_argv {
            println!(
                "  executes: {}",
                crate::approvals::command::format_exec_command(argv)
            );
        }
        if let Some(cwd) = &report.cwd {
            println!("  in:       {cwd}");
        }
    } else {
        println!("would be denied: {}", report.command);
        println!("  reason:   {}", report.reason.unwrap_or("?"));
        println!("  message:  {}", report.message.as_deref().unwrap_or(""));
        print_segments(&report);
        match report.suggest.as_slice() {
            [] if report
                .segments
                .iter()
                .any(|s| !s.matched && s.resolved_path.is_some()) =>
            {
                println!(
                "  allowing these paths would not let it run (a shell, xargs or a package runner \
                 needs an --arg-pattern entry; ask=always needs an operator); see \
                 `openclaw-node approvals show`"
                )
            }
            [] => {}
            [line] => println!("  to allow it: {line}"),
            lines => {
                println!("  to allow it, run all of:");
                for line in lines {
                    println!("    {line}");
                }
            }
        }
    }
    Ok(if report.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
