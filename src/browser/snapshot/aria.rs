//! The flat aria snapshot (`format=aria`): `axN` nodes and the refs they resolve to.

use super::*;

/// TS `formatAriaSnapshot`: DFS from the first node nobody references, `ax1…` refs, at most
/// `limit` nodes.
pub fn format_aria(ax_nodes: &[Value], limit: usize) -> Vec<Value> {
    let by_id: HashMap<&str, &Value> = ax_nodes
        .iter()
        .filter_map(|n| Some((n.get("nodeId")?.as_str()?, n)))
        .filter(|(id, _)| !id.is_empty())
        .collect();
    let referenced: std::collections::HashSet<&str> = ax_nodes
        .iter()
        .filter_map(|n| n.get("childIds").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let root = ax_nodes
        .iter()
        .find(|n| {
            n.get("nodeId")
                .and_then(Value::as_str)
                .is_some_and(|id| !id.is_empty() && !referenced.contains(id))
        })
        .or_else(|| ax_nodes.first());
    let Some(root_id) = root.and_then(|n| n.get("nodeId")).and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![(root_id, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if out.len() >= limit {
            break;
        }
        let Some(node) = by_id.get(id) else { continue };
        if !seen.insert(id) {
            continue;
        }
        let role = ax_value(node.get("role"));
        let mut record = Map::new();
        record.insert("ref".into(), json!(format!("ax{}", out.len() + 1)));
        record.insert(
            "role".into(),
            json!(if role.is_empty() {
                "unknown".to_string()
            } else {
                role
            }),
        );
        record.insert("name".into(), json!(ax_value(node.get("name"))));
        let value = ax_value(node.get("value"));
        if !value.is_empty() {
            record.insert("value".into(), json!(value));
        }
        let description = ax_value(node.get("description"));
        if !description.is_empty() {
            record.insert("description".into(), json!(description));
        }
        if let Some(backend) = node.get("backendDOMNodeId").and_then(Value::as_i64) {
            record.insert("backendDOMNodeId".into(), json!(backend));
        }
        record.insert("depth".into(), json!(depth));
        out.push(Value::Object(record));
        if let Some(children) = node.get("childIds").and_then(Value::as_array) {
            for child in children.iter().rev().filter_map(Value::as_str) {
                if by_id.contains_key(child) {
                    stack.push((child, depth + 1));
                }
            }
        }
    }
    out
}

/// The refs an aria snapshot makes usable by act (`axN` → node).
pub fn aria_refs(nodes: &[Value]) -> HashMap<String, RefTarget> {
    nodes
        .iter()
        .filter_map(|n| {
            let reference = n.get("ref")?.as_str()?.to_string();
            let backend = n.get("backendDOMNodeId")?.as_i64()?;
            Some((
                reference,
                RefTarget {
                    role: n
                        .get("role")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    name: n
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    nth: 0,
                    backend_node_id: Some(backend),
                },
            ))
        })
        .collect()
}
