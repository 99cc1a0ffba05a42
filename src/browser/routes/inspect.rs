//! Reading a page: snapshots (role and aria), the dialogs it showed, and its text.

use super::*;

fn strict_non_negative(value: Option<&Value>) -> Option<u64> {
    act::non_negative_integer(value, "").ok().flatten()
}

pub(super) fn snapshot(
    env: &Env,
    profile: &Profile,
    query: &Map<String, Value>,
) -> RouteResult<Output> {
    let efficient = text_of(query.get("mode")) == "efficient";
    let labels = bool_of(query.get("labels"));
    let urls = bool_of(query.get("urls")) == Some(true);
    let aria = text_of(query.get("format")) == "aria";
    if (labels == Some(true) || efficient) && aria {
        return Err(RouteError::new(
            400,
            "labels/mode=efficient require format=ai",
        ));
    }
    if !text_of(query.get("selector")).is_empty() || !text_of(query.get("frame")).is_empty() {
        return Err(RouteError::new(
            501,
            "Snapshot selector/frame scoping is not supported by this node (openclaw-node). Take a full snapshot (optionally interactive=true) and use its refs.",
        ));
    }
    if labels == Some(true) {
        return Err(RouteError::new(501, "Snapshot labels are not supported by this node (openclaw-node). Take a snapshot without labels, or a plain screenshot."));
    }
    let default_max = if efficient {
        snapshot::EFFICIENT_MAX_CHARS
    } else {
        snapshot::DEFAULT_MAX_CHARS
    };
    let max_chars = match query.get("maxChars") {
        None => Some(default_max),
        Some(value) => match strict_non_negative(Some(value)) {
            None => Some(default_max),
            Some(0) => None,
            Some(n) => Some(n as usize),
        },
    };
    let options = RoleOptions {
        interactive: bool_of(query.get("interactive")).unwrap_or(efficient),
        compact: bool_of(query.get("compact")).unwrap_or(efficient),
        max_depth: strict_non_negative(query.get("depth"))
            .map(|d| d as usize)
            .or(if efficient { Some(6) } else { None }),
    };
    let limit = match act::non_negative_integer(query.get("limit"), "limit") {
        Ok(Some(n)) if n > 0 => (n as usize).min(snapshot::MAX_ARIA_LIMIT),
        _ => snapshot::DEFAULT_ARIA_LIMIT,
    };
    let budget = match strict_non_negative(query.get("timeoutMs")).filter(|t| *t > 0) {
        Some(ms) => env.budget.narrow(Duration::from_millis(ms)),
        None => env.budget.clone(),
    };
    let env = Env {
        budget: &budget,
        ..*env
    };
    let (instance, tab) = route_tab(&env, profile, target_of(query).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    let _one_at_a_time = page.action_gate.acquire(env.budget)?;
    let mut record = Map::new();
    record.insert("ok".into(), json!(true));
    record.insert("format".into(), json!(if aria { "aria" } else { "ai" }));
    record.insert("targetId".into(), json!(tab.target_id()));
    record.insert("url".into(), json!(tab.target.url));
    let session = PageSession {
        conn: &instance.conn,
        page: &page,
        budget: env.budget,
    };
    let produced = if aria {
        aria_snapshot(&session, limit)
    } else {
        role_snapshot(&session, options, urls, max_chars)
    };
    match produced {
        Ok(fields) => {
            if page.has_dialog_history() {
                record.insert("browserState".into(), page.browser_state());
            }
            record.extend(fields);
        }
        Err(RouteError::BlockedByDialog) => {
            record.extend(blocked_fields(&page));
            if aria {
                record.insert("nodes".into(), json!([]));
            } else {
                record.insert("snapshot".into(), json!(""));
                record.insert("refs".into(), json!({}));
            }
        }
        Err(err) => {
            return Err(on_action_timeout(err, || {
                RouteError::Interrupted(Interrupt::RequestTimeout)
            }))
        }
    }
    Output::json(Value::Object(record))
}

fn full_ax_tree(session: &PageSession) -> RouteResult<Vec<Value>> {
    if session.page.has_pending_dialog() {
        return Err(RouteError::BlockedByDialog);
    }
    let tree = session.call("Accessibility.getFullAXTree", json!({}))?;
    Ok(tree
        .get("nodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

fn role_snapshot(
    session: &PageSession,
    options: RoleOptions,
    urls: bool,
    max_chars: Option<usize>,
) -> RouteResult<Map<String, Value>> {
    let loader = session.page.main_loader_id();
    let nodes = full_ax_tree(session)?;
    let cursor = snapshot::cursor_interactive_elements(session)?;
    let mut tree = snapshot::build_role_tree(&nodes, &cursor, &HashMap::new(), options);
    if urls {
        let links = snapshot::link_urls(session, &tree.refs)?;
        tree = snapshot::build_role_tree(&nodes, &cursor, &links, options);
    }
    let done = snapshot::finalize(tree, options, max_chars);
    session.page.store_refs(
        loader,
        done.refs
            .iter()
            .map(|(r, record)| (r.clone(), record.target()))
            .collect(),
    );
    let mut fields = Map::new();
    fields.insert("snapshot".into(), json!(done.snapshot));
    fields.insert("refs".into(), done.refs_json());
    fields.insert("stats".into(), done.stats_json());
    if done.truncated {
        fields.insert("truncated".into(), json!(true));
    }
    Ok(fields)
}

fn aria_snapshot(session: &PageSession, limit: usize) -> RouteResult<Map<String, Value>> {
    let loader = session.page.main_loader_id();
    let nodes = snapshot::format_aria(&full_ax_tree(session)?, limit);
    session.page.store_refs(loader, snapshot::aria_refs(&nodes));
    let mut fields = Map::new();
    fields.insert("nodes".into(), Value::Array(nodes));
    Ok(fields)
}

pub(super) fn dialogs(
    env: &Env,
    profile: &Profile,
    query: &Map<String, Value>,
) -> RouteResult<Output> {
    let (instance, tab) = route_tab(env, profile, target_of(query).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    let mut record = Map::new();
    record.insert("ok".into(), json!(true));
    record.insert("targetId".into(), json!(tab.target_id()));
    if let Some(url) = safe_url(env, &instance, &page, &tab.target.url) {
        record.insert("url".into(), json!(url));
    }
    record.insert("browserState".into(), page.browser_state());
    Output::json(Value::Object(record))
}

/// `{ok, targetId, url?, <key>: …}` from what the tab's session observed.
pub(super) fn observed(
    env: &Env,
    profile: &Profile,
    query: &Map<String, Value>,
    read: impl Fn(&Page) -> Value,
    key: &str,
) -> RouteResult<Output> {
    let (instance, tab) = route_tab(env, profile, target_of(query).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    let mut record = Map::new();
    record.insert("ok".into(), json!(true));
    record.insert("targetId".into(), json!(tab.target_id()));
    if let Some(url) = safe_url(env, &instance, &page, &tab.target.url) {
        record.insert("url".into(), json!(url));
    }
    record.insert(key.into(), read(&page));
    Output::json(Value::Object(record))
}

/// GET `/text`: `innerText` of `selector`, else of the first `article`, `main` or `body`.
pub(super) fn page_text(
    env: &Env,
    profile: &Profile,
    query: &Map<String, Value>,
) -> RouteResult<Output> {
    let max_chars = match act::non_negative_integer(query.get("maxChars"), "maxChars") {
        Ok(Some(n)) if n > 0 => (n as usize).min(snapshot::DEFAULT_MAX_CHARS),
        Ok(None) => snapshot::DEFAULT_MAX_CHARS,
        _ => return Err(RouteError::new(400, "maxChars must be a positive integer.")),
    };
    let selector = Some(text_of(query.get("selector"))).filter(|s| !s.is_empty());
    let (instance, tab) = route_tab(env, profile, target_of(query).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    let expression = match &selector {
        Some(selector) => format!("(() => {{ const el = document.querySelector({}); return el ? el.innerText : null; }})()", json!(selector)),
        None => "(() => { const el = document.querySelector('article') || document.querySelector('main') || document.body; return el ? el.innerText : ''; })()".to_string(),
    };
    let budget = env.budget.narrow(Duration::from_secs(20));
    let session = PageSession {
        conn: &instance.conn,
        page: &page,
        budget: &budget,
    };
    let text = loop {
        match session.evaluate(&expression).map_err(dialog_conflict)? {
            Value::String(text) => break text,
            _ => {
                if let Err(interrupt) = budget.sleep(Duration::from_millis(100)) {
                    let label = selector.clone().unwrap_or_default();
                    return Err(on_action_timeout(interrupt.into(), || {
                        RouteError::internal(format!(
                            "Page text extraction timed out: no element matches {}",
                            json!(label)
                        ))
                    }));
                }
            }
        }
    };
    let truncated = text.chars().count() > max_chars;
    let text: String = text.chars().take(max_chars).collect();
    let mut record = Map::new();
    record.insert("ok".into(), json!(true));
    record.insert("targetId".into(), json!(tab.target_id()));
    if let Some(url) = safe_url(env, &instance, &page, &tab.target.url) {
        record.insert("url".into(), json!(url));
    }
    record.insert("text".into(), json!(text));
    record.insert("truncated".into(), json!(truncated));
    Output::json(Value::Object(record))
}
