//! `POST /act`: validation of the action body (spec §5.9, §7.3) and its execution over CDP
//! (spec §6.5).
//!
//! Validation is pure and keeps TS's messages and order. Execution resolves a ref to its
//! backend DOM node, waits until the element is actionable (attached, visible, not covered,
//! enabled), then sends real input events, so pages see the same events a user's click makes.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::budget::{Budget, Interrupt};
use super::error::{RouteError, RouteResult};
use super::instance::Instance;
use super::keys::{self, Chord};
use super::page::{on_action_timeout, Page, PageSession};

/// Kinds `/act` knows (TS `ACT_KINDS`).
const ACT_KINDS: [&str; 15] = [
    "batch",
    "click",
    "clickCoords",
    "close",
    "drag",
    "evaluate",
    "fill",
    "hover",
    "insertText",
    "scrollIntoView",
    "press",
    "resize",
    "select",
    "type",
    "wait",
];
/// Kinds that may name their element by CSS selector.
const SELECTOR_KINDS: [&str; 8] = [
    "batch",
    "click",
    "drag",
    "hover",
    "scrollIntoView",
    "select",
    "type",
    "wait",
];
/// The 400 for `selector` on kinds that only take refs (TS text, `Error: ` included).
pub const SELECTOR_UNSUPPORTED_MESSAGE: &str = "Error: 'selector' is not supported. Use 'ref' from snapshot instead.\n\nExample workflow:\n1. snapshot action to get page state with refs\n2. act with ref: \"e123\" to interact with element\n\nThis is more reliable for modern SPAs.";
const MAX_CLICK_DELAY_MS: u64 = 5_000;
const MAX_WAIT_TIME_MS: u64 = 30_000;
const MAX_VIEWPORT: i64 = 8_192;
const MAX_BATCH_ACTIONS: usize = 100;
const MAX_BATCH_DEPTH: usize = 5;
/// JS timers cap: larger `timeoutMs` values are clamped to it.
const MAX_TIMER_MS: u64 = 2_147_000_000;

/// The element an action targets.
#[derive(Debug, Clone, PartialEq)]
pub enum Locator {
    Ref(String),
    Selector(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Left,
    Right,
    Middle,
}

/// One form field of `fill`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub reference: String,
    pub kind: String,
    pub value: Option<Value>,
}

/// A validated action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Click {
        target: Locator,
        double: bool,
        button: Button,
        modifiers: u8,
        delay_ms: Option<u64>,
        timeout_ms: Option<u64>,
    },
    ClickCoords {
        x: f64,
        y: f64,
        double: bool,
        button: Button,
        delay_ms: Option<u64>,
    },
    Type {
        target: Locator,
        text: String,
        submit: bool,
        slowly: bool,
        timeout_ms: Option<u64>,
    },
    InsertText {
        text: String,
    },
    Press {
        key: String,
        delay_ms: Option<u64>,
    },
    Hover {
        target: Locator,
        timeout_ms: Option<u64>,
    },
    ScrollIntoView {
        target: Locator,
        timeout_ms: Option<u64>,
    },
    Drag {
        start: Locator,
        end: Locator,
        timeout_ms: Option<u64>,
    },
    Select {
        target: Locator,
        values: Vec<String>,
        timeout_ms: Option<u64>,
    },
    Fill {
        fields: Vec<Field>,
        timeout_ms: Option<u64>,
    },
    Resize {
        width: i64,
        height: i64,
    },
    Wait {
        wait: WaitSpec,
        timeout_ms: Option<u64>,
    },
    Evaluate {
        function: String,
        reference: Option<String>,
        timeout_ms: Option<u64>,
    },
    Close,
    Batch {
        actions: Vec<ActRequest>,
        stop_on_error: bool,
    },
}

