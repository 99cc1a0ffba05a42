//! Executing a validated action over CDP: resolving a ref, waiting until the element is
//! actionable, sending real input events, and the page-side functions that do the rest.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::browser::budget::{Budget, Interrupt};
use crate::browser::error::{RouteError, RouteResult};
use crate::browser::instance::Instance;
use crate::browser::keys::{self, Chord};
use crate::browser::page::{on_action_timeout, Page, PageSession};

use super::request::*;
use super::url_glob::*;

/// What an executed action adds to `{ok, targetId, url}`.
#[derive(Debug, Default)]
pub struct ActOutcome {
    pub extra: Map<String, Value>,
    /// The tab was closed (by `close`, or a batch that closed it).
    pub closed: bool,
}

/// Everything an action runs against.
pub struct Actor<'a> {
    pub instance: &'a Instance,
    pub page: &'a Page,
    pub budget: &'a Budget,
    pub evaluate_enabled: bool,
}

/// A resolved element: a remote object to call functions on.
struct Element {
    object_id: String,
    label: String,
}

/// What the actionability probe reported.
enum Probe {
    Hidden,
    Covered,
    Disabled,
}

const PROBE_FUNCTION: &str = r#"function(mode) {
  if (!this.isConnected) return { s: "hidden" };
  const el = this.nodeType === 1 ? this : this.parentElement;
  if (!el) return { s: "hidden" };
  if (typeof el.scrollIntoViewIfNeeded === "function") el.scrollIntoViewIfNeeded(true);
  else el.scrollIntoView({ block: "center", inline: "center" });
  const style = getComputedStyle(el);
  if (style.visibility === "hidden" || style.display === "none") return { s: "hidden" };
  const rect = [...el.getClientRects()].find((r) => r.width > 0 && r.height > 0);
  if (!rect) return { s: "hidden" };
  const x = rect.left + rect.width / 2, y = rect.top + rect.height / 2;
  if (mode === "hover" || mode === "scroll") return { s: "ok", x, y };
  if (el.disabled === true || el.getAttribute("aria-disabled") === "true") return { s: "disabled" };
  if (mode === "fill") return { s: "ok", x, y };
  let hit = document.elementFromPoint(x, y);
  while (hit && hit.shadowRoot) {
    const inner = hit.shadowRoot.elementFromPoint(x, y);
    if (!inner || inner === hit) break;
    hit = inner;
  }
  for (let n = hit; n; n = n.parentNode || n.host) if (n === el) return { s: "ok", x, y };
  if (hit && el.labels) for (const label of el.labels) if (label === hit || label.contains(hit)) return { s: "ok", x, y };
  return { s: "covered" };
}"#;

const EDIT_FUNCTION: &str = r#"function() {
  const el = this;
  if (el instanceof HTMLInputElement) {
    const type = (el.type || "text").toLowerCase();
    if (["date", "time", "datetime-local", "month", "week", "color", "range"].includes(type)) return "value";
    if (!["", "text", "search", "url", "tel", "password", "email", "number"].includes(type)) return "no";
    if (el.readOnly) return "no";
    el.focus(); el.select(); return "ok";
  }
  if (el instanceof HTMLTextAreaElement) {
    if (el.readOnly) return "no";
    el.focus(); el.select(); return "ok";
  }
  if (el.isContentEditable) {
    el.focus();
    const range = document.createRange(); range.selectNodeContents(el);
    const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
    return "ok";
  }
  return "no";
}"#;

const SET_VALUE_FUNCTION: &str = r#"function(value) {
  this.value = value;
  this.dispatchEvent(new Event("input", { bubbles: true }));
  this.dispatchEvent(new Event("change", { bubbles: true }));
}"#;

const SELECT_FUNCTION: &str = r#"function(values) {
  if (!(this instanceof HTMLSelectElement)) return "notselect";
  const options = [...this.options];
  const matched = [];
  for (const v of values) {
    const o = options.find((o) => o.value === v) || options.find((o) => o.label === v || o.textContent.trim() === v);
    if (o && !matched.includes(o)) matched.push(o);
  }
  if (!matched.length) return "nomatch";
  if (this.multiple) for (const o of options) o.selected = matched.includes(o);
  else this.value = matched[0].value;
  this.dispatchEvent(new Event("input", { bubbles: true }));
  this.dispatchEvent(new Event("change", { bubbles: true }));
  return "ok";
}"#;

