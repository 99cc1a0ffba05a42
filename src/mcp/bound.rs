//! What an MCP tool result may carry across `node.invoke` (TS `boundMcpToolResultPayload`,
//! node-surface §9.4 item 5): at most 1 MiB of text and 20 MiB in all, with TS's markers.

use serde_json::{Map, Value};

const TEXT_MAX_BYTES: usize = 1024 * 1024;
const TEXT_MARKER: &str = "\n[truncated: MCP text content exceeded 1 MB]";
const PAYLOAD_MAX_BYTES: usize = 20 * 1024 * 1024;
const PAYLOAD_MARKER: &str = "[truncated: MCP result exceeded 20 MB]";

fn json_bytes(value: &Value) -> usize {
    serde_json::to_string(value).map_or(usize::MAX, |text| text.len())
}

fn text_block(text: &str) -> Value {
    let mut block = Map::new();
    block.insert("type".into(), "text".into());
    block.insert("text".into(), text.into());
    Value::Object(block)
}

/// The bounded payload for a `tools/call` result (already checked to be an object whose
/// `content` is an array): `{content, structuredContent?, isError?}`.
pub fn bound_result(result: &Value) -> Value {
    let marker = text_block(PAYLOAD_MARKER);
    let reserved = json_bytes(&marker) + 1;
    let is_error = result.get("isError") == Some(&Value::Bool(true));
    let mut used = if is_error {
        r#"{"content":[],"isError":true}"#.len()
    } else {
        r#"{"content":[]}"#.len()
    };
    let mut truncated = false;
    let mut structured = None;
    if let Some(value @ Value::Object(_)) = result.get("structuredContent") {
        let prefix = r#","structuredContent":"#.len();
        let available = PAYLOAD_MAX_BYTES.saturating_sub(used + prefix + reserved);
        let bytes = json_bytes(value);
        if bytes <= available {
            structured = Some(value.clone());
            used += prefix + bytes;
        } else {
            truncated = true;
        }
    }
    // A text block that only repeats the structured content (as `JSON.stringify(x, null, 2)`).
    let mirrored = structured.as_ref().map(pretty_js);
    let empty = Vec::new();
    let blocks: Vec<&Value> = result
        .get("content")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .filter(|block| block.is_object())
        .filter(|block| match (&mirrored, text_of(block)) {
            (Some(mirror), Some(text)) => text != mirror,
            _ => true,
        })
        .collect();
    let total_text: usize = blocks.iter().filter_map(|b| text_of(b)).map(str::len).sum();
    let over = total_text > TEXT_MAX_BYTES;
    let mut remaining = if over {
        TEXT_MAX_BYTES - TEXT_MARKER.len()
    } else {
        TEXT_MAX_BYTES
    };
    let mut marked = false;
    let mut text_bounded: Vec<Value> = Vec::new();
    for block in blocks {
        let Some(text) = text_of(block) else {
            text_bounded.push(block.clone());
            continue;
        };
        if !over {
            text_bounded.push(block.clone());
            continue;
        }
        if marked {
            continue;
        }
        let kept = utf8_prefix(text, remaining);
        remaining -= kept.len();
        let cut = kept.len() < text.len();
        if !kept.is_empty() || cut {
            let mut copy = block.clone();
            let new_text = if cut {
                format!("{kept}{TEXT_MARKER}")
            } else {
                kept.to_string()
            };
            copy["text"] = Value::String(new_text);
            text_bounded.push(copy);
        }
        if cut || remaining == 0 {
            if !cut {
                text_bounded.push(text_block(TEXT_MARKER.trim_start()));
            }
            marked = true;
        }
    }
    let mut content = Vec::new();
    for block in text_bounded {
        let separator = usize::from(!content.is_empty());
        let available = PAYLOAD_MAX_BYTES.saturating_sub(used + separator + reserved);
        let bytes = json_bytes(&block);
        if bytes > available {
            truncated = true;
            continue;
        }
        content.push(block);
        used += bytes + separator;
    }
    if truncated {
        content.push(marker);
    }
    let mut out = Map::new();
    out.insert("content".into(), Value::Array(content));
    if let Some(structured) = structured {
        out.insert("structuredContent".into(), structured);
    }
    if is_error {
        out.insert("isError".into(), Value::Bool(true));
    }
    Value::Object(out)
}

