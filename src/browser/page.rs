//! One attached tab: its persistent CDP session and what the node tracks about it.
//!
//! The session stays attached for the tab's life, so events are seen even between requests:
//! JavaScript dialogs (an open `alert()` blocks the page's JS, and with it most CDP calls),
//! main-frame navigations (which invalidate snapshot refs) and load progress. Events arrive on
//! the connection's reader thread ([`Page::on_event`]) and waiting requests are woken through a
//! condition variable.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crossbeam_channel::{Receiver, Select, Sender};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::budget::{Budget, Gate, Interrupt};
use super::cdp::{lock, CdpConnection};
use super::error::{RouteError, RouteResult};
use crate::clock::iso_now;

const MAX_CONSOLE: usize = 500;
const MAX_ERRORS: usize = 200;
/// Longest text kept per console or error field (TS `truncateObservedPageText`).
const MAX_OBSERVED_CHARS: usize = 2048;

fn observed_text(text: &str) -> String {
    text.chars().take(MAX_OBSERVED_CHARS).collect()
}

/// A `Runtime.consoleAPICalled` event as TS records a Playwright console message.
fn console_entry(params: &Value) -> Value {
    let args = params
        .get("args")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = args
        .iter()
        .map(|arg| match arg.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => arg
                .get("unserializableValue")
                .or_else(|| arg.get("description"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    arg.get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("undefined")
                        .to_string()
                }),
            Some(other) => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    let frame = params
        .pointer("/stackTrace/callFrames/0")
        .cloned()
        .unwrap_or(Value::Null);
    let line = frame.get("lineNumber").and_then(Value::as_i64).unwrap_or(0);
    let column = frame
        .get("columnNumber")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    json!({
        "type": observed_text(params.get("type").and_then(Value::as_str).unwrap_or("log")),
        "text": observed_text(&text),
        "timestamp": iso_now(),
        "location": { "url": observed_text(frame.get("url").and_then(Value::as_str).unwrap_or("")),
                      "line": line, "column": column, "lineNumber": line, "columnNumber": column },
    })
}

/// A `Runtime.exceptionThrown` event as TS records a Playwright page error.
fn error_entry(params: &Value) -> Value {
    let details = params.get("exceptionDetails").unwrap_or(&Value::Null);
    let exception = details.get("exception").unwrap_or(&Value::Null);
    let description = exception.get("description").and_then(Value::as_str);
    let name = exception
        .get("className")
        .and_then(Value::as_str)
        .unwrap_or("Error");
    let first_line = description.and_then(|d| d.lines().next()).unwrap_or("");
    let message = first_line
        .strip_prefix(&format!("{name}: "))
        .map(str::to_string)
        .or_else(|| {
            exception.get("value").map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
        })
        .or_else(|| {
            details
                .get("text")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let mut entry = Map::new();
    entry.insert("message".into(), json!(observed_text(&message)));
    entry.insert("name".into(), json!(observed_text(name)));
    if let Some(stack) = description {
        entry.insert("stack".into(), json!(observed_text(stack)));
    }
    entry.insert("timestamp".into(), json!(iso_now()));
    Value::Object(entry)
}

/// How many closed dialogs a tab remembers (TS keeps 20).
const RECENT_DIALOGS: usize = 20;
/// An armed dialog response lapses after this long (TS default 120 s).
pub const DEFAULT_ARM_TIMEOUT: Duration = Duration::from_secs(120);

/// A JavaScript dialog the page opened.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub id: String,
    pub kind: String,
    pub message: String,
    /// Only for `prompt`.
    pub default_value: Option<String>,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<&'static str>,
}

impl Dialog {
    fn to_json(&self) -> Value {
        let mut record = Map::new();
        record.insert("id".into(), json!(self.id));
        record.insert("type".into(), json!(self.kind));
        record.insert("message".into(), json!(self.message));
        if let Some(value) = &self.default_value {
            record.insert("defaultValue".into(), json!(value));
        }
        record.insert("openedAt".into(), json!(self.opened_at));
        if let Some(at) = &self.closed_at {
            record.insert("closedAt".into(), json!(at));
        }
        if let Some(by) = self.closed_by {
            record.insert("closedBy".into(), json!(by));
        }
        Value::Object(record)
    }
}

/// A response prepared by `POST /hooks/dialog` for the next dialog.
#[derive(Debug, Clone)]
struct ArmedResponse {
    accept: bool,
    prompt_text: Option<String>,
    expires: Instant,
}

/// What a snapshot ref points at.
#[derive(Debug, Clone, PartialEq)]
pub struct RefTarget {
    pub role: String,
    pub name: String,
    pub nth: usize,
    pub backend_node_id: Option<i64>,
}

/// The refs of the tab's last snapshot, valid for one main-frame document.
#[derive(Debug, Default)]
struct RefStore {
    loader_id: Option<String>,
    refs: HashMap<String, RefTarget>,
}

#[derive(Default)]
struct PageState {
    detached: bool,
    pending_dialogs: Vec<Dialog>,
    recent_dialogs: VecDeque<Dialog>,
    next_dialog: u64,
    /// Dialogs the node answered whose `Page.javascriptDialogClosed` has not arrived yet.
    /// Chromium can send that event a second later, when the page may already show the next
    /// dialog, which must not be taken for closed.
    answered_unclosed: u32,
    armed: Option<ArmedResponse>,
    main_frame_id: Option<String>,
    main_loader_id: Option<String>,
    /// The committed main-frame URL (ahead of `Target.getTargetInfo` right after a commit).
    main_url: Option<String>,
    /// Lifecycle events seen for the current main-frame document.
    lifecycle: Vec<String>,
    /// Recent main-frame documents that reached `load`.
    loaded: VecDeque<String>,
    refs: RefStore,
    /// Console messages and uncaught exceptions, newest last (TS keeps 500 and 200).
    console: VecDeque<Value>,
    errors: VecDeque<Value>,
    /// Counters of main-frame navigation progress, compared before and after an input to see
    /// whether it started (and finished) a navigation.
    main_navigations: u64,
    navigation_requests: u64,
    loads_stopped: u64,
    same_document_navigations: u64,
}

/// An attached tab.
pub struct Page {
    pub target_id: String,
    pub session_id: String,
    state: Mutex<PageState>,
    /// Who waits for the page's state to change: one channel per waiting request (see
    /// [`Page::watch`]), poked whenever an event changed the state.
    watchers: Mutex<Vec<(u64, Sender<()>)>>,
    next_watcher: AtomicU64,
    /// One action at a time per tab: two clicks must not interleave their mouse events.
    pub action_gate: Gate,
}

/// The CDP session of a page, bound to one request's budget.
pub struct PageSession<'a> {
    pub conn: &'a CdpConnection,
    pub page: &'a Page,
    pub budget: &'a Budget,
}

impl Page {
    pub fn new(target_id: String, session_id: String) -> Page {
        Page {
            target_id,
            session_id,
            state: Mutex::new(PageState::default()),
            watchers: Mutex::new(Vec::new()),
            next_watcher: AtomicU64::new(0),
            action_gate: Gate::default(),
        }
    }

    /// Applies one session event. Runs on the reader thread: it may answer a dialog with a
    /// detached send, but never waits.
    pub fn on_event(&self, conn: &CdpConnection, method: &str, params: &Value) {
        if method.starts_with("Page.javascriptDialog") {
            log::debug!("tab {}: {method} {params}", self.target_id);
        }
        let mut state = lock(&self.state);
        match method {
            "Page.javascriptDialogOpening" => {
                state.next_dialog += 1;
                let kind = params
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("alert")
                    .to_string();
                let dialog = Dialog {
                    id: format!("d{}", state.next_dialog),
                    default_value: (kind == "prompt").then(|| {
                        params
                            .get("defaultPrompt")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    }),
                    kind,
                    message: params
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    opened_at: iso_now(),
                    closed_at: None,
                    closed_by: None,
                };
                match state.armed.take() {
                    Some(armed) if armed.expires > Instant::now() => {
                        let mut params = json!({ "accept": armed.accept });
                        if let Some(text) = &armed.prompt_text {
                            params["promptText"] = json!(text);
                        }
                        conn.send_detached(
                            "Page.handleJavaScriptDialog",
                            params,
                            Some(&self.session_id),
                        );
                        state.answered_unclosed += 1;
                        record_closed(&mut state, dialog, "armed");
                    }
                    _ => state.pending_dialogs.push(dialog),
                }
            }
            "Page.javascriptDialogClosed" => {
                // Dialogs the node answered were already moved to `recent`; anything still
                // pending was closed by the page or a navigation.
                if state.answered_unclosed > 0 {
                    state.answered_unclosed -= 1;
                } else if !state.pending_dialogs.is_empty() {
                    let dialog = state.pending_dialogs.remove(0);
                    record_closed(&mut state, dialog, "remote");
                }
            }
            "Page.frameNavigated" => {
                let frame = params.get("frame").unwrap_or(&Value::Null);
                if frame.get("parentId").is_none() {
                    state.main_frame_id =
                        frame.get("id").and_then(Value::as_str).map(str::to_string);
                    let loader = frame
                        .get("loaderId")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    if loader != state.main_loader_id {
                        state.main_loader_id = loader;
                        state.lifecycle.clear();
                    }
                    // An error page reports the URL that failed, as TS's `readCommittedFrameUrl`.
                    let url = frame.get("url").and_then(Value::as_str).unwrap_or("");
                    let fragment = frame
                        .get("urlFragment")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let unreachable = frame
                        .get("unreachableUrl")
                        .and_then(Value::as_str)
                        .filter(|u| !u.is_empty());
                    state.main_url = Some(
                        unreachable
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("{url}{fragment}")),
                    );
                    state.refs = RefStore::default();
                    state.main_navigations += 1;
                }
            }
            "Page.frameRequestedNavigation"
            | "Page.frameStartedLoading"
            | "Page.frameStartedNavigating" => {
                if is_main_frame(&state, params) {
                    state.navigation_requests += 1;
                }
            }
            "Page.frameStoppedLoading" => {
                if is_main_frame(&state, params) {
                    state.loads_stopped += 1;
                }
            }
            "Page.navigatedWithinDocument" => {
                if is_main_frame(&state, params) {
                    state.same_document_navigations += 1;
                    if let Some(url) = params.get("url").and_then(Value::as_str) {
                        state.main_url = Some(url.to_string());
                    }
                }
            }
            "Page.lifecycleEvent" => {
                let frame = params.get("frameId").and_then(Value::as_str);
                let is_main =
                    state.main_frame_id.is_none() || frame == state.main_frame_id.as_deref();
                if is_main {
                    let loader = params
                        .get("loaderId")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let name = params
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if name == "init" && Some(&loader) != state.main_loader_id.as_ref() {
                        state.lifecycle.clear();
                    }
                    if name == "load" {
                        if state.loaded.len() >= 8 {
                            state.loaded.pop_front();
                        }
                        state.loaded.push_back(loader);
                    }
                    if !state.lifecycle.contains(&name) {
                        state.lifecycle.push(name);
                    }
                }
            }
            "Inspector.detached" | "Inspector.targetCrashed" => state.detached = true,
            "Runtime.consoleAPICalled" => {
                if state.console.len() >= MAX_CONSOLE {
                    state.console.pop_front();
                }
                state.console.push_back(console_entry(params));
                return;
            }
            "Runtime.exceptionThrown" => {
                if state.errors.len() >= MAX_ERRORS {
                    state.errors.pop_front();
                }
                state.errors.push_back(error_entry(params));
                return;
            }
            _ => return,
        }
        drop(state);
        self.notify_changed();
    }

    /// The session or its target went away (tab closed, browser gone).
    pub fn mark_detached(&self) {
        lock(&self.state).detached = true;
        self.notify_changed();
    }

    /// Wakes every watcher. A watcher whose channel already holds a poke needs no second one.
    fn notify_changed(&self) {
        for (_, poke) in lock(&self.watchers).iter() {
            let _ = poke.try_send(());
        }
    }

    /// A channel that receives a message after each change of the page's state, until the
    /// returned watch is dropped. Take it *before* looking at the state, so that no change
    /// falls between the look and the wait.
    pub fn watch(&self) -> PageWatch<'_> {
        let (poke, changes) = crossbeam_channel::bounded(1);
        let id = self.next_watcher.fetch_add(1, Ordering::Relaxed);
        lock(&self.watchers).push((id, poke));
        PageWatch {
            page: self,
            id,
            changes,
        }
    }

    pub fn is_detached(&self) -> bool {
        lock(&self.state).detached
    }

    pub fn has_pending_dialog(&self) -> bool {
        !lock(&self.state).pending_dialogs.is_empty()
    }

    /// Records the main frame as read from `Page.getFrameTree` right after attaching, unless
    /// an event already told us something newer.
    pub fn init_main_frame(&self, frame_id: Option<String>, loader_id: Option<String>) {
        let mut state = lock(&self.state);
        if state.main_loader_id.is_none() {
            state.main_frame_id = frame_id;
            state.main_loader_id = loader_id;
        }
    }

    pub fn main_loader_id(&self) -> Option<String> {
        lock(&self.state).main_loader_id.clone()
    }

    /// Whether the main-frame document `loader_id` has fired `load`.
    pub fn has_loaded(&self, loader_id: &str) -> bool {
        lock(&self.state).loaded.iter().any(|l| l == loader_id)
    }

    /// Whether the current main-frame document has reached `event` (`load`,
    /// `DOMContentLoaded`, `networkIdle`).
    pub fn reached(&self, event: &str) -> bool {
        lock(&self.state).lifecycle.iter().any(|e| e == event)
    }

    /// The main frame's URL as of its last committed navigation.
    pub fn main_url(&self) -> Option<String> {
        lock(&self.state).main_url.clone()
    }

    /// Main-frame documents committed since attaching.
    pub fn main_navigations(&self) -> u64 {
        lock(&self.state).main_navigations
    }

    /// Navigation progress counters: `(requested or started, loads stopped, same-document)`.
    pub fn navigation_progress(&self) -> (u64, u64, u64) {
        let state = lock(&self.state);
        (
            state.navigation_requests,
            state.loads_stopped,
            state.same_document_navigations,
        )
    }

    /// `{dialogs:{pending, recent}}`.
    pub fn browser_state(&self) -> Value {
        let state = lock(&self.state);
        json!({ "dialogs": {
            "pending": state.pending_dialogs.iter().map(Dialog::to_json).collect::<Vec<_>>(),
            "recent": state.recent_dialogs.iter().map(Dialog::to_json).collect::<Vec<_>>(),
        }})
    }

    /// Console messages at or above `level` (TS priorities: error 3, warn 2, info/log 1,
    /// debug 0).
    pub fn console_messages(&self, level: Option<&str>) -> Vec<Value> {
        let priority = |level: &str| match level {
            "error" => 3,
            "warn" | "warning" => 2,
            "debug" => 0,
            _ => 1,
        };
        let state = lock(&self.state);
        match level {
            None => state.console.iter().cloned().collect(),
            Some(level) => {
                let min = priority(level);
                state
                    .console
                    .iter()
                    .filter(|m| {
                        priority(m.get("type").and_then(Value::as_str).unwrap_or("")) >= min
                    })
                    .cloned()
                    .collect()
            }
        }
    }

    /// Uncaught page errors, optionally clearing them.
    pub fn page_errors(&self, clear: bool) -> Vec<Value> {
        let mut state = lock(&self.state);
        let errors = state.errors.iter().cloned().collect();
        if clear {
            state.errors.clear();
        }
        errors
    }

    /// True when any dialog was ever seen on this tab (responses then carry `browserState`).
    pub fn has_dialog_history(&self) -> bool {
        let state = lock(&self.state);
        !state.pending_dialogs.is_empty() || !state.recent_dialogs.is_empty()
    }

    /// Replaces the tab's refs with those of a new snapshot of document `loader_id`.
    pub fn store_refs(&self, loader_id: Option<String>, refs: HashMap<String, RefTarget>) {
        lock(&self.state).refs = RefStore { loader_id, refs };
    }

    /// The target of `reference`, if the snapshot that made it still describes the page.
    pub fn lookup_ref(&self, reference: &str) -> Option<RefTarget> {
        let mut state = lock(&self.state);
        if state.refs.loader_id.is_some() && state.refs.loader_id != state.main_loader_id {
            state.refs = RefStore::default();
        }
        state.refs.refs.get(reference).cloned()
    }

    pub fn clear_refs(&self) {
        lock(&self.state).refs = RefStore::default();
    }

    /// Arms a one-shot response for the next dialog.
    pub fn arm_dialog(&self, accept: bool, prompt_text: Option<String>, timeout: Duration) {
        lock(&self.state).armed = Some(ArmedResponse {
            accept,
            prompt_text,
            expires: Instant::now() + timeout,
        });
    }

    /// Takes the pending dialog to answer: `dialog_id`, or the only one pending.
    pub fn take_pending_dialog(&self, dialog_id: Option<&str>) -> Result<Dialog, String> {
        let mut state = lock(&self.state);
        let index = match dialog_id {
            Some(id) => state
                .pending_dialogs
                .iter()
                .position(|d| d.id == id)
                .ok_or_else(|| format!("Dialog \"{id}\" is not pending."))?,
            None => match state.pending_dialogs.len() {
                0 => return Err("No dialog is pending.".to_string()),
                1 => 0,
                _ => return Err("Multiple dialogs are pending; pass dialogId.".to_string()),
            },
        };
        Ok(state.pending_dialogs.remove(index))
    }

    /// Notes, before answering a dialog, that its `javascriptDialogClosed` event will come
    /// (it may arrive before the answer's reply). [`Page::answer_failed`] takes it back.
    pub fn expect_dialog_close(&self) {
        lock(&self.state).answered_unclosed += 1;
    }

    /// The answer was refused: no close event will follow it.
    pub fn answer_failed(&self) {
        let mut state = lock(&self.state);
        state.answered_unclosed = state.answered_unclosed.saturating_sub(1);
    }

    /// Records a dialog the node answered.
    pub fn record_answered(&self, dialog: Dialog, closed_by: &'static str) {
        record_closed(&mut lock(&self.state), dialog, closed_by);
        self.notify_changed();
    }

    /// Waits until `ready` holds, the page detaches, or the budget ends.
    pub fn wait_until(&self, budget: &Budget, ready: impl Fn(&Page) -> bool) -> RouteResult<()> {
        let watch = self.watch();
        loop {
            if ready(self) {
                return Ok(());
            }
            if self.is_detached() {
                return Err(RouteError::internal(
                    "Target page, context or browser has been closed",
                ));
            }
            budget.check()?;
            // The page owns the other end while the watch lives: never disconnected.
            let _ = budget.recv(&watch.changes)?;
        }
    }
}

