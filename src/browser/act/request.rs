//! Validation of the `/act` body: the action kinds, their fields and limits, with TS's
//! messages and order. Pure: nothing here talks to the browser.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::browser::error::RouteError;
use crate::browser::keys;

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
        Some(Value::String(s)) => crate::browser::settings::parse_bool(s),
        Some(number @ Value::Number(_)) => {
            crate::browser::settings::parse_bool(&crate::js::string(number))
        }
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
pub(super) fn interaction_timeout(ms: Option<u64>) -> Duration {
    Duration::from_millis(ms.unwrap_or(8_000).clamp(500, 60_000))
}

pub(super) fn wait_timeout(ms: Option<u64>) -> Duration {
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