impl Actor<'_> {
    fn session(&self) -> PageSession<'_> {
        PageSession {
            conn: &self.instance.conn,
            page: self.page,
            budget: self.budget,
        }
    }

    fn with_budget<'b>(&'b self, budget: &'b Budget) -> Actor<'b> {
        Actor {
            instance: self.instance,
            page: self.page,
            budget,
            evaluate_enabled: self.evaluate_enabled,
        }
    }

    /// Runs one validated action.
    pub fn run(&self, request: &ActRequest) -> RouteResult<ActOutcome> {
        if self.page.has_pending_dialog() {
            return Err(RouteError::BlockedByDialog);
        }
        let mut outcome = ActOutcome::default();
        match &request.action {
            Action::Click {
                target,
                double,
                button,
                modifiers,
                delay_ms,
                timeout_ms,
            } => {
                let budget = self.budget.narrow(interaction_timeout(*timeout_ms));
                let actor = self.with_budget(&budget);
                let element = actor.element(target)?;
                let (x, y) = actor.actionable(&element, "click")?;
                actor.settle_navigation(|| {
                    actor.click_at(x, y, *button, *double, *modifiers, *delay_ms)
                })?;
            }
            Action::ClickCoords {
                x,
                y,
                double,
                button,
                delay_ms,
            } => {
                self.settle_navigation(|| self.click_at(*x, *y, *button, *double, 0, *delay_ms))?;
            }
            Action::Type {
                target,
                text,
                submit,
                slowly,
                timeout_ms,
            } => {
                let budget = self.budget.narrow(interaction_timeout(*timeout_ms));
                let actor = self.with_budget(&budget);
                let element = actor.element(target)?;
                if *slowly {
                    let (x, y) = actor.actionable(&element, "click")?;
                    actor.click_at(x, y, Button::Left, false, 0, None)?;
                    for ch in text.chars() {
                        let def = keys::char_def(ch);
                        actor
                            .session()
                            .call("Input.dispatchKeyEvent", keys::key_event(&def, true, 0))?;
                        actor
                            .session()
                            .call("Input.dispatchKeyEvent", keys::key_event(&def, false, 0))?;
                        self.budget.sleep(Duration::from_millis(75))?;
                    }
                } else {
                    actor.fill_text(&element, text)?;
                }
                if *submit {
                    self.settle_navigation(|| self.press("Enter", None))?;
                }
            }
            Action::InsertText { text } => {
                self.session()
                    .call("Input.insertText", json!({ "text": text }))?;
            }
            Action::Press { key, delay_ms } => {
                self.settle_navigation(|| self.press(key, *delay_ms))?;
            }
            Action::Hover { target, timeout_ms } => {
                let budget = self.budget.narrow(interaction_timeout(*timeout_ms));
                let actor = self.with_budget(&budget);
                let element = actor.element(target)?;
                let (x, y) = actor.actionable(&element, "hover")?;
                actor.mouse("mouseMoved", x, y, Button::Left, 0, 0)?;
            }
            Action::ScrollIntoView { target, timeout_ms } => {
                let budget = self.budget.narrow(wait_timeout(*timeout_ms));
                let actor = self.with_budget(&budget);
                let element = actor.element(target)?;
                actor.actionable(&element, "scroll")?;
            }
            Action::Drag {
                start,
                end,
                timeout_ms,
            } => {
                let budget = self.budget.narrow(interaction_timeout(*timeout_ms));
                let actor = self.with_budget(&budget);
                let from = actor.element(start)?;
                let (x0, y0) = actor.actionable(&from, "hover")?;
                actor.mouse("mouseMoved", x0, y0, Button::Left, 0, 0)?;
                actor.mouse("mousePressed", x0, y0, Button::Left, 1, 0)?;
                let to = actor.element(end)?;
                let (x1, y1) = actor.actionable(&to, "hover")?;
                for step in 1..=5 {
                    let t = f64::from(step) / 5.0;
                    actor.mouse(
                        "mouseMoved",
                        x0 + (x1 - x0) * t,
                        y0 + (y1 - y0) * t,
                        Button::Left,
                        0,
                        0,
                    )?;
                }
                actor.mouse("mouseReleased", x1, y1, Button::Left, 1, 0)?;
            }
            Action::Select {
                target,
                values,
                timeout_ms,
            } => {
                let budget = self.budget.narrow(interaction_timeout(*timeout_ms));
                let actor = self.with_budget(&budget);
                let element = actor.element(target)?;
                actor.actionable(&element, "fill")?;
                match actor.session().call_function_on(&element.object_id, SELECT_FUNCTION, vec![json!({ "value": values })])? {
                    Value::String(s) if s == "ok" => {}
                    Value::String(s) if s == "notselect" => {
                        return Err(RouteError::act_failed(format!("Element \"{}\" is not a <select> element. Use click for custom dropdowns.", element.label)))
                    }
                    _ => return Err(RouteError::internal(format!("select: no option matches {}", json!(values)))),
                }
            }
            Action::Fill { fields, timeout_ms } => {
                let budget = self.budget.narrow(interaction_timeout(*timeout_ms));
                let actor = self.with_budget(&budget);
                for field in fields {
                    actor.fill_field(field)?;
                }
            }
            Action::Resize { width, height } => {
                self.session().call(
                    "Emulation.setDeviceMetricsOverride",
                    json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
                )?;
            }
            Action::Wait { wait, timeout_ms } => {
                if wait.function.is_some() && !self.evaluate_enabled {
                    return Err(evaluate_disabled_error("wait"));
                }
                self.wait(wait, wait_timeout(*timeout_ms))?;
            }
            Action::Evaluate {
                function,
                reference,
                timeout_ms,
            } => {
                if !self.evaluate_enabled {
                    return Err(evaluate_disabled_error("evaluate"));
                }
                let value =
                    self.evaluate(function, reference.as_deref(), wait_timeout(*timeout_ms))?;
                if let Some(value) = value {
                    outcome.extra.insert("result".into(), value);
                }
            }
            Action::Close => {
                self.instance
                    .close_target(self.budget, &self.page.target_id)?;
                outcome.closed = true;
            }
            Action::Batch {
                actions,
                stop_on_error,
            } => return self.batch(actions, *stop_on_error),
        }
        Ok(outcome)
    }

    fn batch(&self, actions: &[ActRequest], stop_on_error: bool) -> RouteResult<ActOutcome> {
        let mut results: Vec<Value> = Vec::new();
        let mut outcome = ActOutcome::default();
        let total = actions.len();
        for (index, request) in actions.iter().enumerate() {
            let navigations = self.page.main_navigations();
            let result = match self.run(request) {
                Ok(inner) => {
                    if inner.closed {
                        results.push(json!({ "ok": true }));
                        outcome.closed = true;
                        let skipped = total - index - 1;
                        if skipped > 0 {
                            outcome.extra.insert("aborted".into(), json!({ "reason": "closed", "afterAction": index + 1, "url": "", "skipped": skipped }));
                        }
                        break;
                    }
                    json!({ "ok": true })
                }
                Err(err @ (RouteError::BlockedByDialog | RouteError::Interrupted(_))) => {
                    return Err(err)
                }
                Err(err) => {
                    json!({ "ok": false, "error": err.message().strip_prefix("Error: ").unwrap_or(&err.message()).to_string() })
                }
            };
            let failed = result.get("ok") == Some(&Value::Bool(false));
            results.push(result);
            if self.page.main_navigations() > navigations {
                let url = match self.page.main_url() {
                    Some(url) => url,
                    None => self
                        .instance
                        .target_info(self.budget, &self.page.target_id)?
                        .map(|t| t.url)
                        .unwrap_or_default(),
                };
                if let Some(Value::Object(last)) = results.last_mut() {
                    last.insert("navigated".into(), json!(true));
                    last.insert("url".into(), json!(url));
                }
                let skipped = total - index - 1;
                if skipped > 0 {
                    outcome.extra.insert("aborted".into(), json!({ "reason": "navigation", "afterAction": index + 1, "url": url, "skipped": skipped }));
                }
                break;
            }
            if failed && stop_on_error {
                break;
            }
        }
        let mut extra = Map::new();
        extra.insert("results".into(), Value::Array(results));
        extra.extend(outcome.extra);
        outcome.extra = extra;
        Ok(outcome)
    }

    /// Resolves a ref (or CSS selector) to a live element.
    fn element(&self, locator: &Locator) -> RouteResult<Element> {
        let session = self.session();
        match locator {
            Locator::Ref(raw) => {
                let reference = parse_ref(raw).ok_or_else(|| unknown_ref(raw))?;
                let target = self
                    .page
                    .lookup_ref(&reference)
                    .ok_or_else(|| unknown_ref(raw))?;
                let not_found = || {
                    RouteError::act_failed(format!("Element \"{raw}\" not found or not visible. Run a new snapshot to see current page elements."))
                };
                let backend = target.backend_node_id.ok_or_else(not_found)?;
                let object_id = session.resolve_node(backend)?.ok_or_else(not_found)?;
                Ok(Element {
                    object_id,
                    label: raw.clone(),
                })
            }
            Locator::Selector(selector) => loop {
                let expression = format!(
                    "(() => {{ const all = document.querySelectorAll({}); return all.length === 1 ? all[0] : all.length; }})()",
                    json!(selector)
                );
                let result = session.call(
                    "Runtime.evaluate",
                    json!({ "expression": expression, "returnByValue": false }),
                )?;
                if result.get("exceptionDetails").is_some() {
                    let invalid =
                        || RouteError::internal(format!("invalid selector {}", json!(selector)));
                    return Err(crate::browser::page::remote_value(result)
                        .err()
                        .unwrap_or_else(invalid));
                }
                if let Some(object_id) = result.pointer("/result/objectId").and_then(Value::as_str)
                {
                    return Ok(Element {
                        object_id: object_id.to_string(),
                        label: selector.clone(),
                    });
                }
                let count = result
                    .pointer("/result/value")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if count > 1 {
                    return Err(RouteError::act_failed(format!(
                        "Selector \"{selector}\" matched {count} elements. Run a new snapshot to get updated refs, or use a different ref."
                    )));
                }
                if let Err(interrupt) = self.budget.sleep(Duration::from_millis(100)) {
                    return Err(on_action_timeout(interrupt.into(), || {
                        RouteError::act_failed(format!("Element \"{selector}\" not found or not visible. Run a new snapshot to see current page elements."))
                    }));
                }
            },
        }
    }

    /// Waits until the element can take the interaction, and returns its centre.
    fn actionable(&self, element: &Element, mode: &str) -> RouteResult<(f64, f64)> {
        let mut last;
        loop {
            let result = self.session().call_function_on(
                &element.object_id,
                PROBE_FUNCTION,
                vec![json!({ "value": mode })],
            );
            match result {
                Ok(value) => {
                    last = match value.get("s").and_then(Value::as_str) {
                        Some("ok") => {
                            let x = value.get("x").and_then(Value::as_f64).unwrap_or(0.0);
                            let y = value.get("y").and_then(Value::as_f64).unwrap_or(0.0);
                            return Ok((x, y));
                        }
                        Some("covered") => Probe::Covered,
                        Some("disabled") => Probe::Disabled,
                        _ => Probe::Hidden,
                    }
                }
                Err(err @ (RouteError::BlockedByDialog | RouteError::Interrupted(_))) => {
                    return Err(err)
                }
                // The node left the document (re-render, navigation): it will not come back.
                Err(_) => last = Probe::Hidden,
            }
            if let Err(interrupt) = self.budget.sleep(Duration::from_millis(100)) {
                let label = &element.label;
                return Err(on_action_timeout(interrupt.into(), || {
                    match last {
                    Probe::Covered => RouteError::act_failed(format!("Element \"{label}\" is not interactable (covered; another element intercepts pointer events). Try scrolling it into view, closing overlays, or re-snapshotting.")),
                    Probe::Disabled => RouteError::act_failed(format!("Element \"{label}\" is not enabled. Complete any prerequisites that enable the control.")),
                    _ => RouteError::act_failed(format!("Element \"{label}\" not found or not visible. Run a new snapshot to see current page elements.")),
                }
                }));
            }
        }
    }

    fn mouse(
        &self,
        kind: &str,
        x: f64,
        y: f64,
        button: Button,
        click_count: u32,
        modifiers: u8,
    ) -> RouteResult<()> {
        let (name, bit) = match button {
            Button::Left => ("left", 1),
            Button::Right => ("right", 2),
            Button::Middle => ("middle", 4),
        };
        let mut event = json!({ "type": kind, "x": x, "y": y, "modifiers": modifiers });
        if kind != "mouseMoved" {
            event["button"] = json!(name);
            event["buttons"] = json!(if kind == "mousePressed" { bit } else { 0 });
            event["clickCount"] = json!(click_count);
        }
        self.session()
            .call("Input.dispatchMouseEvent", event)
            .map(|_| ())
    }

    fn click_at(
        &self,
        x: f64,
        y: f64,
        button: Button,
        double: bool,
        modifiers: u8,
        delay_ms: Option<u64>,
    ) -> RouteResult<()> {
        self.mouse("mouseMoved", x, y, button, 0, modifiers)?;
        if let Some(delay) = delay_ms.filter(|d| *d > 0) {
            self.budget.sleep(Duration::from_millis(delay))?;
        }
        let clicks = if double { 2 } else { 1 };
        for count in 1..=clicks {
            self.mouse("mousePressed", x, y, button, count, modifiers)?;
            self.mouse("mouseReleased", x, y, button, count, modifiers)?;
        }
        Ok(())
    }

    fn press(&self, chord: &str, delay_ms: Option<u64>) -> RouteResult<()> {
        let Chord { modifiers, key } = keys::parse_chord(chord).map_err(RouteError::internal)?;
        let mut bits = 0;
        let session = self.session();
        for (bit, def) in &modifiers {
            bits |= bit;
            session.call("Input.dispatchKeyEvent", keys::key_event(def, true, bits))?;
        }
        session.call("Input.dispatchKeyEvent", keys::key_event(&key, true, bits))?;
        if let Some(delay) = delay_ms.filter(|d| *d > 0) {
            self.budget.sleep(Duration::from_millis(delay))?;
        }
        session.call("Input.dispatchKeyEvent", keys::key_event(&key, false, bits))?;
        for (bit, def) in modifiers.iter().rev() {
            bits &= !bit;
            session.call("Input.dispatchKeyEvent", keys::key_event(def, false, bits))?;
        }
        Ok(())
    }

    /// Playwright's `fill`: focus, select everything, insert the text (or delete for "").
    fn fill_text(&self, element: &Element, text: &str) -> RouteResult<()> {
        self.actionable(element, "fill")?;
        let session = self.session();
        match session.call_function_on(&element.object_id, EDIT_FUNCTION, vec![])? {
            Value::String(mode) if mode == "ok" => {
                if text.is_empty() {
                    let backspace = keys::key_def("Backspace").unwrap_or_else(|| keys::char_def('\u{8}'));
                    session.call("Input.dispatchKeyEvent", keys::key_event(&backspace, true, 0))?;
                    session.call("Input.dispatchKeyEvent", keys::key_event(&backspace, false, 0))?;
                } else {
                    session.call("Input.insertText", json!({ "text": text }))?;
                }
                Ok(())
            }
            Value::String(mode) if mode == "value" => {
                session.call_function_on(&element.object_id, SET_VALUE_FUNCTION, vec![json!({ "value": text })])?;
                Ok(())
            }
            _ => Err(RouteError::act_failed(format!(
                "Element \"{}\" is not editable: this control does not support text input. Use an editable input, textarea, or contenteditable element.",
                element.label
            ))),
        }
    }

    fn fill_field(&self, field: &Field) -> RouteResult<()> {
        let element = self.element(&Locator::Ref(field.reference.clone()))?;
        if field.kind == "checkbox" || field.kind == "radio" {
            let wanted = matches!(&field.value, Some(Value::Bool(true)))
                || field
                    .value
                    .as_ref()
                    .map(|v| text_of(Some(v)))
                    .is_some_and(|t| t == "1" || t == "true");
            let checked = self.session().call_function_on(
                &element.object_id,
                "function() { return !!this.checked; }",
                vec![],
            )?;
            if checked != Value::Bool(wanted) {
                let (x, y) = self.actionable(&element, "click")?;
                self.click_at(x, y, Button::Left, false, 0, None)?;
                let now = self.session().call_function_on(
                    &element.object_id,
                    "function() { return !!this.checked; }",
                    vec![],
                )?;
                if now != Value::Bool(wanted) {
                    return Err(RouteError::act_failed(format!(
                        "Element \"{}\" did not change its checked state. Try clicking it instead.",
                        element.label
                    )));
                }
            }
            return Ok(());
        }
        let text = field
            .value
            .as_ref()
            .map(|v| text_of(Some(v)))
            .unwrap_or_default();
        let text = match &field.value {
            Some(Value::String(s)) => s.clone(),
            _ => text,
        };
        self.fill_text(&element, &text)
    }

    /// After an input that may follow a link or submit a form, waits for a navigation the
    /// browser started to commit, so the response (and the next batch step) see the new page.
    fn settle_navigation(&self, input: impl FnOnce() -> RouteResult<()>) -> RouteResult<()> {
        let (requested, stopped, same_document) = self.page.navigation_progress();
        let committed = self.page.main_navigations();
        input()?;
        let started =
            |p: &Page| p.navigation_progress().0 > requested || p.main_navigations() > committed;
        let grace = self.budget.narrow(Duration::from_millis(80));
        if self.page.wait_until(&grace, started).is_err() {
            return Ok(());
        }
        let settled = |p: &Page| {
            let (_, now_stopped, now_same) = p.navigation_progress();
            p.main_navigations() > committed || now_stopped > stopped || now_same > same_document
        };
        match self
            .page
            .wait_until(&self.budget.narrow(Duration::from_secs(5)), settled)
        {
            Err(
                err @ RouteError::Interrupted(Interrupt::RequestTimeout | Interrupt::Cancelled),
            ) => Err(err),
            _ => Ok(()),
        }
    }

    fn wait(&self, wait: &WaitSpec, timeout: Duration) -> RouteResult<()> {
        if let Some(ms) = wait.time_ms {
            self.budget.sleep(Duration::from_millis(ms))?;
        }
        let timeout_label = timeout.as_millis();
        let mut conditions: Vec<(String, String)> = Vec::new();
        if let Some(text) = &wait.text {
            conditions.push((
                format!("getByText({}).first() to be visible", json!(text)),
                format!(
                    "(() => !!document.body && document.body.innerText.includes({}))()",
                    json!(text)
                ),
            ));
        }
        if let Some(text) = &wait.text_gone {
            conditions.push((
                format!("getByText({}).first() to be hidden", json!(text)),
                format!(
                    "(() => !document.body || !document.body.innerText.includes({}))()",
                    json!(text)
                ),
            ));
        }
        if let Some(selector) = &wait.selector {
            conditions.push((
                format!("locator({}) to be visible", json!(selector)),
                format!(
                    "(() => {{ const el = document.querySelector({}); if (!el) return false; const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; }})()",
                    json!(selector)
                ),
            ));
        }
        if let Some(pattern) = &wait.url {
            conditions.push((format!("URL {}", json!(pattern)), String::new()));
        }
        if let Some(state) = &wait.load_state {
            let expression = match state.as_str() {
                "domcontentloaded" => "document.readyState !== 'loading'",
                _ => "document.readyState === 'complete'",
            };
            conditions.push((format!("load state \"{state}\""), expression.to_string()));
        }
        if let Some(function) = &wait.function {
            conditions.push((
                "function to return a truthy value".to_string(),
                format!("(async () => !!(await ({function})()))()"),
            ));
        }
        for (label, expression) in conditions {
            let budget = self.budget.narrow(timeout);
            let actor = self.with_budget(&budget);
            loop {
                let satisfied = if label.starts_with("URL ") {
                    let url = self
                        .instance
                        .target_info(&budget, &self.page.target_id)?
                        .map(|t| t.url)
                        .unwrap_or_default();
                    wait.url.as_deref().is_some_and(|p| url_matches(p, &url))
                } else if label.starts_with("load state \"networkidle") {
                    self.page.reached("networkIdle")
                        || self.page.reached("networkAlmostIdle")
                            && actor.session().evaluate(&expression)? == Value::Bool(true)
                } else {
                    match actor.session().evaluate(&expression) {
                        Ok(value) => value == Value::Bool(true),
                        Err(err @ (RouteError::BlockedByDialog | RouteError::Interrupted(_))) => {
                            return Err(on_action_timeout(err, || {
                                timeout_error(timeout_label, &label)
                            }))
                        }
                        Err(_) => false,
                    }
                };
                if satisfied {
                    break;
                }
                if let Err(interrupt) = budget.sleep(Duration::from_millis(100)) {
                    return Err(on_action_timeout(interrupt.into(), || {
                        timeout_error(timeout_label, &label)
                    }));
                }
            }
        }
        Ok(())
    }

    /// Evaluates the agent's function (or expression) in the page, optionally with the ref'd
    /// element as `el`.
    fn evaluate(
        &self,
        source: &str,
        reference: Option<&str>,
        timeout: Duration,
    ) -> RouteResult<Option<Value>> {
        let budget = self.budget.narrow(timeout);
        let actor = self.with_budget(&budget);
        let session = actor.session();
        let parses = |candidate: &str| -> RouteResult<bool> {
            let compiled = session.call(
                "Runtime.compileScript",
                json!({ "expression": format!("\"use strict\";\n({candidate});"), "sourceURL": "", "persistScript": false }),
            )?;
            Ok(compiled.get("exceptionDetails").is_none())
        };
        let function = normalize_function_source(source, reference.is_some(), parses)?;
        let timed_out = || {
            RouteError::internal(format!(
                "TimeoutError: evaluate timed out after {}ms",
                timeout.as_millis()
            ))
        };
        let result = match reference {
            None => session
                .call(
                    "Runtime.evaluate",
                    json!({ "expression": format!("({function})()"), "awaitPromise": true, "returnByValue": true, "userGesture": true }),
                )
                .map_err(|err| on_action_timeout(err, timed_out))?,
            Some(raw) => {
                let element = actor.element(&Locator::Ref(raw.to_string()))?;
                session
                    .call(
                        "Runtime.callFunctionOn",
                        json!({ "objectId": element.object_id, "functionDeclaration": function,
                                "arguments": [{ "objectId": element.object_id }],
                                "awaitPromise": true, "returnByValue": true, "userGesture": true }),
                    )
                    .map_err(|err| on_action_timeout(err, timed_out))?
            }
        };
        if result.get("exceptionDetails").is_some() {
            crate::browser::page::remote_value(result)?;
            return Ok(None);
        }
        // `undefined` has no value and is dropped from the JSON, as in TS.
        Ok(result.pointer("/result/value").cloned())
    }
}