/// A registration for the page's changes; see [`Page::watch`].
pub struct PageWatch<'a> {
    page: &'a Page,
    id: u64,
    pub changes: Receiver<()>,
}

impl Drop for PageWatch<'_> {
    fn drop(&mut self) {
        lock(&self.page.watchers).retain(|(id, _)| *id != self.id);
    }
}

fn is_main_frame(state: &PageState, params: &Value) -> bool {
    let frame = params.get("frameId").and_then(Value::as_str);
    state.main_frame_id.is_none() || frame == state.main_frame_id.as_deref()
}

fn record_closed(state: &mut PageState, mut dialog: Dialog, closed_by: &'static str) {
    dialog.closed_at = Some(iso_now());
    dialog.closed_by = Some(closed_by);
    if state.recent_dialogs.len() >= RECENT_DIALOGS {
        state.recent_dialogs.pop_front();
    }
    state.recent_dialogs.push_back(dialog);
}

/// How long the first wait for a reply lasts before looking for a dialog that blocks it:
/// long enough that quick commands never see a dialog that does not concern them.
const DIALOG_CHECK_AFTER: Duration = Duration::from_millis(50);

impl PageSession<'_> {
    /// Sends a command on the page's session and waits within the budget. A JavaScript dialog
    /// that opens while waiting ends the wait with [`RouteError::BlockedByDialog`]: the page's
    /// script is paused until someone answers it.
    pub fn call(&self, method: &str, params: Value) -> RouteResult<Value> {
        self.budget.check()?;
        let watch = self.page.watch();
        let pending = self
            .conn
            .send(method, params, Some(&self.page.session_id))?;
        let map_reply = |reply: super::cdp::Reply| {
            reply.map_err(|err| match err {
                super::cdp::CdpError::Protocol { message, .. }
                    if message.contains("Session with given id not found") =>
                {
                    self.page.mark_detached();
                    RouteError::internal("Target page, context or browser has been closed")
                }
                other => other.into(),
            })
        };
        let first_look = Instant::now() + DIALOG_CHECK_AFTER;
        if let Some(reply) = self.budget.reply(&pending, first_look)? {
            return map_reply(reply);
        }
        loop {
            // Changes before this look are seen by it; later ones poke the watch.
            while watch.changes.try_recv().is_ok() {}
            if let Some(reply) = pending.try_reply() {
                return map_reply(reply);
            }
            if self.page.has_pending_dialog() {
                return Err(RouteError::BlockedByDialog);
            }
            if self.page.is_detached() {
                return Err(RouteError::internal(
                    "Target page, context or browser has been closed",
                ));
            }
            // The answer, a dialog opening, the page going away, a cancel or the deadline.
            let mut select = Select::new();
            select.recv(pending.receiver());
            select.recv(&watch.changes);
            self.budget.ready(select, self.budget.deadline())?;
        }
    }

    /// `Runtime.evaluate` returning the value (by value), or the page's exception as an error.
    pub fn evaluate(&self, expression: &str) -> RouteResult<Value> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true, "userGesture": true }),
        )?;
        remote_value(result)
    }

    /// Resolves a backend DOM node to a remote object id.
    pub fn resolve_node(&self, backend_node_id: i64) -> RouteResult<Option<String>> {
        match self.call(
            "DOM.resolveNode",
            json!({ "backendNodeId": backend_node_id }),
        ) {
            Ok(result) => Ok(result
                .pointer("/object/objectId")
                .and_then(Value::as_str)
                .map(str::to_string)),
            Err(RouteError::Http { status: 500, .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// `Runtime.callFunctionOn` with `this` = `object_id`; returns the value by value.
    pub fn call_function_on(
        &self,
        object_id: &str,
        function: &str,
        args: Vec<Value>,
    ) -> RouteResult<Value> {
        let result = self.call(
            "Runtime.callFunctionOn",
            json!({ "objectId": object_id, "functionDeclaration": function, "arguments": args,
                    "returnByValue": true, "awaitPromise": true, "userGesture": true }),
        )?;
        remote_value(result)
    }

    /// Best-effort release of a remote object.
    pub fn release(&self, object_id: &str) {
        self.conn.send_detached(
            "Runtime.releaseObject",
            json!({ "objectId": object_id }),
            Some(&self.page.session_id),
        );
    }
}

/// Unwraps a `Runtime.evaluate`/`callFunctionOn` result: the value, or the exception as a 500.
pub fn remote_value(result: Value) -> RouteResult<Value> {
    if let Some(details) = result.get("exceptionDetails") {
        let description = details
            .pointer("/exception/description")
            .and_then(Value::as_str)
            .or_else(|| details.pointer("/exception/value").and_then(Value::as_str))
            .or_else(|| details.get("text").and_then(Value::as_str))
            .unwrap_or("evaluation failed");
        let message = description.strip_prefix("Error: ").unwrap_or(description);
        return Err(RouteError::internal(message));
    }
    Ok(result
        .pointer("/result/value")
        .cloned()
        .unwrap_or(Value::Null))
}

/// Maps an expired action timeout to `message`, leaving request timeouts alone.
pub fn on_action_timeout(err: RouteError, message: impl FnOnce() -> RouteError) -> RouteError {
    match err {
        RouteError::Interrupted(Interrupt::ActionTimeout) => message(),
        RouteError::Http {
            status: 500,
            ref body,
        } if body.get("error").and_then(Value::as_str)
            == Some("TimeoutError: browser action timed out") =>
        {
            message()
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_look_like_javascript() {
        let now = iso_now();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T');
    }

    #[test]
    fn refs_die_with_their_document() {
        let page = Page::new("T".into(), "S".into());
        page.init_main_frame(Some("F".into()), Some("L1".into()));
        let target = RefTarget {
            role: "button".into(),
            name: "Go".into(),
            nth: 0,
            backend_node_id: Some(7),
        };
        page.store_refs(
            Some("L1".into()),
            HashMap::from([("e1".to_string(), target.clone())]),
        );
        assert_eq!(page.lookup_ref("e1"), Some(target));
        let mut state = lock(&page.state);
        state.main_loader_id = Some("L2".into());
        drop(state);
        assert_eq!(page.lookup_ref("e1"), None);
    }

    #[test]
    fn pending_dialog_selection_follows_ts() {
        let page = Page::new("T".into(), "S".into());
        assert_eq!(
            page.take_pending_dialog(None).unwrap_err(),
            "No dialog is pending."
        );
        assert_eq!(
            page.take_pending_dialog(Some("d9")).unwrap_err(),
            "Dialog \"d9\" is not pending."
        );
    }
}
