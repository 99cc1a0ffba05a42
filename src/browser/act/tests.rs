use serde_json::{json, Map, Value};

use super::actor::*;
use super::request::*;
use super::url_glob::*;
use crate::browser::keys;

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
        wrapped
            .starts_with("() => {\nconst __openclawEvaluateExpressionResult = (document.title);"),
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