fn timeout_error(timeout_ms: u128, label: &str) -> RouteError {
    RouteError::new(
        500,
        format!("TimeoutError: Timeout {timeout_ms}ms exceeded.\nwaiting for {label}"),
    )
}

/// TS `normalizeBrowserEvaluateFunctionSource`: function sources are used as they are;
/// expressions are evaluated (and called when they yield a function); anything else becomes an
/// async function body.
pub fn normalize_function_source(
    source: &str,
    with_element: bool,
    parses: impl Fn(&str) -> RouteResult<bool>,
) -> RouteResult<String> {
    let trimmed = source.trim();
    let args = if with_element { "(el)" } else { "()" };
    if looks_like_function(trimmed) && parses(trimmed)? {
        return Ok(trimmed.to_string());
    }
    if parses(trimmed)? {
        let call = if with_element { "el" } else { "" };
        return Ok(format!(
            "{args} => {{\nconst __openclawEvaluateExpressionResult = ({trimmed});\nreturn typeof __openclawEvaluateExpressionResult === \"function\" ? __openclawEvaluateExpressionResult({call}) : __openclawEvaluateExpressionResult;\n}}"
        ));
    }
    Ok(format!("async {args} => {{\n{trimmed}\n}}"))
}

/// `^(?:async\s+)?(?:function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)`
pub(super) fn looks_like_function(source: &str) -> bool {
    let mut rest = source;
    if let Some(after) = rest.strip_prefix("async") {
        if after.starts_with(char::is_whitespace) {
            rest = after.trim_start();
        }
    }
    if let Some(after) = rest.strip_prefix("function") {
        return !after.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$');
    }
    if let Some(after) = rest.strip_prefix('(') {
        return after.find(')').is_some_and(|close| {
            !after[..close].contains('(') && after[close + 1..].trim_start().starts_with("=>")
        });
    }
    let ident_len = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
        .count();
    ident_len > 0
        && !rest.starts_with(|c: char| c.is_ascii_digit())
        && rest[ident_len..].trim_start().starts_with("=>")
}
