//! The tab routes (list, open, focus, close) and resolving which tab a request means.

use super::*;

fn tab_json(instance: &Instance, tab: &Tab, env: &Env) -> Value {
    let mut record = Map::new();
    record.insert("targetId".into(), json!(tab.target_id()));
    record.insert("title".into(), json!(tab.target.title));
    let allowed = env
        .settings
        .navigation
        .current_url_allowed(&tab.target.url, env.budget);
    record.insert(
        "url".into(),
        json!(if allowed { tab.target.url.as_str() } else { "" }),
    );
    if !allowed {
        record.insert("urlUnavailableReason".into(), json!("navigation_blocked"));
    }
    if let Some(ws) = instance.page_ws_url(tab.target_id()) {
        record.insert("wsUrl".into(), json!(ws));
    }
    record.insert("type".into(), json!("page"));
    record.insert("suggestedTargetId".into(), json!(tab.suggested_target_id()));
    record.insert("tabId".into(), json!(tab.tab_id));
    if let Some(label) = &tab.label {
        record.insert("label".into(), json!(label));
    }
    Value::Object(record)
}

/// GET `/tabs`: does not start the browser.
pub(super) fn tabs(env: &Env, profile: &Profile) -> RouteResult<Output> {
    let Some(instance) = existing_instance(env, profile) else {
        return Output::json(json!({ "running": false, "tabs": [] }));
    };
    let tabs = profile.tabs(&instance, env.budget)?;
    let list: Vec<Value> = tabs
        .iter()
        .map(|tab| tab_json(&instance, tab, env))
        .collect();
    Output::json(json!({ "running": true, "tabs": list }))
}

/// The tab a tab-scoped route works on (spec §5 conventions): the named one (409 when the
/// browser is down), or, without a name, the sticky tab or the first one, starting the browser
/// and opening `about:blank` as needed.
pub(super) fn route_tab(
    env: &Env,
    profile: &Profile,
    target: Option<&str>,
) -> RouteResult<(Arc<Instance>, Tab)> {
    let (instance, tab) = match target.filter(|t| !t.trim().is_empty()) {
        Some(target) => {
            let instance =
                existing_instance(env, profile).ok_or_else(|| not_running(profile.name()))?;
            let tabs = profile.tabs(&instance, env.budget)?;
            let tab = profile::resolve_tab(&tabs, target, false)?.clone();
            (instance, tab)
        }
        None => {
            let instance = profile.ensure_running(env.budget, env.launch)?;
            let mut tabs = profile.tabs(&instance, env.budget)?;
            if tabs.is_empty() {
                instance.create_blank_target(env.budget)?;
                tabs = profile.tabs(&instance, env.budget)?;
            }
            let sticky = profile.last_target();
            let tab = sticky
                .and_then(|id| tabs.iter().find(|t| t.target_id() == id))
                .or_else(|| tabs.first())
                .cloned()
                .ok_or_else(|| profile::tab_not_found(""))?;
            (instance, tab)
        }
    };
    profile.remember(tab.target_id());
    Ok((instance, tab))
}

pub(super) fn target_of(map: &Map<String, Value>) -> Option<String> {
    Some(text_of(map.get("targetId"))).filter(|s| !s.is_empty())
}

/// The tab's current URL for a response; omitted when the policy would refuse it.
pub(super) fn safe_url(
    env: &Env,
    instance: &Instance,
    page: &Page,
    fallback: &str,
) -> Option<String> {
    // The page's own record of its main frame is current right after a commit, when
    // `Target.getTargetInfo` may still report an empty URL.
    let url = page
        .main_url()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            instance
                .target_info(env.budget, &page.target_id)
                .ok()
                .flatten()
                .map(|t| t.url)
        })
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| fallback.to_string());
    let allowed = env
        .settings
        .navigation
        .check_current(&url, env.budget)
        .is_ok();
    (!url.is_empty() && allowed).then_some(url)
}

