//! The role snapshot (`format=ai`): the role tree from `Accessibility.getFullAXTree`, its `eN`
//! refs, and the text, pure and line by line as TS renders it.

use super::*;

/// Roles that always get a ref.
pub const INTERACTIVE_ROLES: [&str; 17] = [
    "button",
    "checkbox",
    "combobox",
    "link",
    "listbox",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "option",
    "radio",
    "searchbox",
    "slider",
    "spinbutton",
    "switch",
    "tab",
    "textbox",
    "treeitem",
];
/// Roles that get a ref when named.
const CONTENT_ROLES: [&str; 10] = [
    "article",
    "cell",
    "columnheader",
    "gridcell",
    "heading",
    "listitem",
    "main",
    "navigation",
    "region",
    "rowheader",
];
/// Containers dropped by `compact` when unnamed and without a ref.
const STRUCTURAL_ROLES: [&str; 19] = [
    "application",
    "directory",
    "document",
    "generic",
    "grid",
    "group",
    "ignored",
    "list",
    "menu",
    "menubar",
    "none",
    "presentation",
    "row",
    "rowgroup",
    "table",
    "tablist",
    "toolbar",
    "tree",
    "treegrid",
];
const DEPTH_TRUNCATION_MARKER: &str = "[...TRUNCATED - accessibility tree too deep]";
const SIZE_TRUNCATION_MARKER: &str = "[...TRUNCATED - page too large]";
/// Default `maxChars` for `format=ai`.
pub const DEFAULT_MAX_CHARS: usize = 40_000;
/// Default `maxChars` for `mode=efficient`.
pub const EFFICIENT_MAX_CHARS: usize = 8_000;
/// Default `format=aria` node limit.
pub const DEFAULT_ARIA_LIMIT: usize = 500;
/// Largest `format=aria` node limit.
pub const MAX_ARIA_LIMIT: usize = 2_000;

/// Roles that always get a ref and count as interactive in stats.
pub fn is_interactive_role(role: &str) -> bool {
    INTERACTIVE_ROLES.contains(&role)
}

/// What the role snapshot shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleOptions {
    pub interactive: bool,
    pub compact: bool,
    pub max_depth: Option<usize>,
}

/// Flags from the cursor-interactive scan for one element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CursorInfo {
    pub text: String,
    pub has_cursor_pointer: bool,
    pub has_on_click: bool,
    pub has_tab_index: bool,
    pub is_editable: bool,
    pub hidden_input_type: Option<String>,
}

/// One ref as the snapshot reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRef {
    pub role: String,
    pub name: String,
    pub nth: Option<usize>,
    pub backend_node_id: Option<i64>,
}

impl SnapshotRef {
    fn to_json(&self) -> Value {
        let mut record = Map::new();
        record.insert("role".into(), json!(self.role));
        if !self.name.is_empty() {
            record.insert("name".into(), json!(self.name));
        }
        if let Some(nth) = self.nth {
            record.insert("nth".into(), json!(nth));
        }
        if let Some(id) = self.backend_node_id {
            record.insert("backendDOMNodeId".into(), json!(id));
        }
        Value::Object(record)
    }

    pub fn target(&self) -> RefTarget {
        RefTarget {
            role: self.role.clone(),
            name: self.name.clone(),
            nth: self.nth.unwrap_or(0),
            backend_node_id: self.backend_node_id,
        }
    }
}

/// The rendered tree before the size budget is applied.
#[derive(Debug, Clone, Default)]
pub struct RoleTree {
    pub lines: Vec<String>,
    /// In ref order (`e1`, `e2`, …).
    pub refs: Vec<(String, SnapshotRef)>,
    pub truncated: bool,
}

pub(super) struct Node<'a> {
    raw: &'a Value,
    role: String,
    name: String,
    value: String,
    backend: Option<i64>,
    children: Vec<usize>,
    parent: Option<usize>,
    depth: usize,
    cursor: Option<CursorInfo>,
    reference: Option<String>,
    nth: usize,
    url: Option<String>,
}