/// The conditions of `wait`, checked in this order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WaitSpec {
    pub time_ms: Option<u64>,
    pub text: Option<String>,
    pub text_gone: Option<String>,
    pub selector: Option<String>,
    pub url: Option<String>,
    pub load_state: Option<String>,
    pub function: Option<String>,
}

/// An action with its optional `targetId`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActRequest {
    pub kind: &'static str,
    pub target_id: Option<String>,
    pub action: Action,
}

/// TS `toStringOrEmpty`: scalars as trimmed text, anything else empty.
pub fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(number @ Value::Number(_)) => crate::js::string(number),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn non_empty(value: Option<&Value>) -> Option<String> {
    Some(text_of(value)).filter(|s| !s.is_empty())
}

/// TS `toBoolean`.
pub fn bool_of(value: Option<&Value>) -> Option<bool> {
    match value {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => super::settings::parse_bool(s),
        Some(number @ Value::Number(_)) => super::settings::parse_bool(&crate::js::string(number)),
        _ => None,
    }
}

fn present(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Null))
}

/// TS `parseStrictInteger`: safe-integer numbers or base-10 integer strings.
fn strict_integer(value: Option<&Value>) -> Option<i64> {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    match value? {
        Value::Number(n) => {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() <= SAFE).then_some(f as i64)
        }
        Value::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse::<i64>().ok().filter(|v| (*v as f64).abs() <= SAFE)
        }
        _ => None,
    }
}

