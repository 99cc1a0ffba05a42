//! A browser the node is connected to: the CDP connection, the process when the node launched
//! it, and the tabs it has attached to.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::budget::{Budget, Gate};
use super::cdp::{lock, CdpConnection, CdpError, CdpEvent, CdpListener};
use super::error::{RouteError, RouteResult};
use super::launcher::{self, LaunchedBrowser};
use super::navguard::NavigationPolicy;
use super::page::Page;
use super::request_guard::{fetch_enable_params, RequestGuard};
use crate::exec::ProcessGroup;

/// A page target as CDP lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    pub target_id: String,
    pub title: String,
    pub url: String,
}

/// URL prefixes of browser-internal pages that are never shown as tabs (spec §5.5).
const INTERNAL_URL_PREFIXES: [&str; 7] = [
    "chrome://",
    "chrome-untrusted://",
    "devtools://",
    "edge://",
    "brave://",
    "vivaldi://",
    "opera://",
];

/// Routes session events to their page. Held by the reader thread; holds no strong reference
/// to the connection, so dropping the instance ends everything.
#[derive(Default)]
struct Routing {
    by_session: Mutex<HashMap<String, Arc<Page>>>,
    conn: OnceLock<Weak<CdpConnection>>,
    closed: AtomicBool,
    /// Set when the policy restricts requests: every page session then pauses each request
    /// for it.
    requests: OnceLock<RequestGuard>,
}

struct Listener(Arc<Routing>);

impl CdpListener for Listener {
    fn event(&self, event: CdpEvent) {
        let routing = &self.0;
        match (event.session_id.as_deref(), event.method.as_str()) {
            (None, "Target.detachedFromTarget") => {
                if let Some(session) = event.params.get("sessionId").and_then(Value::as_str) {
                    if let Some(page) = lock(&routing.by_session).remove(session) {
                        page.mark_detached();
                    }
                }
            }
            (_, "Target.attachedToTarget") if routing.requests.get().is_some() => {
                // A target auto-attached by the guard (a new tab or popup, an out-of-process
                // frame, a worker) is paused until its requests are intercepted too.
                let conn = routing.conn.get().and_then(Weak::upgrade);
                let child = event.params.get("sessionId").and_then(Value::as_str);
                if let (Some(conn), Some(child)) = (conn, child) {
                    intercept_target(&conn, child);
                }
            }
            (Some(session), "Fetch.requestPaused") => {
                let conn = routing.conn.get().and_then(Weak::upgrade);
                if let (Some(guard), Some(conn)) = (routing.requests.get(), conn) {
                    guard.paused(&conn, session, &event.params);
                }
            }
            (Some(session), method) => {
                let page = lock(&routing.by_session).get(session).cloned();
                let conn = routing.conn.get().and_then(Weak::upgrade);
                if let (Some(page), Some(conn)) = (page, conn) {
                    page.on_event(&conn, method, &event.params);
                }
            }
            _ => {}
        }
    }

    fn closed(&self, _reason: &str) {
        self.0.closed.store(true, Ordering::SeqCst);
        for page in lock(&self.0.by_session).drain().map(|(_, page)| page) {
            page.mark_detached();
        }
    }
}

/// Turns on request interception for a freshly attached session, makes it auto-attach its
/// own children (frames, workers) paused, and lets it run. Sent in this order on one session,
/// so the interception is on before the target runs on.
fn intercept_target(conn: &CdpConnection, session: &str) {
    conn.send_detached("Fetch.enable", fetch_enable_params(), Some(session));
    conn.send_detached("Target.setAutoAttach", auto_attach_params(), Some(session));
    conn.send_detached("Runtime.runIfWaitingForDebugger", json!({}), Some(session));
}

