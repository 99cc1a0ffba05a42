//! Checks a tool's `structuredContent` against its `outputSchema` (node-surface §9.4 item 3).
//!
//! TS validates with Ajv. This is the subset of JSON Schema that output schemas use in
//! practice: `type`, `properties`, `required`, `additionalProperties`, `items`, `enum`,
//! `const`, the numeric and length bounds, `allOf`/`anyOf`/`oneOf`/`not`. Other keywords
//! (`$ref`, `pattern`, `format`, …) are not checked, so a result is refused only for a reason
//! Ajv would refuse it too. Errors read as Ajv's first error does: `data/path must be …`.

use serde_json::{Map, Value};

/// Whether `schema` can be used at all (an object or a boolean, recursively for the keywords
/// this module reads).
pub fn check_schema(schema: &Value) -> Result<(), String> {
    match schema {
        Value::Bool(_) => Ok(()),
        Value::Object(map) => {
            for key in ["properties"] {
                if let Some(props) = map.get(key) {
                    let Value::Object(props) = props else {
                        return Err(format!("{key} must be an object"));
                    };
                    props.values().try_for_each(check_schema)?;
                }
            }
            for key in ["items", "additionalProperties", "not"] {
                if let Some(sub) = map.get(key) {
                    check_schema(sub)?;
                }
            }
            for key in ["allOf", "anyOf", "oneOf"] {
                if let Some(list) = map.get(key) {
                    let Value::Array(list) = list else {
                        return Err(format!("{key} must be an array"));
                    };
                    list.iter().try_for_each(check_schema)?;
                }
            }
            if let Some(required) = map.get("required") {
                if !required.as_array().is_some_and(|r| r.iter().all(Value::is_string)) {
                    return Err("required must be an array of strings".into());
                }
            }
            Ok(())
        }
        _ => Err("schema must be an object or a boolean".into()),
    }
}

/// `Ok` when `value` satisfies `schema`; else the first violation, Ajv-style.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "data")
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let map = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{path} boolean schema is false")),
        Value::Object(map) => map,
        _ => return Ok(()),
    };
    if let Some(types) = map.get("type") {
        let names: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !names.is_empty() && !names.iter().any(|t| is_type(value, t)) {
            return Err(format!("{path} must be {}", names.join(",")));
        }
    }
    if let Some(allowed) = map.get("enum").and_then(Value::as_array) {
        if !allowed.iter().any(|a| json_equal(a, value)) {
            return Err(format!("{path} must be equal to one of the allowed values"));
        }
    }
    if let Some(constant) = map.get("const") {
        if !json_equal(constant, value) {
            return Err(format!("{path} must be equal to constant"));
        }
    }
    match value {
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(0.0);
            let bound = |key: &str| map.get(key).and_then(Value::as_f64);
            if let Some(max) = bound("maximum").filter(|max| n > *max) {
                return Err(format!("{path} must be <= {}", js_number(max)));
            }
            if let Some(min) = bound("minimum").filter(|min| n < *min) {
                return Err(format!("{path} must be >= {}", js_number(min)));
            }
            if let Some(max) = bound("exclusiveMaximum").filter(|max| n >= *max) {
                return Err(format!("{path} must be < {}", js_number(max)));
            }
            if let Some(min) = bound("exclusiveMinimum").filter(|min| n <= *min) {
                return Err(format!("{path} must be > {}", js_number(min)));
            }
        }
        Value::String(text) => {
            let len = text.chars().count() as u64;
            if let Some(max) = map.get("maxLength").and_then(Value::as_u64).filter(|m| len > *m) {
                return Err(format!("{path} must NOT have more than {max} characters"));
            }
            if let Some(min) = map.get("minLength").and_then(Value::as_u64).filter(|m| len < *m) {
                return Err(format!("{path} must NOT have fewer than {min} characters"));
            }
        }
        Value::Array(items) => {
            let len = items.len() as u64;
            if let Some(max) = map.get("maxItems").and_then(Value::as_u64).filter(|m| len > *m) {
                return Err(format!("{path} must NOT have more than {max} items"));
            }
            if let Some(min) = map.get("minItems").and_then(Value::as_u64).filter(|m| len < *m) {
                return Err(format!("{path} must NOT have fewer than {min} items"));
            }
            if let Some(item_schema) = map.get("items").filter(|s| !s.is_array()) {
                for (index, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}/{index}"))?;
                }
            }
        }
        Value::Object(object) => check_object(map, object, path)?,
        _ => {}
    }
    if let Some(all) = map.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(sub, value, path)?;
        }
    }
    if let Some(any) = map.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(|sub| check(sub, value, path).is_ok()) {
            return Err(format!("{path} must match a schema in anyOf"));
        }
    }
    if let Some(one) = map.get("oneOf").and_then(Value::as_array) {
        if one.iter().filter(|sub| check(sub, value, path).is_ok()).count() != 1 {
            return Err(format!("{path} must match exactly one schema in oneOf"));
        }
    }
    if let Some(not) = map.get("not") {
        if check(not, value, path).is_ok() {
            return Err(format!("{path} must NOT be valid"));
        }
    }
    Ok(())
}

fn check_object(schema: &Map<String, Value>, object: &Map<String, Value>, path: &str) -> Result<(), String> {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("{path} must have required property '{name}'"));
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, item) in object {
        let sub_path = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
        match properties.and_then(|p| p.get(key)) {
            Some(sub) => check(sub, item, &sub_path)?,
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    return Err(format!("{path} must NOT have additional properties"))
                }
                Some(sub @ Value::Object(_)) => check(sub, item, &sub_path)?,
                _ => {}
            },
        }
    }
    Ok(())
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0 && n.is_finite()),
        _ => true,
    }
}

/// JSON equality as Ajv's `deepEqual`: numbers by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn js_number(n: f64) -> String {
    crate::js::number(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_the_first_violation_as_ajv_does() {
        let schema = json!({"type":"object","properties":{"sum":{"type":"number","minimum":0},
            "tags":{"type":"array","items":{"type":"string"}}},"required":["sum"],"additionalProperties":false});
        assert_eq!(validate(&schema, &json!({"sum": 3, "tags": ["a"]})), Ok(()));
        assert_eq!(validate(&schema, &json!({"sum": "3"})).unwrap_err(), "data/sum must be number");
        assert_eq!(validate(&schema, &json!({})).unwrap_err(), "data must have required property 'sum'");
        assert_eq!(validate(&schema, &json!({"sum": -1})).unwrap_err(), "data/sum must be >= 0");
        assert_eq!(validate(&schema, &json!({"sum": 1, "tags": [1]})).unwrap_err(), "data/tags/0 must be string");
        assert_eq!(validate(&schema, &json!({"sum": 1, "x": 1})).unwrap_err(), "data must NOT have additional properties");
        assert_eq!(validate(&json!({"type":"integer"}), &json!(2.5)).unwrap_err(), "data must be integer");
        assert_eq!(validate(&json!({"enum":[1,"a"]}), &json!(1.0)), Ok(()));
        assert!(validate(&json!({"anyOf":[{"type":"string"},{"type":"null"}]}), &json!(1)).is_err());
    }

    #[test]
    fn unusable_schemas_are_refused() {
        assert!(check_schema(&json!({"type":"object","properties":{"a":{"type":"string"}}})).is_ok());
        assert!(check_schema(&json!({"type":"object","properties":{"a":5}})).is_err());
        assert!(check_schema(&json!({"required":"a"})).is_err());
        assert!(check_schema(&json!(3)).is_err());
    }
}