fn text_of(block: &Value) -> Option<&str> {
    if block.get("type").and_then(Value::as_str) == Some("text") {
        block.get("text").and_then(Value::as_str)
    } else {
        None
    }
}

/// The longest prefix of at most `max` bytes that ends on a character boundary.
fn utf8_prefix(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `JSON.stringify(value, null, 2)`: serde_json's pretty printer uses the same layout for the
/// values MCP servers send (two-space indent, `": "`, empty containers as `{}` / `[]`).
fn pretty_js(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_results_pass_unchanged_with_only_the_known_keys() {
        let result = json!({"content":[{"type":"text","text":"boom"}],"isError":true,"_meta":{}});
        assert_eq!(
            bound_result(&result).to_string(),
            r#"{"content":[{"type":"text","text":"boom"}],"isError":true}"#
        );
        let ok = json!({"content":[{"type":"text","text":"hi"}],"isError":false});
        assert_eq!(
            bound_result(&ok).to_string(),
            r#"{"content":[{"type":"text","text":"hi"}]}"#
        );
    }

    #[test]
    fn a_text_block_mirroring_structured_content_is_dropped() {
        let structured = json!({"sum": 3, "list": [1, 2], "empty": {}});
        let mirror = serde_json::to_string_pretty(&structured).unwrap();
        assert_eq!(
            mirror,
            "{\n  \"sum\": 3,\n  \"list\": [\n    1,\n    2\n  ],\n  \"empty\": {}\n}"
        );
        let result = json!({"content":[{"type":"text","text":mirror},{"type":"text","text":"x"}],
            "structuredContent": structured});
        let bounded = bound_result(&result);
        assert_eq!(bounded["content"], json!([{"type":"text","text":"x"}]));
        assert_eq!(bounded["structuredContent"], structured);
    }

    #[test]
    fn text_over_one_mib_is_cut_on_a_character_boundary_with_the_marker() {
        let big = "é".repeat(750 * 1024); // 1.5 MiB
        let result = json!({"content":[{"type":"text","text":big},{"type":"text","text":"after"},
            {"type":"image","data":"AA==","mimeType":"image/png"}]});
        let bounded = bound_result(&result);
        let content = bounded["content"].as_array().unwrap();
        assert_eq!(content.len(), 2, "the second text block is dropped, the image kept");
        let text = content[0]["text"].as_str().unwrap();
        assert!(text.ends_with(TEXT_MARKER));
        assert!(text.len() <= TEXT_MAX_BYTES);
        assert!(text.len() > TEXT_MAX_BYTES - 4);
        assert_eq!(content[1]["type"], "image");
    }

    #[test]
    fn text_that_ends_exactly_at_the_budget_gets_a_marker_block() {
        let first = "a".repeat(TEXT_MAX_BYTES - TEXT_MARKER.len());
        let second = "b".repeat(TEXT_MARKER.len() + 1);
        let result = json!({"content":[{"type":"text","text":first},{"type":"text","text":second}]});
        let bounded = bound_result(&result);
        let content = bounded["content"].as_array().unwrap();
        assert_eq!(content.len(), 2);
        assert_eq!(content[0]["text"].as_str().unwrap().len(), first.len());
        assert_eq!(content[1]["text"], TEXT_MARKER.trim_start());
    }

    #[test]
    fn a_payload_over_twenty_mib_drops_blocks_and_says_so() {
        let blob = "A".repeat(8 * 1024 * 1024);
        let image = json!({"type":"image","data":blob,"mimeType":"image/png"});
        let result = json!({"content":[image.clone(), image.clone(), image]});
        let bounded = bound_result(&result);
        let content = bounded["content"].as_array().unwrap();
        assert_eq!(content.len(), 3);
        assert_eq!(content[2], text_block(PAYLOAD_MARKER));
        assert!(bounded.to_string().len() <= PAYLOAD_MAX_BYTES);
        let huge = json!({"content":[],"structuredContent":{"x": "A".repeat(21 * 1024 * 1024)}});
        let bounded = bound_result(&huge);
        assert!(bounded.get("structuredContent").is_none());
        assert_eq!(bounded["content"], json!([text_block(PAYLOAD_MARKER)]));
    }
}
