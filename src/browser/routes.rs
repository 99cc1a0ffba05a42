//! The browser control routes (spec §5): an HTTP-shaped request `{method, path, query, body}`
//! in, a JSON body (or a [`RouteError`]) out, like the TS node's in-process route dispatcher.

use crate::random::uuid_v4;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::act::{self, bool_of, text_of, timeout_ms, Actor};
use super::budget::{Budget, Interrupt};
use super::envelope::Artifact;
use super::error::{RouteError, RouteResult};
use super::instance::Instance;
use super::launcher;
use super::navguard::percent_decode;
use super::page::{on_action_timeout, Page, PageSession, DEFAULT_ARM_TIMEOUT};
use super::profile::{self, not_running, LaunchOptions, Profile, Tab};
use super::settings::Settings;
use super::snapshot::{self, RoleOptions};

/// A request for one route. Query values are strings (the proxy stringifies them).
#[derive(Debug, Clone)]
pub struct Request {
    pub query: Map<String, Value>,
    pub body: Value,
}

/// A route's JSON body and any files it made in memory.
#[derive(Debug, Default)]
pub struct Output {
    pub body: Value,
    pub artifacts: Vec<Artifact>,
}

impl Output {
    fn json(body: Value) -> RouteResult<Output> {
        Ok(Output {
            body,
            artifacts: Vec::new(),
        })
    }
}

/// What a route runs with.
pub struct Env<'a> {
    pub settings: &'a Settings,
    pub profiles: &'a [Arc<Profile>],
    /// The resolved profile; `None` only for `/profiles`.
    pub profile: Option<&'a Profile>,
    pub budget: &'a Budget,
    pub launch: &'a LaunchOptions,
    /// Directory screenshots are named under (never written: see [`Artifact`]).
    pub media_dir: &'a Path,
}

/// Which route a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Status,
    Start,
    Stop,
    Profiles,
    Tabs,
    TabsOpen,
    TabsFocus,
    TabsClose(String),
    Snapshot,
    Act,
    Screenshot,
    Navigate,
    HooksDialog,
    Dialogs,
    Console,
    Errors,
    Text,
    Pdf,
}

/// Matches a normalized path. `Err` carries the 400 for a bad `%`-escape in `/tabs/:id`.
pub fn match_route(method: &str, path: &str) -> Option<RouteResult<Route>> {
    let route = match (method, path) {
        ("GET", "/") => Route::Status,
        ("POST", "/start") => Route::Start,
        ("POST", "/stop") => Route::Stop,
        ("GET", "/profiles") => Route::Profiles,
        ("GET", "/tabs") => Route::Tabs,
        ("POST", "/tabs/open") => Route::TabsOpen,
        ("POST", "/tabs/focus") => Route::TabsFocus,
        ("GET", "/snapshot") => Route::Snapshot,
        ("POST", "/act") => Route::Act,
        ("POST", "/screenshot") => Route::Screenshot,
        ("POST", "/navigate") => Route::Navigate,
        ("POST", "/hooks/dialog") => Route::HooksDialog,
        ("GET", "/dialogs") => Route::Dialogs,
        ("GET", "/console") => Route::Console,
        ("GET", "/errors") => Route::Errors,
        ("GET", "/text") => Route::Text,
        ("POST", "/pdf") => Route::Pdf,
        ("DELETE", _) => {
            let segment = path
                .strip_prefix("/tabs/")
                .filter(|s| !s.is_empty() && !s.contains('/'))?;
            return Some(
                percent_decode(segment)
                    .map(Route::TabsClose)
                    .ok_or_else(|| {
                        RouteError::new(400, "invalid path parameter encoding: targetId")
                    }),
            );
        }
        _ => return None,
    };
    Some(Ok(route))
}

