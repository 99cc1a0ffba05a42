//! JavaScript's conversions of JSON values, where the node must give the very strings the TS
//! host gives (`String(value)` of a gateway's parameters: argv elements, `bins`, browser query
//! values).

use serde_json::Value;

/// JavaScript's `String(value)`: strings as they are, `null` as "null", numbers as
/// [`number`], arrays joined with "," (a `null` element giving ""), objects as
/// "[object Object]".
pub fn string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                if v.is_null() {
                    String::new()
                } else {
                    string(v)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_string(),
    }
}

/// JavaScript's `Number.prototype.toString()`: the shortest digits that read back as `n`;
/// plain notation from 1e-6 up to 1e21, exponent notation (`1e+21`, `1.5e-7`) outside; -0
/// is "0".
pub fn number(n: f64) -> String {
    if n == 0.0 {
        return "0".to_string();
    }
    if n.is_nan() {
        return "NaN".to_string();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let magnitude = n.abs();
    if (1e-6..1e21).contains(&magnitude) {
        // Rust's Display is the shortest round-trip form without an exponent, as JS's here.
        return format!("{n}");
    }
    let text = format!("{n:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_match_javascript() {
        assert_eq!(string(&json!("a b")), "a b");
        assert_eq!(string(&json!(null)), "null");
        assert_eq!(string(&json!(true)), "true");
        assert_eq!(string(&json!(20000)), "20000");
        assert_eq!(string(&json!(20000.0)), "20000");
        assert_eq!(string(&json!(1.5)), "1.5");
        assert_eq!(string(&json!([1, null, "x", [2, 3]])), "1,,x,2,3");
        assert_eq!(string(&json!({"a": 1})), "[object Object]");
    }

    #[test]
    fn numbers_match_javascript() {
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(-42.0), "-42");
        assert_eq!(number(1e20), "100000000000000000000");
        assert_eq!(number(1e21), "1e+21");
        assert_eq!(number(1.5e22), "1.5e+22");
        assert_eq!(number(1e-7), "1e-7");
        assert_eq!(number(0.000001), "0.000001");
        assert_eq!(number(9_007_199_254_740_993.0), "9007199254740992");
    }
}