fn auto_attach_params() -> Value {
    json!({ "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true })
}

/// A connected browser.
pub struct Instance {
    pub conn: Arc<CdpConnection>,
    routing: Arc<Routing>,
    pages: Mutex<HashMap<String, Arc<Page>>>,
    attach_gate: Gate,
    process: Mutex<Option<ProcessGroup>>,
    pub pid: Option<u32>,
    /// `host:port` of the DevTools HTTP endpoint, when there is one.
    pub http_authority: Option<String>,
    pub ws_url: String,
    pub launched: bool,
    pub headless: bool,
    pub user_data_dir: Option<PathBuf>,
    stderr_tail: Option<Arc<Mutex<VecDeque<String>>>>,
}

impl Instance {
    /// Connects to a browser the node just launched.
    pub fn from_launch(
        launched: LaunchedBrowser,
        headless: bool,
        user_data_dir: PathBuf,
        policy: &NavigationPolicy,
        budget: &Budget,
    ) -> Result<Instance, String> {
        let LaunchedBrowser {
            mut group,
            port,
            ws_url,
            stderr_tail,
        } = launched;
        match Instance::connect(&ws_url, policy, budget) {
            Ok((conn, routing)) => Ok(Instance {
                conn,
                routing,
                pages: Mutex::new(HashMap::new()),
                attach_gate: Gate::default(),
                pid: Some(group.id()),
                process: Mutex::new(Some(group)),
                http_authority: Some(format!("127.0.0.1:{port}")),
                ws_url,
                launched: true,
                headless,
                user_data_dir: Some(user_data_dir),
                stderr_tail: Some(stderr_tail),
            }),
            Err(err) => {
                group.terminate(Duration::from_millis(500));
                Err(err.to_string())
            }
        }
    }

    /// Connects to a browser someone else runs (`cdpUrl`, `attachOnly`).
    pub fn attach(
        endpoint: &str,
        policy: &NavigationPolicy,
        budget: &Budget,
    ) -> Result<Instance, String> {
        let (ws_url, http_authority) = if endpoint.starts_with("ws://") {
            (endpoint.to_string(), None)
        } else {
            let authority = endpoint
                .strip_prefix("http://")
                .ok_or_else(|| format!("unsupported cdpUrl {endpoint:?}: use http://host:port or ws://host:port/devtools/browser/<id>"))?
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let version = launcher::http_get_json(
                &authority,
                "/json/version",
                budget.remaining().min(Duration::from_secs(5)),
            )?;
            let ws = version
                .get("webSocketDebuggerUrl")
                .and_then(Value::as_str)
                .ok_or("CDP /json/version missing webSocketDebuggerUrl")?;
            // Chromium advertises its own idea of the host; keep the one that answered.
            let path = ws.splitn(4, '/').nth(3).unwrap_or("");
            (format!("ws://{authority}/{path}"), Some(authority))
        };
        let (conn, routing) =
            Instance::connect(&ws_url, policy, budget).map_err(|err| err.to_string())?;
        Ok(Instance {
            conn,
            routing,
            pages: Mutex::new(HashMap::new()),
            attach_gate: Gate::default(),
            process: Mutex::new(None),
            pid: None,
            http_authority,
            ws_url,
            launched: false,
            headless: false,
            user_data_dir: None,
            stderr_tail: None,
        })
    }

    fn connect(
        ws_url: &str,
        policy: &NavigationPolicy,
        budget: &Budget,
    ) -> Result<(Arc<CdpConnection>, Arc<Routing>), CdpError> {
        let routing = Arc::new(Routing::default());
        let listener = Arc::new(Listener(Arc::clone(&routing)));
        let conn = Arc::new(CdpConnection::connect(
            ws_url,
            budget.remaining().min(Duration::from_secs(5)),
            listener,
        )?);
        let _ = routing.conn.set(Arc::downgrade(&conn));
        if policy.restricts_requests() {
            let guard = RequestGuard::start(policy.clone(), Arc::downgrade(&conn)).map_err(|err| {
                CdpError::Connect(format!("cannot start the request guard: {err}"))
            })?;
            let _ = routing.requests.set(guard);
            // New targets (tabs, popups) start paused and attached, so their first request
            // is vetted too.
            let timeout = budget.remaining().min(Duration::from_secs(5));
            conn.call("Target.setAutoAttach", auto_attach_params(), None, timeout)?;
        }
        Ok((conn, routing))
    }

    /// Whether the browser can still be driven.
    pub fn is_alive(&self) -> bool {
        if self.conn.is_closed() || self.routing.closed.load(Ordering::SeqCst) {
            return false;
        }
        match lock(&self.process).as_mut() {
            Some(group) => matches!(group.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// Why the browser is gone: the connection's reason and, for a launched browser, how the
    /// process ended and its last stderr line.
    pub fn exit_report(&self) -> String {
        let mut report = self
            .conn
            .close_reason()
            .unwrap_or_else(|| "the browser stopped".to_string());
        if let Some(group) = lock(&self.process).as_mut() {
            if let Ok(Some(status)) = group.try_wait() {
                report.push_str(&format!("; process {status}"));
            }
        }
        if let Some(line) = self
            .stderr_tail
            .as_ref()
            .and_then(|tail| lock(tail).back().cloned())
        {
            report.push_str(&format!("; last stderr line: {line}"));
        }
        report
    }

    /// A command on the browser session, within the budget.
    pub fn call(&self, budget: &Budget, method: &str, params: Value) -> RouteResult<Value> {
        budget.check()?;
        let pending = self.conn.send(method, params, None)?;
        loop {
            if let Some(reply) = budget.reply(&pending, budget.deadline())? {
                return reply.map_err(RouteError::from);
            }
        }
    }

    /// Page targets, browser-internal pages removed, in CDP's order.
    pub fn page_targets(&self, budget: &Budget) -> RouteResult<Vec<TargetInfo>> {
        // `/json/list` orders tabs most recently active first, as the TS node shows them;
        // `Target.getTargets` (used when there is no HTTP endpoint) orders by creation.
        let listed = self.http_authority.as_deref().and_then(|authority| {
            let timeout = budget.remaining().min(Duration::from_secs(2));
            launcher::http_get_json(authority, "/json/list", timeout).ok()
        });
        let (infos, id_key) = match listed {
            Some(Value::Array(items)) => (items, "id"),
            _ => {
                let result = self.call(budget, "Target.getTargets", json!({}))?;
                let infos = result
                    .get("targetInfos")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                (infos, "targetId")
            }
        };
        let text = |info: &Value, key: &str| {
            info.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Ok(infos
            .iter()
            .filter(|info| info.get("type").and_then(Value::as_str) == Some("page"))
            .map(|info| TargetInfo {
                target_id: text(info, id_key),
                title: text(info, "title"),
                url: text(info, "url"),
            })
            .filter(|t| {
                !t.target_id.is_empty()
                    && !INTERNAL_URL_PREFIXES.iter().any(|p| t.url.starts_with(p))
            })
            .collect())
    }

    /// One target's current info (`Target.getTargetInfo`), `None` when it is gone.
    pub fn target_info(&self, budget: &Budget, target_id: &str) -> RouteResult<Option<TargetInfo>> {
        match self.call(
            budget,
            "Target.getTargetInfo",
            json!({ "targetId": target_id }),
        ) {
            Ok(result) => {
                let info = result.get("targetInfo").unwrap_or(&Value::Null);
                Ok(Some(TargetInfo {
                    target_id: target_id.to_string(),
                    title: info
                        .get("title")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    url: info
                        .get("url")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                }))
            }
            Err(RouteError::Http { status: 500, .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The `ws://…/devtools/page/<id>` URL of a target, as tabs report it.
    pub fn page_ws_url(&self, target_id: &str) -> Option<String> {
        let rest = self.ws_url.strip_prefix("ws://")?;
        let authority = rest.split('/').next()?;
        Some(format!("ws://{authority}/devtools/page/{target_id}"))
    }

    /// Creates a blank page target.
    pub fn create_blank_target(&self, budget: &Budget) -> RouteResult<String> {
        let result = self.call(
            budget,
            "Target.createTarget",
            json!({ "url": "about:blank" }),
        )?;
        result
            .get("targetId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| RouteError::internal("CDP Target.createTarget returned no targetId"))
    }

    /// Closes a target and forgets its session.
    pub fn close_target(&self, budget: &Budget, target_id: &str) -> RouteResult<()> {
        self.call(
            budget,
            "Target.closeTarget",
            json!({ "targetId": target_id }),
        )?;
        // Closing is asynchronous: wait (briefly) until the target is gone, so the next
        // listing does not show, and requests cannot resolve, a tab that is closing.
        let settle = budget.narrow(Duration::from_secs(2));
        while settle.check().is_ok() {
            match self.page_targets(&settle) {
                Ok(targets) if targets.iter().any(|t| t.target_id == target_id) => {
                    let _ = settle.sleep(Duration::from_millis(20));
                }
                _ => break,
            }
        }
        if let Some(page) = lock(&self.pages).remove(target_id) {
            page.mark_detached();
        }
        Ok(())
    }

    /// The attached page for `target_id`, attaching (and enabling the page domains) on first
    /// use.
    pub fn page(&self, budget: &Budget, target_id: &str) -> RouteResult<Arc<Page>> {
        let _attaching = self.attach_gate.acquire(budget)?;
        if let Some(page) = lock(&self.pages).get(target_id) {
            if !page.is_detached() {
                return Ok(Arc::clone(page));
            }
        }
        let attached = self.call(
            budget,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )?;
        let session_id = attached
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| RouteError::internal("CDP Target.attachToTarget returned no sessionId"))?
            .to_string();
        let page = Arc::new(Page::new(target_id.to_string(), session_id.clone()));
        lock(&self.routing.by_session).insert(session_id.clone(), Arc::clone(&page));
        lock(&self.pages).insert(target_id.to_string(), Arc::clone(&page));
        // Page events carry dialogs and navigations; lifecycle events tell when a document
        // loaded. None of these wait for the page's script, so a dialog cannot block them.
        // With a restricting policy, every request of the page is paused for the guard; the
        // interception is on before the page runs on (runIfWaitingForDebugger), and a page
        // whose interception cannot be enabled is not used.
        if self.routing.requests.get().is_some() {
            let pending = self
                .conn
                .send("Fetch.enable", fetch_enable_params(), Some(&session_id))?;
            let reply = budget.reply(&pending, Instant::now() + Duration::from_secs(5));
            if !matches!(reply, Ok(Some(Ok(_)))) {
                lock(&self.routing.by_session).remove(&session_id);
                lock(&self.pages).remove(target_id);
                return Err(RouteError::internal(format!(
                    "cannot vet the requests of tab {target_id} (CDP Fetch.enable: {reply:?})"
                )));
            }
        }
        for (method, params) in [
            ("Page.enable", json!({})),
            ("Page.setLifecycleEventsEnabled", json!({ "enabled": true })),
            ("Runtime.enable", json!({})),
            ("Runtime.runIfWaitingForDebugger", json!({})),
        ] {
            let pending = self.conn.send(method, params, Some(&session_id))?;
            match budget.reply(&pending, Instant::now() + Duration::from_secs(5))? {
                Some(Ok(_)) | None => {}
                Some(Err(err)) => log::debug!("browser: {method} on {target_id} failed: {err}"),
            }
        }
        let pending = self
            .conn
            .send("Page.getFrameTree", json!({}), Some(&session_id))?;
        let until = Instant::now() + Duration::from_secs(5);
        if let Ok(Some(Ok(tree))) = budget.reply(&pending, until) {
            let frame = tree
                .pointer("/frameTree/frame")
                .cloned()
                .unwrap_or(Value::Null);
            page.init_main_frame(
                frame.get("id").and_then(Value::as_str).map(str::to_string),
                frame
                    .get("loaderId")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            );
        }
        Ok(page)
    }

    /// Drops sessions whose targets no longer exist.
    pub fn forget_missing(&self, live: &[TargetInfo]) {
        lock(&self.pages).retain(|id, page| {
            let keep = live.iter().any(|t| &t.target_id == id);
            if !keep {
                page.mark_detached();
            }
            keep
        });
    }

    /// Stops the browser: `Browser.close`, then SIGTERM/SIGKILL to its process group. For an
    /// attached browser only the connection is closed.
    pub fn shutdown(&self) {
        let group = lock(&self.process).take();
        if let Some(mut group) = group {
            self.conn.expect_close();
            if !self.conn.is_closed() {
                let _ = self
                    .conn
                    .call("Browser.close", json!({}), None, Duration::from_secs(1));
            }
            // Browser.close usually ends it; whatever is left of the group (helpers that
            // outlive the main process, or a browser that ignored the close) is then
            // terminated, with a grace only when the main process is still running.
            let grace = if group.wait_timeout(Duration::from_secs(2)) {
                Duration::ZERO
            } else {
                Duration::from_secs(1)
            };
            group.terminate(grace);
        }
        self.conn.close();
        for page in lock(&self.pages).drain().map(|(_, page)| page) {
            page.mark_detached();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.shutdown();
    }
}