pub(super) fn open_tab(
    env: &Env,
    profile: &Profile,
    body: &Map<String, Value>,
) -> RouteResult<Output> {
    let url = text_of(body.get("url"));
    if url.is_empty() {
        return Err(RouteError::new(400, "url is required"));
    }
    let label = Some(text_of(body.get("label"))).filter(|l| !l.is_empty());
    if let Some(label) = &label {
        profile::validate_label(label)?;
    }
    env.settings.navigation.check_request(&url, env.budget)?;
    let instance = profile.ensure_running(env.budget, env.launch)?;
    let target_id = instance.create_blank_target(env.budget)?;
    let page = instance.page(env.budget, &target_id)?;
    if url != "about:blank" {
        let session = PageSession {
            conn: &instance.conn,
            page: &page,
            budget: env.budget,
        };
        let navigated = session.call("Page.navigate", json!({ "url": url }))?;
        // Like TS, wait briefly for the document (at most 2 s); a slow page is still a tab.
        if let Some(loader) = navigated.get("loaderId").and_then(Value::as_str) {
            let _ = page.wait_until(&env.budget.narrow(Duration::from_secs(2)), |p| {
                p.has_loaded(loader)
            });
        }
    }
    if let Some(label) = &label {
        profile.set_label(&target_id, label);
    }
    let tabs = profile.tabs(&instance, env.budget)?;
    let tab = tabs
        .iter()
        .find(|t| t.target_id() == target_id)
        .cloned()
        .ok_or_else(|| profile::tab_not_found(&target_id))?;
    profile.remember(&target_id);
    let mut record = tab_json(&instance, &tab, env);
    record["resolvedProfile"] = json!(profile.name());
    Output::json(record)
}

pub(super) fn focus_tab(
    env: &Env,
    profile: &Profile,
    body: &Map<String, Value>,
) -> RouteResult<Output> {
    let target = text_of(body.get("targetId"));
    if target.is_empty() {
        return Err(RouteError::new(400, "targetId is required"));
    }
    let instance = existing_instance(env, profile)
        .ok_or_else(|| RouteError::new(409, "browser not running"))?;
    let tabs = profile.tabs(&instance, env.budget)?;
    let tab = profile::resolve_tab(&tabs, &target, false)?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    instance.call(
        env.budget,
        "Target.activateTarget",
        json!({ "targetId": tab.target_id() }),
    )?;
    profile.remember(tab.target_id());
    Output::json(json!({ "ok": true, "targetId": tab.target_id() }))
}

pub(super) fn close_tab(
    env: &Env,
    profile: &Profile,
    target: &str,
    query: &Map<String, Value>,
) -> RouteResult<Output> {
    let mode = text_of(query.get("targetIdMode"));
    if !mode.is_empty() && mode != "raw" {
        return Err(RouteError::new(400, "targetIdMode must be \"raw\""));
    }
    let instance = existing_instance(env, profile)
        .ok_or_else(|| RouteError::new(409, "browser not running"))?;
    let tabs = profile.tabs(&instance, env.budget)?;
    let tab = profile::resolve_tab(&tabs, target, mode == "raw")?;
    instance.close_target(env.budget, tab.target_id())?;
    profile.forget(tab.target_id());
    Output::json(json!({ "ok": true, "targetId": tab.target_id() }))
}

/// The success body of an act/snapshot that a JavaScript dialog blocked.
pub(super) fn blocked_fields(page: &Page) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("blockedByDialog".into(), json!(true));
    fields.insert("browserState".into(), page.browser_state());
    fields
}

/// Other routes cannot report a dialog in their result: they fail with a hint.
pub(super) fn dialog_conflict(err: RouteError) -> RouteError {
    match err {
        RouteError::BlockedByDialog => RouteError::new(
            409,
            "A JavaScript dialog is open on this tab and blocks the page. Answer it with action=dialog (POST /hooks/dialog {accept}) and retry.",
        ),
        other => other,
    }
}