fn strict_finite(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => {
            let t = s.trim();
            let ok = !t.is_empty()
                && t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
                && t.chars().any(|c| c.is_ascii_digit());
            if ok {
                t.parse::<f64>().ok().filter(|f| f.is_finite())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `<field> must be a non-negative integer.` when present but not one.
pub fn non_negative_integer(value: Option<&Value>, field: &str) -> Result<Option<u64>, String> {
    match strict_integer(value) {
        Some(v) if v >= 0 => Ok(Some(v as u64)),
        _ if present(value) => Err(format!("{field} must be a non-negative integer.")),
        _ => Ok(None),
    }
}

/// `timeoutMs`: a positive integer, clamped to the timer range.
pub fn timeout_ms(value: Option<&Value>) -> Result<Option<u64>, String> {
    match strict_integer(value) {
        Some(v) if v > 0 => Ok(Some((v as u64).min(MAX_TIMER_MS))),
        _ if present(value) => Err("timeoutMs must be a positive integer.".to_string()),
        _ => Ok(None),
    }
}

fn bounded_ms(
    body: &Map<String, Value>,
    key: &str,
    field: &str,
    max: u64,
) -> Result<Option<u64>, String> {
    match non_negative_integer(body.get(key), key)? {
        Some(v) if v > max => Err(format!("{field} exceeds maximum of {max}ms")),
        other => Ok(other),
    }
}

fn button(body: &Map<String, Value>, kind: &str) -> Result<Button, String> {
    match text_of(body.get("button")).as_str() {
        "" | "left" => Ok(Button::Left),
        "right" => Ok(Button::Right),
        "middle" => Ok(Button::Middle),
        _ => Err(format!("{kind} button must be left|right|middle")),
    }
}

fn locator(body: &Map<String, Value>, ref_key: &str, selector_key: &str) -> Option<Locator> {
    non_empty(body.get(ref_key))
        .map(Locator::Ref)
        .or_else(|| non_empty(body.get(selector_key)).map(Locator::Selector))
}

/// Validates one action body (TS `normalizeActRequest`). `depth` counts batch nesting.
pub fn normalize(
    body: &Map<String, Value>,
    depth: usize,
    in_batch: bool,
) -> Result<ActRequest, String> {
    let kind_text = text_of(body.get("kind"));
    let kind = *ACT_KINDS
        .iter()
        .find(|k| **k == kind_text)
        .ok_or("kind is required")?;
    let target_id = non_empty(body.get("targetId"));
    let timeout = || timeout_ms(body.get("timeoutMs"));
    let action = match kind {
        "click" => {
            let target =
                locator(body, "ref", "selector").ok_or("click requires ref or selector")?;
            let button = button(body, "click")?;
            let modifiers = body
                .get("modifiers")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .map(|v| text_of(Some(v)))
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let mut bits = 0;
            for modifier in &modifiers {
                bits |= match modifier.as_str() {
                    "Alt" => keys::ALT,
                    "Control" | "ControlOrMeta" => keys::CONTROL,
                    "Meta" => keys::META,
                    "Shift" => keys::SHIFT,
                    _ => {
                        return Err(
                            "modifiers must be Alt|Control|ControlOrMeta|Meta|Shift".to_string()
                        )
                    }
                };
            }
            let double = bool_of(body.get("doubleClick")).unwrap_or(false);
            let delay_ms = bounded_ms(body, "delayMs", "click delayMs", MAX_CLICK_DELAY_MS)?;
            Action::Click {
                target,
                double,
                button,
                modifiers: bits,
                delay_ms,
                timeout_ms: timeout()?,
            }
        }
        "clickCoords" => {
            let coord = |key: &str| match strict_finite(body.get(key)) {
                Some(v) => Ok(Some(v)),
                None if present(body.get(key)) => Err(format!("{key} must be a finite number.")),
                None => Ok(None),
            };
            let (x, y) = (coord("x")?, coord("y")?);
            let (Some(x), Some(y)) = (x, y) else {
                return Err("clickCoords requires non-negative x and y".into());
            };
            if x < 0.0 || y < 0.0 {
                return Err("clickCoords requires non-negative x and y".into());
            }
            let button = button(body, "clickCoords")?;
            let double = bool_of(body.get("doubleClick")).unwrap_or(false);
            let delay_ms = bounded_ms(body, "delayMs", "clickCoords delayMs", MAX_CLICK_DELAY_MS)?;
            timeout()?;
            Action::ClickCoords {
                x,
                y,
                double,
                button,
                delay_ms,
            }
        }
        "type" => {
            let target = locator(body, "ref", "selector").ok_or("type requires ref or selector")?;
            let Some(Value::String(text)) = body.get("text") else {
                return Err("type requires text".into());
            };
            Action::Type {
                target,
                text: text.clone(),
                submit: bool_of(body.get("submit")).unwrap_or(false),
                slowly: bool_of(body.get("slowly")).unwrap_or(false),
                timeout_ms: timeout()?,
            }
        }
        "insertText" => {
            let Some(Value::String(text)) = body.get("text") else {
                return Err("insertText requires text".into());
            };
            Action::InsertText { text: text.clone() }
        }
        "press" => {
            let raw = match body.get("key") {
                Some(Value::String(s)) => s.clone(),
                other => text_of(other),
            };
            let key = keys::normalize_chord(&raw);
            if key.is_empty() {
                return Err("press requires key".into());
            }
            Action::Press {
                key,
                delay_ms: non_negative_integer(body.get("delayMs"), "delayMs")?,
            }
        }
        "hover" | "scrollIntoView" => {
            let target = locator(body, "ref", "selector")
                .ok_or_else(|| format!("{kind} requires ref or selector"))?;
            let timeout_ms = timeout()?;
            if kind == "hover" {
                Action::Hover { target, timeout_ms }
            } else {
                Action::ScrollIntoView { target, timeout_ms }
            }
        }
        "drag" => {
            let start = locator(body, "startRef", "startSelector")
                .ok_or("drag requires startRef or startSelector")?;
            let end = locator(body, "endRef", "endSelector")
                .ok_or("drag requires endRef or endSelector")?;
            Action::Drag {
                start,
                end,
                timeout_ms: timeout()?,
            }
        }
        "select" => {
            let target = locator(body, "ref", "selector");
            let values: Vec<String> = body
                .get("values")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .filter(|s| !s.trim().is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let Some(target) = target.filter(|_| !values.is_empty()) else {
                return Err("select requires ref/selector and values".into());
            };
            Action::Select {
                target,
                values,
                timeout_ms: timeout()?,
            }
        }
        "fill" => {
            let fields = normalize_fields(body.get("fields"))?;
            if fields.is_empty() {
                return Err("fill requires fields".into());
            }
            Action::Fill {
                fields,
                timeout_ms: timeout()?,
            }
        }
        "resize" => {
            let dimension = |key: &str| match strict_integer(body.get(key)) {
                Some(v) => Ok(Some(v)),
                None if body.contains_key(key) => {
                    Err("resize requires positive width and height".to_string())
                }
                None => Ok(None),
            };
            let (Some(width), Some(height)) = (dimension("width")?, dimension("height")?) else {
                return Err("resize requires positive width and height".into());
            };
            if width <= 0 || height <= 0 {
                return Err("resize requires positive width and height".into());
            }
            if width > MAX_VIEWPORT || height > MAX_VIEWPORT {
                return Err(format!(
                    "resize width and height must not exceed {MAX_VIEWPORT}"
                ));
            }
            Action::Resize { width, height }
        }
        "wait" => {
            let load_state = non_empty(body.get("loadState"))
                .filter(|s| ["load", "domcontentloaded", "networkidle"].contains(&s.as_str()));
            let wait = WaitSpec {
                time_ms: bounded_ms(body, "timeMs", "wait timeMs", MAX_WAIT_TIME_MS)?,
                text: non_empty(body.get("text")),
                text_gone: non_empty(body.get("textGone")),
                selector: non_empty(body.get("selector")),
                url: non_empty(body.get("url")),
                load_state,
                function: non_empty(body.get("fn")),
            };
            if wait == WaitSpec::default() {
                return Err("wait requires at least one of: timeMs, text, textGone, selector, url, loadState, fn".into());
            }
            Action::Wait {
                wait,
                timeout_ms: timeout()?,
            }
        }
        "evaluate" => {
            let function = non_empty(body.get("fn")).ok_or("evaluate requires fn")?;
            Action::Evaluate {
                function,
                reference: non_empty(body.get("ref")),
                timeout_ms: timeout()?,
            }
        }
        "close" => Action::Close,
        _ => {
            if depth > MAX_BATCH_DEPTH {
                return Err(format!(
                    "batch nesting exceeds maximum depth of {MAX_BATCH_DEPTH}"
                ));
            }
            let mut actions = Vec::new();
            for item in body
                .get("actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Value::Object(child) = item else {
                    return Err("batch actions must be objects".into());
                };
                actions.push(normalize(child, depth + 1, true)?);
            }
            if actions.is_empty() {
                return Err(if in_batch {
                    "batch requires actions"
                } else {
                    "actions are required"
                }
                .into());
            }
            if count_actions(&actions) > MAX_BATCH_ACTIONS {
                return Err(format!(
                    "batch exceeds maximum of {MAX_BATCH_ACTIONS} actions"
                ));
            }
            Action::Batch {
                actions,
                stop_on_error: bool_of(body.get("stopOnError")).unwrap_or(true),
            }
        }
    };
    Ok(ActRequest {
        kind,
        target_id,
        action,
    })
}

fn count_actions(actions: &[ActRequest]) -> usize {
    actions
        .iter()
        .map(|a| {
            1 + if let Action::Batch { actions, .. } = &a.action {
                count_actions(actions)
            } else {
                0
            }
        })
        .sum()
}

fn normalize_fields(value: Option<&Value>) -> Result<Vec<Field>, String> {
    let Some(Value::Array(entries)) = value else {
        return Ok(Vec::new());
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let prefix = format!("fields[{i}]");
            let Value::Object(record) = entry else {
                return Err(format!("{prefix} must be an object"));
            };
            let reference = match record.get("ref") {
                Some(Value::String(s)) => s.trim().to_string(),
                _ => String::new(),
            };
            if reference.is_empty() {
                return Err(format!("{prefix} must include ref"));
            }
            if let Some(key) = record
                .keys()
                .find(|k| !["ref", "type", "value"].contains(&k.as_str()))
            {
                return Err(format!(
                    "{prefix} unsupported field key \"{key}\"; supported keys are ref, type, value"
                ));
            }
            let kind = match record.get("type") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
                _ => "text".to_string(),
            };
            let value = match record.get("value") {
                None | Some(Value::Null) => None,
                Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => Some(v.clone()),
                Some(_) => {
                    return Err(format!(
                        "{prefix} value must be a string, number, boolean, or null"
                    ))
                }
            };
            Ok(Field {
                reference,
                kind,
                value,
            })
        })
        .collect()
}

/// Whether the body names a selector on a kind that does not take one.
pub fn selector_unsupported(kind: &str, body: &Map<String, Value>) -> bool {
    body.contains_key("selector") && !SELECTOR_KINDS.contains(&kind)
}

/// Whether running this action needs `browser.evaluateEnabled`.
pub fn needs_evaluate(action: &Action) -> bool {
    matches!(
        action,
        Action::Evaluate { .. }
            | Action::Wait {
                wait: WaitSpec {
                    function: Some(_),
                    ..
                },
                ..
            }
    )
}

/// The 403 when `browser.evaluateEnabled` is false, for `evaluate` or `wait --fn`.
pub fn evaluate_disabled_error(kind: &str) -> RouteError {
    let message = if kind == "evaluate" {
        "act:evaluate is disabled by config (browser.evaluateEnabled=false).\nDocs: /tools/browser/configuration#configuration"
    } else {
        "wait --fn is disabled by config (browser.evaluateEnabled=false).\nDocs: /tools/browser/configuration#configuration"
    };
    RouteError::new(403, message).with_code("ACT_EVALUATE_DISABLED")
}

/// Interaction timeouts (spec §5.9).
fn interaction_timeout(ms: Option<u64>) -> Duration {
    Duration::from_millis(ms.unwrap_or(8_000).clamp(500, 60_000))
}

fn wait_timeout(ms: Option<u64>) -> Duration {
    Duration::from_millis(ms.unwrap_or(20_000).clamp(500, 120_000))
}

/// `Unknown ref "<r>". …`, the message TS gives for refs that are not (or no longer) known.
pub fn unknown_ref(reference: &str) -> RouteError {
    RouteError::internal(format!(
        "Unknown ref \"{reference}\". Run a new snapshot and use a ref from that snapshot."
    ))
}

/// TS `parseRoleRef` plus `axN`: `e12`, `@e12`, `ref=e12`, `12` (= `e12`), `ax3`.
pub fn parse_ref(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let normalized = trimmed
        .strip_prefix('@')
        .or_else(|| trimmed.strip_prefix("ref="))
        .unwrap_or(trimmed);
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if let Some(n) = normalized.strip_prefix(['e', 'E']).filter(|n| digits(n)) {
        return Some(format!("e{n}"));
    }
    if let Some(n) = normalized.strip_prefix("ax").filter(|n| digits(n)) {
        return Some(format!("ax{n}"));
    }
    if digits(normalized) && normalized.len() <= 9 {
        return Some(format!("e{normalized}"));
    }
    None
}

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
                    return Err(super::page::remote_value(result)
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
            super::page::remote_value(result)?;
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
fn looks_like_function(source: &str) -> bool {
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

/// TS `matchBrowserUrlPattern`: exact, `*`, glob (`*` within a segment, `**` across), or
/// substring.
pub fn url_matches(pattern: &str, url: &str) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return false;
    }
    if pattern == url || pattern == "*" {
        return true;
    }
    if !pattern.contains('*') {
        return url.contains(pattern);
    }
    glob_match(pattern.as_bytes(), url.as_bytes())
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some(b'*') if pattern.get(1) == Some(&b'*') => {
            (0..=text.len()).any(|i| glob_match(&pattern[2..], &text[i..]))
        }
        Some(b'*') => {
            let limit = text.iter().position(|c| *c == b'/').unwrap_or(text.len());
            (0..=limit).any(|i| glob_match(&pattern[1..], &text[i..]))
        }
        Some(c) => text.first() == Some(c) && glob_match(&pattern[1..], &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn error(value: Value) -> String {
        normalize(&body(value), 0, false).unwrap_err()
    }

    #[test]
    fn validation_messages_match_ts() {
        assert_eq!(error(json!({"ref": "e2"})), "kind is required");
        assert_eq!(
            error(json!({"kind": "click"})),
            "click requires ref or selector"
        );
        assert_eq!(
            error(json!({"kind": "click", "ref": "e1", "button": "top"})),
            "click button must be left|right|middle"
        );
        assert_eq!(
            error(json!({"kind": "click", "ref": "e1", "modifiers": ["Hyper"]})),
            "modifiers must be Alt|Control|ControlOrMeta|Meta|Shift"
        );
        assert_eq!(
            error(json!({"kind": "click", "ref": "e1", "delayMs": 6000})),
            "click delayMs exceeds maximum of 5000ms"
        );
        assert_eq!(
            error(json!({"kind": "click", "ref": "e1", "delayMs": -1})),
            "delayMs must be a non-negative integer."
        );
        assert_eq!(
            error(json!({"kind": "clickCoords", "x": -1, "y": 2})),
            "clickCoords requires non-negative x and y"
        );
        assert_eq!(
            error(json!({"kind": "clickCoords", "x": "a", "y": 2})),
            "x must be a finite number."
        );
        assert_eq!(
            error(json!({"kind": "type", "ref": "e1"})),
            "type requires text"
        );
        assert_eq!(error(json!({"kind": "press"})), "press requires key");
        assert_eq!(
            error(json!({"kind": "hover"})),
            "hover requires ref or selector"
        );
        assert_eq!(
            error(json!({"kind": "drag", "startRef": "e1"})),
            "drag requires endRef or endSelector"
        );
        assert_eq!(
            error(json!({"kind": "select", "ref": "e1", "values": []})),
            "select requires ref/selector and values"
        );
        assert_eq!(
            error(json!({"kind": "fill", "fields": []})),
            "fill requires fields"
        );
        assert_eq!(
            error(json!({"kind": "fill", "fields": [{"ref": "e1", "x": 1}]})),
            "fields[0] unsupported field key \"x\"; supported keys are ref, type, value"
        );
        assert_eq!(
            error(json!({"kind": "resize", "width": 0, "height": 10})),
            "resize requires positive width and height"
        );
        assert_eq!(
            error(json!({"kind": "resize", "width": 9000, "height": 10})),
            "resize width and height must not exceed 8192"
        );
        assert_eq!(
            error(json!({"kind": "wait"})),
            "wait requires at least one of: timeMs, text, textGone, selector, url, loadState, fn"
        );
        assert_eq!(
            error(json!({"kind": "wait", "timeMs": 40000})),
            "wait timeMs exceeds maximum of 30000ms"
        );
        assert_eq!(error(json!({"kind": "evaluate"})), "evaluate requires fn");
        assert_eq!(error(json!({"kind": "batch"})), "actions are required");
        assert_eq!(
            error(json!({"kind": "batch", "actions": [1]})),
            "batch actions must be objects"
        );
        assert_eq!(
            error(json!({"kind": "batch", "actions": [{"kind": "batch", "actions": []}]})),
            "batch requires actions"
        );
        assert_eq!(
            error(json!({"kind": "click", "ref": "e1", "timeoutMs": 0})),
            "timeoutMs must be a positive integer."
        );
        let deep = (0..7).fold(
            json!({"kind": "close"}),
            |inner, _| json!({"kind": "batch", "actions": [inner]}),
        );
        assert_eq!(error(deep), "batch nesting exceeds maximum depth of 5");
        let many: Vec<Value> = (0..101).map(|_| json!({"kind": "close"})).collect();
        assert_eq!(
            error(json!({"kind": "batch", "actions": many})),
            "batch exceeds maximum of 100 actions"
        );
    }

    #[test]
    fn valid_actions_normalize() {
        let click = normalize(&body(json!({"kind": "click", "ref": "e2", "doubleClick": "true", "modifiers": ["ControlOrMeta", "Shift"]})), 0, false).unwrap();
        assert_eq!(
            click.action,
            Action::Click {
                target: Locator::Ref("e2".into()),
                double: true,
                button: Button::Left,
                modifiers: keys::CONTROL | keys::SHIFT,
                delay_ms: None,
                timeout_ms: None
            }
        );
        let press = normalize(&body(json!({"kind": "press", "key": " "})), 0, false).unwrap();
        assert_eq!(
            press.action,
            Action::Press {
                key: "Space".into(),
                delay_ms: None
            }
        );
        let fill = normalize(&body(json!({"kind": "fill", "fields": [{"ref": "e3", "value": "Bob"}, {"ref": "e5", "type": "checkbox", "value": true}]})), 0, false).unwrap();
        let Action::Fill { fields, .. } = fill.action else {
            panic!()
        };
        assert_eq!(fields[0].kind, "text");
        assert_eq!(fields[1].value, Some(json!(true)));
        assert!(selector_unsupported(
            "press",
            &body(json!({"selector": "#x"}))
        ));
        assert!(!selector_unsupported(
            "click",
            &body(json!({"selector": "#x"}))
        ));
    }

    #[test]
    fn refs_parse_in_every_accepted_spelling() {
        assert_eq!(parse_ref("e12").as_deref(), Some("e12"));
        assert_eq!(parse_ref("@e12").as_deref(), Some("e12"));
        assert_eq!(parse_ref("ref=E12").as_deref(), Some("e12"));
        assert_eq!(parse_ref("12").as_deref(), Some("e12"));
        assert_eq!(parse_ref("ax7").as_deref(), Some("ax7"));
        assert_eq!(parse_ref("button"), None);
        assert_eq!(parse_ref("1234567890"), None);
    }

    #[test]
    fn evaluate_sources_normalize_like_ts() {
        let parses_all = |_: &str| Ok(true);
        assert_eq!(
            normalize_function_source("() => 1", false, parses_all).unwrap(),
            "() => 1"
        );
        assert_eq!(
            normalize_function_source("async function f() {}", false, parses_all).unwrap(),
            "async function f() {}"
        );
        assert_eq!(
            normalize_function_source("el => el.id", true, parses_all).unwrap(),
            "el => el.id"
        );
        let wrapped = normalize_function_source("document.title", false, parses_all).unwrap();
        assert!(
            wrapped.starts_with(
                "() => {\nconst __openclawEvaluateExpressionResult = (document.title);"
            ),
            "{wrapped}"
        );
        let body =
            normalize_function_source("return 1;", false, |s| Ok(!s.contains("return"))).unwrap();
        assert_eq!(body, "async () => {\nreturn 1;\n}");
        assert!(!looks_like_function("functional()"));
        assert!(looks_like_function("(a, b) => a"));
        assert!(!looks_like_function("(1 + 2)"));
    }

    #[test]
    fn url_patterns() {
        assert!(url_matches(
            "**/page2.html",
            "http://127.0.0.1:1/page2.html"
        ));
        assert!(url_matches("http://*/x", "http://host/x"));
        assert!(!url_matches("http://*/x", "http://host/a/x"));
        assert!(url_matches("page2", "http://h/page2.html"));
        assert!(!url_matches("", "http://h/"));
    }
}