/// Runs a matched route.
pub fn run(env: &Env, route: Route, request: &Request) -> RouteResult<Output> {
    let body = match &request.body {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let query = &request.query;
    let profile = match (&route, env.profile) {
        (Route::Profiles, _) => return profiles(env),
        (_, Some(profile)) => profile,
        (_, None) => return Err(RouteError::internal("no browser profile resolved")),
    };
    match route {
        Route::Status => Output::json(status(env, profile)),
        Route::Start => start(env, profile, query),
        Route::Stop => {
            let stopped = profile.stop(env.budget)?;
            Output::json(json!({ "ok": true, "stopped": stopped, "profile": profile.name() }))
        }
        Route::Tabs => tabs(env, profile),
        Route::TabsOpen => open_tab(env, profile, &body),
        Route::TabsFocus => focus_tab(env, profile, &body),
        Route::TabsClose(target) => close_tab(env, profile, &target, query),
        Route::Snapshot => snapshot(env, profile, query),
        Route::Act => act_route(env, profile, &body),
        Route::Screenshot => screenshot(env, profile, &body),
        Route::Navigate => navigate(env, profile, &body),
        Route::HooksDialog => hooks_dialog(env, profile, &body),
        Route::Dialogs => dialogs(env, profile, query),
        Route::Console => {
            let level = Some(text_of(query.get("level"))).filter(|l| !l.is_empty());
            observed(
                env,
                profile,
                query,
                |page| json!(page.console_messages(level.as_deref())),
                "messages",
            )
        }
        Route::Errors => {
            let clear = bool_of(query.get("clear")).unwrap_or(false);
            observed(
                env,
                profile,
                query,
                |page| json!(page.page_errors(clear)),
                "errors",
            )
        }
        Route::Text => page_text(env, profile, query),
        Route::Pdf => pdf(env, profile, &body),
        Route::Profiles => profiles(env),
    }
}

fn cdp_port(profile: &Profile, instance: Option<&Instance>) -> Option<u16> {
    instance
        .and_then(|i| i.http_authority.as_deref())
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .or(profile.settings.cdp_port)
}

fn cdp_url(profile: &Profile, instance: Option<&Instance>) -> Option<String> {
    if profile.settings.attaches() {
        return Some(profile.settings.attach_url());
    }
    cdp_port(profile, instance).map(|port| format!("http://127.0.0.1:{port}"))
}

/// GET `/`: never starts the browser (spec §5.1).
fn status(env: &Env, profile: &Profile) -> Value {
    // An attach-only profile's browser runs whether or not the node is connected to it yet;
    // connecting (not launching) tells whether it is usable.
    let instance = if profile.settings.attaches() {
        let probe = env.budget.narrow(Duration::from_millis(600));
        profile.ensure_running(&probe, env.launch).ok()
    } else {
        profile.running()
    };
    let settings = &profile.settings;
    let running = instance.is_some();
    let cdp_http = match instance.as_ref().and_then(|i| i.http_authority.clone()) {
        Some(authority) => {
            launcher::http_get_json(&authority, "/json/version", Duration::from_millis(300)).is_ok()
        }
        None => instance.is_some(),
    };
    let cdp_ready = instance
        .as_ref()
        .map(|i| {
            i.call(
                &env.budget.narrow(Duration::from_millis(600)),
                "Browser.getVersion",
                json!({}),
            )
            .is_ok()
        })
        .unwrap_or(false);
    let detected = settings.executable.as_ref();
    let launched = instance.as_ref().filter(|i| i.launched);
    json!({
        "enabled": true,
        "profile": profile.name(),
        "driver": "openclaw",
        "transport": "cdp",
        "running": running,
        "cdpReady": cdp_ready,
        "cdpHttp": cdp_http,
        "pageReady": cdp_ready,
        "pid": instance.as_ref().and_then(|i| i.pid),
        "cdpPort": cdp_port(profile, instance.as_deref()),
        "cdpUrl": cdp_url(profile, instance.as_deref()),
        "chosenBrowser": launched.and(detected).map(|d| d.kind),
        "detectedBrowser": detected.map(|d| d.kind),
        "detectedExecutablePath": detected.map(|d| d.path.display().to_string()),
        "detectError": if detected.is_none() && !settings.attaches() {
            Value::String("No supported browser found (Chrome/Brave/Edge/Chromium on macOS, Linux, or Windows).".into())
        } else {
            Value::Null
        },
        "userDataDir": launched.and_then(|i| i.user_data_dir.as_ref()).map(|d| d.display().to_string()),
        "color": settings.color,
        "headless": instance.as_ref().filter(|i| i.launched).map(|i| i.headless).unwrap_or(settings.headless),
        "headlessSource": settings.headless_source,
        "noSandbox": settings.no_sandbox,
        "executablePath": env.settings.configured_executable,
        "attachOnly": settings.attach_only,
        "graphics": Value::Null,
    })
}

fn start(env: &Env, profile: &Profile, query: &Map<String, Value>) -> RouteResult<Output> {
    let headless = match query.get("headless") {
        None => None,
        Some(value) => match bool_of(Some(value)) {
            Some(v) => Some(v),
            None => {
                return Err(RouteError::new(
                    400,
                    "Invalid headless value. Use \"true\" or \"false\".",
                ))
            }
        },
    };
    if headless.is_some() && profile.settings.attaches() {
        return Err(RouteError::new(
            400,
            format!("Headless start override is only supported for locally launched openclaw profiles. Profile \"{}\" is attach-only, remote, or existing-session.", profile.name()),
        ));
    }
    let options = LaunchOptions {
        headless,
        ..env.launch.clone()
    };
    profile.ensure_running(env.budget, &options)?;
    Output::json(json!({ "ok": true, "profile": profile.name() }))
}

fn profiles(env: &Env) -> RouteResult<Output> {
    let list: Vec<Value> = env
        .profiles
        .iter()
        .map(|profile| {
            let instance = profile.running();
            let tab_count = instance
                .as_ref()
                .and_then(|i| {
                    i.page_targets(&env.budget.narrow(Duration::from_millis(1000)))
                        .ok()
                })
                .map(|t| t.len())
                .unwrap_or(0);
            json!({
                "name": profile.name(),
                "transport": "cdp",
                "cdpPort": cdp_port(profile, instance.as_deref()),
                "cdpUrl": cdp_url(profile, instance.as_deref()),
                "color": profile.settings.color,
                "driver": "openclaw",
                "running": instance.is_some(),
                "tabCount": tab_count,
                "isDefault": profile.name() == env.settings.default_profile,
                "isRemote": profile.settings.is_remote(),
                "reconcileReason": Value::Null,
            })
        })
        .collect();
    Output::json(json!({ "profiles": list }))
}

/// The browser for tab routes that must not launch one: attach profiles connect on demand,
/// launched profiles must already run.
fn existing_instance(env: &Env, profile: &Profile) -> Option<Arc<Instance>> {
    if profile.settings.attaches() {
        profile.ensure_running(env.budget, env.launch).ok()
    } else {
        profile.running()
    }
}

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
fn tabs(env: &Env, profile: &Profile) -> RouteResult<Output> {
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
fn route_tab(
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

fn target_of(map: &Map<String, Value>) -> Option<String> {
    Some(text_of(map.get("targetId"))).filter(|s| !s.is_empty())
}

/// The tab's current URL for a response; omitted when the policy would refuse it.
fn safe_url(env: &Env, instance: &Instance, page: &Page, fallback: &str) -> Option<String> {
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

fn open_tab(env: &Env, profile: &Profile, body: &Map<String, Value>) -> RouteResult<Output> {
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

fn focus_tab(env: &Env, profile: &Profile, body: &Map<String, Value>) -> RouteResult<Output> {
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

fn close_tab(
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
fn blocked_fields(page: &Page) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("blockedByDialog".into(), json!(true));
    fields.insert("browserState".into(), page.browser_state());
    fields
}

/// Other routes cannot report a dialog in their result: they fail with a hint.
fn dialog_conflict(err: RouteError) -> RouteError {
    match err {
        RouteError::BlockedByDialog => RouteError::new(
            409,
            "A JavaScript dialog is open on this tab and blocks the page. Answer it with action=dialog (POST /hooks/dialog {accept}) and retry.",
        ),
        other => other,
    }
}

fn strict_non_negative(value: Option<&Value>) -> Option<u64> {
    act::non_negative_integer(value, "").ok().flatten()
}

fn snapshot(env: &Env, profile: &Profile, query: &Map<String, Value>) -> RouteResult<Output> {
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

fn act_route(env: &Env, profile: &Profile, body: &Map<String, Value>) -> RouteResult<Output> {
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

/// Longest side of a screenshot and its byte cap, after which it is scaled or re-encoded.
const SCREENSHOT_MAX_SIDE: f64 = 2000.0;
const SCREENSHOT_MAX_BYTES: usize = 5 * 1024 * 1024;

fn screenshot(env: &Env, profile: &Profile, body: &Map<String, Value>) -> RouteResult<Output> {
    let full_page = bool_of(body.get("fullPage")).unwrap_or(false);
    let reference = Some(text_of(body.get("ref"))).filter(|s| !s.is_empty());
    let element = Some(text_of(body.get("element"))).filter(|s| !s.is_empty());
    let jpeg = body.get("type").and_then(Value::as_str) == Some("jpeg");
    let timeout = timeout_ms(body.get("timeoutMs"))
        .map_err(|m| RouteError::new(400, m))?
        .unwrap_or(20_000);
    if full_page && (reference.is_some() || element.is_some()) {
        return Err(RouteError::new(
            400,
            "fullPage is not supported for element screenshots",
        ));
    }
    if bool_of(body.get("labels")) == Some(true) {
        return Err(RouteError::new(501, "Screenshot labels are not supported by this node (openclaw-node). Take the screenshot without labels and use a snapshot for refs."));
    }
    let budget = env.budget.narrow(Duration::from_millis(timeout));
    let env = Env {
        budget: &budget,
        ..*env
    };
    let (instance, tab) = route_tab(&env, profile, target_of(body).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    let _one_at_a_time = page.action_gate.acquire(env.budget)?;
    let session = PageSession {
        conn: &instance.conn,
        page: &page,
        budget: env.budget,
    };
    let capture = || -> RouteResult<(Vec<u8>, bool)> {
        if page.has_pending_dialog() {
            return Err(RouteError::BlockedByDialog);
        }
        let _ = session.call("Page.bringToFront", json!({}));
        let metrics = session.call("Page.getLayoutMetrics", json!({}))?;
        let viewport = metrics
            .get("cssVisualViewport")
            .cloned()
            .unwrap_or(Value::Null);
        let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64).unwrap_or(0.0);
        let (page_x, page_y) = (number(&viewport, "pageX"), number(&viewport, "pageY"));
        let mut clip = if let Some(raw) = reference.as_deref().or(element.as_deref()) {
            Some(element_box(
                &session,
                raw,
                reference.is_some(),
                page_x,
                page_y,
            )?)
        } else if full_page {
            let size = metrics
                .get("cssContentSize")
                .cloned()
                .unwrap_or(Value::Null);
            Some((0.0, 0.0, number(&size, "width"), number(&size, "height")))
        } else {
            let (w, h) = (
                number(&viewport, "clientWidth"),
                number(&viewport, "clientHeight"),
            );
            let longest = w.max(h);
            (longest > SCREENSHOT_MAX_SIDE).then_some((page_x, page_y, w, h))
        };
        if let Some((_, _, w, h)) = clip {
            if w <= 0.0 || h <= 0.0 {
                clip = None;
            }
        }
        let shoot = |format: &str, quality: Option<u32>| -> RouteResult<Vec<u8>> {
            let mut params = json!({ "format": format, "captureBeyondViewport": clip.is_some() });
            if let Some(q) = quality {
                params["quality"] = json!(q);
            }
            if let Some((x, y, w, h)) = clip {
                let scale = (SCREENSHOT_MAX_SIDE / w.max(h)).min(1.0);
                params["clip"] = json!({ "x": x, "y": y, "width": w, "height": h, "scale": scale });
            }
            let shot = session.call("Page.captureScreenshot", params)?;
            let data = shot
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| RouteError::internal("Screenshot failed: missing data"))?;
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| RouteError::internal("Screenshot failed: invalid data"))
        };
        let first = if jpeg {
            shoot("jpeg", Some(85))?
        } else {
            shoot("png", None)?
        };
        if first.len() <= SCREENSHOT_MAX_BYTES {
            return Ok((first, jpeg));
        }
        let mut smallest = first.len();
        for quality in [85, 70, 55, 40] {
            let smaller = shoot("jpeg", Some(quality))?;
            if smaller.len() <= SCREENSHOT_MAX_BYTES {
                return Ok((smaller, true));
            }
            smallest = smallest.min(smaller.len());
        }
        Err(RouteError::internal(format!(
            "Browser screenshot could not be reduced below 5MB (got {:.2}MB)",
            smallest as f64 / 1_048_576.0
        )))
    };
    let (bytes, is_jpeg) = capture().map_err(dialog_conflict)?;
    let path = env
        .media_dir
        .join(format!(
            "{}.{}",
            uuid_v4(),
            if is_jpeg { "jpg" } else { "png" }
        ))
        .display()
        .to_string();
    let body =
        json!({ "ok": true, "path": path, "targetId": tab.target_id(), "url": tab.target.url });
    Ok(Output {
        body,
        artifacts: vec![Artifact {
            path,
            bytes,
            mime: if is_jpeg { "image/jpeg" } else { "image/png" },
        }],
    })
}

/// The document-coordinate box of a ref'd (or CSS-selected) element, scrolled into view.
fn element_box(
    session: &PageSession,
    raw: &str,
    is_ref: bool,
    page_x: f64,
    page_y: f64,
) -> RouteResult<(f64, f64, f64, f64)> {
    let not_found = || {
        RouteError::act_failed(format!("Element \"{raw}\" not found or not visible. Run a new snapshot to see current page elements."))
    };
    let object_id = if is_ref {
        let reference = act::parse_ref(raw).ok_or_else(|| act::unknown_ref(raw))?;
        let target = session
            .page
            .lookup_ref(&reference)
            .ok_or_else(|| act::unknown_ref(raw))?;
        session
            .resolve_node(target.backend_node_id.ok_or_else(not_found)?)?
            .ok_or_else(not_found)?
    } else {
        let result = session.call(
            "Runtime.evaluate",
            json!({ "expression": format!("document.querySelector({})", json!(raw)), "returnByValue": false }),
        )?;
        result
            .pointer("/result/objectId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(not_found)?
    };
    let rect = session.call_function_on(
        &object_id,
        "function() { const el = this.nodeType === 1 ? this : this.parentElement; if (!el) return null; el.scrollIntoView({block: 'center', inline: 'center'}); const r = el.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height, sx: window.scrollX, sy: window.scrollY }; }",
        vec![],
    )?;
    session.release(&object_id);
    let get = |key: &str| rect.get(key).and_then(Value::as_f64);
    match (get("x"), get("y"), get("w"), get("h")) {
        (Some(x), Some(y), Some(w), Some(h)) if w > 0.0 && h > 0.0 => {
            let (sx, sy) = (get("sx").unwrap_or(page_x), get("sy").unwrap_or(page_y));
            Ok((x + sx, y + sy, w, h))
        }
        _ => Err(not_found()),
    }
}

fn navigate(env: &Env, profile: &Profile, body: &Map<String, Value>) -> RouteResult<Output> {
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

fn hooks_dialog(env: &Env, profile: &Profile, body: &Map<String, Value>) -> RouteResult<Output> {
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
                Err(super::cdp::CdpError::Protocol { message, .. })
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

fn dialogs(env: &Env, profile: &Profile, query: &Map<String, Value>) -> RouteResult<Output> {
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
fn observed(
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
fn page_text(env: &Env, profile: &Profile, query: &Map<String, Value>) -> RouteResult<Output> {
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

/// POST `/pdf`: `Page.printToPDF {printBackground:true}`, returned in `files`.
fn pdf(env: &Env, profile: &Profile, body: &Map<String, Value>) -> RouteResult<Output> {
    let (instance, tab) = route_tab(env, profile, target_of(body).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    let _one_at_a_time = page.action_gate.acquire(env.budget)?;
    let session = PageSession {
        conn: &instance.conn,
        page: &page,
        budget: env.budget,
    };
    let printed = session
        .call("Page.printToPDF", json!({ "printBackground": true }))
        .map_err(dialog_conflict)?;
    let data = printed
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| RouteError::internal("PDF failed: missing data"))?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| RouteError::internal("PDF failed: invalid data"))?;
    let path = env
        .media_dir
        .join(format!("{}.pdf", uuid_v4()))
        .display()
        .to_string();
    let body =
        json!({ "ok": true, "path": path, "targetId": tab.target_id(), "url": tab.target.url });
    Ok(Output {
        body,
        artifacts: vec![Artifact {
            path,
            bytes,
            mime: "application/pdf",
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_method_and_path() {
        assert_eq!(match_route("GET", "/"), Some(Ok(Route::Status)));
        assert_eq!(match_route("POST", "/tabs/open"), Some(Ok(Route::TabsOpen)));
        assert_eq!(
            match_route("DELETE", "/tabs/ABC%2Fx"),
            Some(Ok(Route::TabsClose("ABC/x".into())))
        );
        assert!(matches!(
            match_route("DELETE", "/tabs/%zz"),
            Some(Err(RouteError::Http { status: 400, .. }))
        ));
        assert_eq!(match_route("GET", "/screenshot"), None);
        assert_eq!(match_route("DELETE", "/tabs/a/b"), None);
    }

    #[test]
    fn uuids_are_v4() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid_v4());
    }
}
