//! Changing a page: `/act`, navigation, and arming a dialog's answer.

use super::*;

pub(super) fn act_route(
    env: &Env,
    profile: &Profile,
    body: &Map<String, Value>,
) -> RouteResult<Output> {
    let kind_text = text_of(body.get("kind"));
    let request = match act::normalize(body, 0, false) {
        Ok(request) => request,
        Err(message)
            if message == "kind is required"
                || kind_text.is_empty() && message.contains("kind") =>
        {
            return Err(RouteError::new(400, "kind is required").with_code("ACT_KIND_REQUIRED"))
        }
        Err(message) => return Err(RouteError::new(400, message).with_code("ACT_INVALID_REQUEST")),
    };
    if act::selector_unsupported(request.kind, body) {
        return Err(RouteError::new(400, act::SELECTOR_UNSUPPORTED_MESSAGE)
            .with_code("ACT_SELECTOR_UNSUPPORTED"));
    }
    if act::needs_evaluate(&request.action) && !env.settings.evaluate_enabled {
        return Err(act::evaluate_disabled_error(request.kind));
    }
    let (instance, tab) = route_tab(env, profile, request.target_id.as_deref())?;
    if !matches!(
        request.action,
        act::Action::Resize { .. } | act::Action::Close
    ) {
        env.settings
            .navigation
            .check_current(&tab.target.url, env.budget)?;
    }
    if let act::Action::Batch { actions, .. } = &request.action {
        let tabs = profile.tabs(&instance, env.budget)?;
        check_batch_targets(actions, &tabs, tab.target_id())?;
    }
    let page = instance.page(env.budget, tab.target_id())?;
    let _one_at_a_time = page.action_gate.acquire(env.budget)?;
    let actor = Actor {
        instance: &instance,
        page: &page,
        budget: env.budget,
        evaluate_enabled: env.settings.evaluate_enabled,
    };
    let mut record = Map::new();
    record.insert("ok".into(), json!(true));
    record.insert("targetId".into(), json!(tab.target_id()));
    match actor.run(&request) {
        Ok(outcome) => {
            if outcome.closed {
                profile.forget(tab.target_id());
                page.clear_refs();
                if let Some(url) = Some(tab.target.url.clone())
                    .filter(|u| env.settings.navigation.check_current(u, env.budget).is_ok())
                {
                    record.insert("url".into(), json!(url));
                }
            } else if let Some(url) = safe_url(env, &instance, &page, &tab.target.url) {
                record.insert("url".into(), json!(url));
            }
            record.extend(outcome.extra);
        }
        Err(RouteError::BlockedByDialog) => {
            if let Some(url) = safe_url(env, &instance, &page, &tab.target.url) {
                record.insert("url".into(), json!(url));
            }
            record.extend(blocked_fields(&page));
        }
        Err(err) => return Err(err),
    }
    Output::json(Value::Object(record))
}

/// Nested actions may only name the request's own tab (TS `canonicalizeActTargetIds`).
fn check_batch_targets(
    actions: &[act::ActRequest],
    tabs: &[Tab],
    target_id: &str,
) -> RouteResult<()> {
    for action in actions {
        if let Some(named) = &action.target_id {
            let same = profile::resolve_tab(tabs, named, false)
                .map(|t| t.target_id() == target_id)
                .unwrap_or(false);
            if !same {
                return Err(RouteError::new(
                    403,
                    "batched action targetId must match request targetId",
                )
                .with_code("ACT_TARGET_ID_MISMATCH"));
            }
        }
        if let act::Action::Batch { actions, .. } = &action.action {
            check_batch_targets(actions, tabs, target_id)?;
        }
    }
    Ok(())
}

pub(super) fn navigate(
    env: &Env,
    profile: &Profile,
    body: &Map<String, Value>,
) -> RouteResult<Output> {
    let url = text_of(body.get("url"));
    if url.is_empty() {
        return Err(RouteError::new(400, "url is required"));
    }
    let timeout = timeout_ms(body.get("timeoutMs"))
        .map_err(|m| RouteError::new(400, m))?
        .unwrap_or(20_000)
        .clamp(1_000, 120_000);
    env.settings.navigation.check_request(&url, env.budget)?;
    let (instance, tab) = route_tab(env, profile, target_of(body).as_deref())?;
    let page = instance.page(env.budget, tab.target_id())?;
    let _one_at_a_time = page.action_gate.acquire(env.budget)?;
    let budget = env.budget.narrow(Duration::from_millis(timeout));
    let session = PageSession {
        conn: &instance.conn,
        page: &page,
        budget: &budget,
    };
    let timed_out = || {
        RouteError::new(500, format!("TimeoutError: page.goto: Timeout {timeout}ms exceeded.\nnavigating to \"{url}\", waiting until \"load\""))
    };
    let navigated = session
        .call("Page.navigate", json!({ "url": url }))
        .map_err(|e| dialog_conflict(on_action_timeout(e, timed_out)))?;
    page.clear_refs();
    if let Some(error) = navigated
        .get("errorText")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
    {
        return Err(RouteError::internal(format!("page.goto: {error} at {url}")));
    }
    if let Some(loader) = navigated.get("loaderId").and_then(Value::as_str) {
        page.wait_until(&budget, |p| p.has_loaded(loader))
            .map_err(|e| on_action_timeout(e, timed_out))?;
    }
    let final_url = instance
        .target_info(env.budget, tab.target_id())?
        .map(|t| t.url)
        .unwrap_or(url);
    env.settings
        .navigation
        .check_current(&final_url, env.budget)?;
    Output::json(json!({ "ok": true, "url": final_url, "targetId": tab.target_id() }))
}

pub(super) fn hooks_dialog(
    env: &Env,
    profile: &Profile,
    body: &Map<String, Value>,
) -> RouteResult<Output> {
    let accept = bool_of(body.get("accept"));
    let prompt_text = body
        .get("promptText")
        .and_then(Value::as_str)
        .map(str::to_string);
    let timeout = timeout_ms(body.get("timeoutMs")).map_err(|m| RouteError::new(400, m))?;
    let dialog_id = Some(text_of(body.get("dialogId"))).filter(|s| !s.is_empty());
    let Some(accept) = accept else {
        return Err(RouteError::new(400, "accept is required"));
    };
    let (instance, tab) = route_tab(env, profile, target_of(body).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    match page.take_pending_dialog(dialog_id.as_deref()) {
        Ok(dialog) => {
            let mut params = json!({ "accept": accept });
            if let Some(text) = &prompt_text {
                params["promptText"] = json!(text);
            }
            page.expect_dialog_close();
            let answered = instance.conn.call(
                "Page.handleJavaScriptDialog",
                params,
                Some(&page.session_id),
                env.budget.remaining(),
            );
            let closed_by = match answered {
                Ok(_) => "agent",
                Err(crate::browser::cdp::CdpError::Protocol { message, .. })
                    if message
                        .to_ascii_lowercase()
                        .contains("no dialog is showing") =>
                {
                    page.answer_failed();
                    "remote"
                }
                Err(err) => {
                    page.answer_failed();
                    page.record_answered(dialog, "remote");
                    return Err(err.into());
                }
            };
            page.record_answered(dialog, closed_by);
        }
        Err(message) if dialog_id.is_some() || message != "No dialog is pending." => {
            return Err(RouteError::internal(message))
        }
        Err(_) => page.arm_dialog(
            accept,
            prompt_text,
            timeout
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_ARM_TIMEOUT),
        ),
    }
    Output::json(json!({ "ok": true }))
}