/// TS `axValue`: strings, numbers and booleans as text; anything else empty.
pub(super) fn ax_value(value: Option<&Value>) -> String {
    match value.and_then(|v| v.get("value")) {
        Some(Value::String(s)) => s.clone(),
        Some(number @ Value::Number(_)) => crate::js::string(number),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Builds the role tree from `Accessibility.getFullAXTree` nodes (unscoped: no transparent
/// nodes), assigns refs in CDP order and renders it.
pub fn build_role_tree(
    ax_nodes: &[Value],
    cursor: &HashMap<i64, CursorInfo>,
    link_urls: &HashMap<i64, String>,
    options: RoleOptions,
) -> RoleTree {
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut tree: Vec<Node> = Vec::new();
    for raw in ax_nodes {
        let Some(node_id) = raw
            .get("nodeId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let role = ax_value(raw.get("role"));
        by_id.insert(node_id, tree.len());
        tree.push(Node {
            raw,
            role: if role.is_empty() {
                "unknown".to_string()
            } else {
                role
            },
            name: ax_value(raw.get("name")),
            value: ax_value(raw.get("value")),
            backend: raw
                .get("backendDOMNodeId")
                .and_then(Value::as_i64)
                .filter(|id| *id > 0),
            children: Vec::new(),
            parent: None,
            depth: 0,
            cursor: None,
            reference: None,
            nth: 0,
            url: None,
        });
    }
    for index in 0..tree.len() {
        let child_ids: Vec<usize> = tree[index]
            .raw
            .get("childIds")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .filter_map(|id| by_id.get(id).copied())
                    .collect()
            })
            .unwrap_or_default();
        for child in &child_ids {
            tree[*child].parent = Some(index);
        }
        tree[index].children = child_ids;
    }
    let mut roots: Vec<usize> = (0..tree.len())
        .filter(|i| tree[*i].parent.is_none())
        .collect();
    if roots.is_empty() && !tree.is_empty() {
        roots.push(0);
    }
    // Depth by DFS from the roots. A malformed tree with cycles must not loop forever.
    let mut visited = vec![false; tree.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().map(|r| (*r, 0)).collect();
    while let Some((index, depth)) = stack.pop() {
        if std::mem::replace(&mut visited[index], true) {
            continue;
        }
        tree[index].depth = depth;
        for child in tree[index].children.iter().rev() {
            stack.push((*child, depth + 1));
        }
    }
    for node in tree.iter_mut() {
        if let Some(info) = node.backend.and_then(|id| cursor.get(&id)) {
            if node.name.is_empty() && !info.text.is_empty() {
                node.name = info.text.clone();
            }
            node.cursor = Some(info.clone());
        }
        if let Some(url) = node.backend.and_then(|id| link_urls.get(&id)) {
            node.url = Some(url.clone());
        }
    }

    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut refs: Vec<(String, SnapshotRef)> = Vec::new();
    for node in tree.iter_mut() {
        let role = node.role.to_ascii_lowercase();
        let wants_ref = is_interactive_role(&role)
            || (CONTENT_ROLES.contains(&role.as_str()) && !node.name.is_empty())
            || role == "iframe"
            || node.cursor.is_some();
        if !wants_ref {
            continue;
        }
        let key = format!("{role}:{}", node.name);
        let nth = *counts.get(&key).unwrap_or(&0);
        counts.insert(key, nth + 1);
        let reference = format!("e{}", refs.len() + 1);
        node.reference = Some(reference.clone());
        node.nth = nth;
        refs.push((
            reference,
            SnapshotRef {
                role,
                name: node.name.clone(),
                nth: Some(nth),
                backend_node_id: node.backend,
            },
        ));
    }
    for (_, record) in refs.iter_mut() {
        if counts.get(&format!("{}:{}", record.role, record.name)) == Some(&1) {
            record.nth = None;
        }
    }

    let mut lines = Vec::new();
    let mut truncated = false;
    let mut visited = vec![false; tree.len()];
    for root in roots {
        render(
            &tree,
            root,
            &mut lines,
            options,
            &mut truncated,
            &mut visited,
        );
    }
    RoleTree {
        lines,
        refs,
        truncated,
    }
}

fn include(node: &Node, options: RoleOptions) -> bool {
    let role = node.role.to_ascii_lowercase();
    if options.interactive {
        return is_interactive_role(&role) || role == "iframe" || node.cursor.is_some();
    }
    !(options.compact
        && STRUCTURAL_ROLES.contains(&role.as_str())
        && node.name.is_empty()
        && node.reference.is_none())
}

fn render(
    tree: &[Node],
    index: usize,
    out: &mut Vec<String>,
    options: RoleOptions,
    truncated: &mut bool,
    visited: &mut [bool],
) {
    if std::mem::replace(&mut visited[index], true) {
        return;
    }
    let node = &tree[index];
    if options.max_depth.is_some_and(|max| node.depth > max) {
        return;
    }
    if node.depth > 100 {
        *truncated = true;
        return;
    }
    if include(node, options) {
        let mut line = format!("{}- {}", "  ".repeat(node.depth), node.role);
        if !node.name.is_empty() {
            line.push(' ');
            line.push_str(&json_string(&node.name));
        }
        if let Some(reference) = &node.reference {
            line.push_str(&format!(" [ref={reference}]"));
        }
        if node.nth > 0 {
            line.push_str(&format!(" [nth={}]", node.nth));
        }
        line.push_str(&state_suffix(node.raw));
        if !node.value.is_empty() {
            line.push_str(&format!(" value={}", json_string(&node.value)));
        }
        if let Some(url) = &node.url {
            line.push_str(&format!(" [url={url}]"));
        }
        line.push_str(&cursor_suffix(node.cursor.as_ref()));
        out.push(line);
    }
    for child in &node.children {
        render(tree, *child, out, options, truncated, visited);
    }
}

fn json_string(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// `[checked] [disabled] … [level=N] [invalid=x]` from the node's AX properties.
fn state_suffix(raw: &Value) -> String {
    let properties: HashMap<&str, &Value> = raw
        .get("properties")
        .and_then(Value::as_array)
        .map(|props| {
            props
                .iter()
                .filter_map(|p| Some((p.get("name")?.as_str()?, p.get("value")?.get("value")?)))
                .collect()
        })
        .unwrap_or_default();
    let mut out = String::new();
    for name in [
        "checked", "disabled", "expanded", "pressed", "selected", "level", "invalid",
    ] {
        match properties.get(name) {
            Some(Value::Bool(true)) => out.push_str(&format!(" [{name}]")),
            Some(Value::String(s)) if s == "true" => out.push_str(&format!(" [{name}]")),
            Some(Value::String(s)) if s == "mixed" => out.push_str(&format!(" [{name}=mixed]")),
            Some(level @ Value::Number(_)) if name == "level" => {
                out.push_str(&format!(" [level={}]", crate::js::string(level)))
            }
            Some(Value::String(s)) if name == "invalid" && s != "false" => {
                out.push_str(&format!(" [invalid={s}]"))
            }
            _ => {}
        }
    }
    out
}

fn cursor_suffix(info: Option<&CursorInfo>) -> String {
    let Some(info) = info else {
        return String::new();
    };
    let mut parts = Vec::new();
    if info.has_cursor_pointer {
        parts.push("cursor:pointer".to_string());
    }
    if info.has_on_click {
        parts.push("onclick".to_string());
    }
    if info.has_tab_index {
        parts.push("tabindex".to_string());
    }
    if info.is_editable {
        parts.push("contenteditable".to_string());
    }
    if let Some(kind) = info.hidden_input_type.as_deref().filter(|k| !k.is_empty()) {
        parts.push(format!("hidden-{kind}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(", "))
    }
}

/// The finished `format=ai` body parts.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalSnapshot {
    pub snapshot: String,
    pub refs: Vec<(String, SnapshotRef)>,
    pub truncated: bool,
}

impl FinalSnapshot {
    pub fn refs_json(&self) -> Value {
        Value::Object(
            self.refs
                .iter()
                .map(|(r, record)| (r.clone(), record.to_json()))
                .collect(),
        )
    }

    pub fn stats_json(&self) -> Value {
        let lines = if self.snapshot.is_empty() {
            0
        } else {
            self.snapshot.split('\n').count()
        };
        let interactive = self
            .refs
            .iter()
            .filter(|(_, r)| is_interactive_role(&r.role))
            .count();
        json!({ "lines": lines, "chars": self.snapshot.encode_utf16().count(), "refs": self.refs.len(), "interactive": interactive })
    }
}

/// Joins and trims the lines, applies the empty-page texts, the depth marker and the
/// `maxChars` budget (whole lines only), and keeps only the refs still visible.
pub fn finalize(tree: RoleTree, options: RoleOptions, max_chars: Option<usize>) -> FinalSnapshot {
    let joined = tree.lines.join("\n");
    let mut text = joined.trim().to_string();
    if text.is_empty() {
        text = if options.interactive {
            "(no interactive elements)"
        } else {
            "(empty page)"
        }
        .to_string();
    }
    if tree.truncated {
        text = format!("{text}\n\n{DEPTH_TRUNCATION_MARKER}");
    }
    let source_lines: Vec<&str> = text.split('\n').collect();
    let length = |s: &str| s.encode_utf16().count();
    let over_budget = max_chars.is_some_and(|max| length(&text) > max);
    let (snapshot, visible_lines) = match max_chars.filter(|_| over_budget) {
        Some(max) => {
            let marker = if max >= 31 {
                SIZE_TRUNCATION_MARKER
            } else {
                "…"
            };
            let mut prefix = String::new();
            let mut count = 0;
            for line in &source_lines {
                let candidate = if prefix.is_empty() {
                    line.to_string()
                } else {
                    format!("{prefix}\n{line}")
                };
                if length(&candidate) + 2 + length(marker) > max {
                    break;
                }
                prefix = candidate;
                count += 1;
            }
            let snapshot = if prefix.is_empty() {
                marker.to_string()
            } else {
                format!("{prefix}\n\n{marker}")
            };
            (snapshot, count)
        }
        None => (text.clone(), source_lines.len()),
    };
    let visible: Vec<&str> = source_lines[..visible_lines]
        .iter()
        .filter_map(|line| line_ref(line))
        .collect();
    let refs = tree
        .refs
        .into_iter()
        .filter(|(r, _)| visible.contains(&r.as_str()))
        .collect();
    FinalSnapshot {
        snapshot,
        refs,
        truncated: over_budget || tree.truncated,
    }
}

/// The `[ref=…]` of a rendered line, if any.
fn line_ref(line: &str) -> Option<&str> {
    let start = line.find(" [ref=")? + " [ref=".len();
    let end = line[start..].find(']')? + start;
    Some(&line[start..end])
}
