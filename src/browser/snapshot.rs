//! Page snapshots from the accessibility tree (spec §6): the role snapshot with `eN` refs
//! (`format=ai`, TS's `snapshotRoleViaCdp`) and the flat `axN` node list (`format=aria`).
//!
//! The tree-to-text part is pure and mirrors the TS code line by line, quirks included (lines
//! are indented by tree depth even in interactive mode, and the joined text is trimmed), so the
//! agent tool and models see the same text from either node.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::error::RouteResult;
use super::page::{PageSession, RefTarget};

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

struct Node<'a> {
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
fn ax_value(value: Option<&Value>) -> String {
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

const CURSOR_ATTR: &str = "data-openclaw-cdp-ci";

/// TS's cursor-interactive scan: elements that look clickable (pointer cursor, onclick,
/// tabindex, contenteditable) but have no interactive role. Each is tagged, found again through
/// the DOM domain to learn its backend node id, and untagged.
pub fn cursor_interactive_elements(session: &PageSession) -> RouteResult<HashMap<i64, CursorInfo>> {
    let scan = format!(
        r#"(() => {{
  const out = [];
  const roles = new Set(["button","link","textbox","checkbox","radio","combobox","listbox","menuitem","menuitemcheckbox","menuitemradio","option","searchbox","slider","spinbutton","switch","tab","treeitem"]);
  const tags = new Set(["a","button","input","select","textarea","details","summary"]);
  document.querySelectorAll("[{CURSOR_ATTR}]").forEach((el) => el.removeAttribute("{CURSOR_ATTR}"));
  for (const el of document.body ? document.body.querySelectorAll("*") : []) {{
    if (!(el instanceof HTMLElement) || el.closest("[hidden],[aria-hidden='true']")) continue;
    const tagName = el.tagName.toLowerCase();
    if (tags.has(tagName)) continue;
    const role = String(el.getAttribute("role") || "").toLowerCase();
    if (roles.has(role)) continue;
    const style = getComputedStyle(el);
    const hasCursorPointer = style.cursor === "pointer";
    const hasOnClick = el.hasAttribute("onclick") || el.onclick !== null;
    const tabIndex = el.getAttribute("tabindex");
    const hasTabIndex = tabIndex !== null && tabIndex !== "-1";
    const ce = el.getAttribute("contenteditable");
    const isEditable = ce === "" || ce === "true";
    if (!hasCursorPointer && !hasOnClick && !hasTabIndex && !isEditable) continue;
    if (hasCursorPointer && !hasOnClick && !hasTabIndex && !isEditable) {{
      const parent = el.parentElement;
      if (parent && getComputedStyle(parent).cursor === "pointer") continue;
    }}
    const rect = el.getBoundingClientRect();
    if (rect.width <= 0 || rect.height <= 0) continue;
    let hiddenInputType = "";
    const hiddenInput = el.querySelector("input[type='radio'],input[type='checkbox']");
    if (hiddenInput instanceof HTMLInputElement) {{
      const hiddenStyle = getComputedStyle(hiddenInput);
      if (hiddenInput.hidden || hiddenStyle.display === "none" || hiddenStyle.visibility === "hidden") hiddenInputType = hiddenInput.type;
    }}
    el.setAttribute("{CURSOR_ATTR}", String(out.length));
    out.push({{ text: String(el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 100), hasCursorPointer, hasOnClick, hasTabIndex, isEditable, hiddenInputType }});
  }}
  return out;
}})()"#
    );
    let entries = match session.evaluate(&scan) {
        Ok(Value::Array(entries)) => entries,
        Ok(_) => return Ok(HashMap::new()),
        Err(err @ super::error::RouteError::BlockedByDialog)
        | Err(err @ super::error::RouteError::Interrupted(_)) => return Err(err),
        Err(_) => return Ok(HashMap::new()),
    };
    let result = map_tagged_elements(session, &entries);
    let cleanup = format!(
        r#"document.querySelectorAll("[{CURSOR_ATTR}]").forEach((el) => el.removeAttribute("{CURSOR_ATTR}"))"#
    );
    let _ = session.evaluate(&cleanup);
    result
}

fn map_tagged_elements(
    session: &PageSession,
    entries: &[Value],
) -> RouteResult<HashMap<i64, CursorInfo>> {
    let mut out = HashMap::new();
    if entries.is_empty() {
        return Ok(out);
    }
    let root = session.call("DOM.getDocument", json!({ "depth": 0 }))?;
    let Some(root_id) = root.pointer("/root/nodeId").and_then(Value::as_i64) else {
        return Ok(out);
    };
    let found = session.call(
        "DOM.querySelectorAll",
        json!({ "nodeId": root_id, "selector": format!("[{CURSOR_ATTR}]") }),
    )?;
    for node_id in found
        .get("nodeIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
    {
        let Ok(described) = session.call("DOM.describeNode", json!({ "nodeId": node_id })) else {
            continue;
        };
        let node = described.get("node").unwrap_or(&Value::Null);
        let attrs: Vec<&str> = node
            .get("attributes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let index = attrs
            .iter()
            .position(|a| *a == CURSOR_ATTR)
            .and_then(|i| attrs.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok());
        let (Some(index), Some(backend)) =
            (index, node.get("backendNodeId").and_then(Value::as_i64))
        else {
            continue;
        };
        let Some(entry) = entries.get(index) else {
            continue;
        };
        let flag = |key: &str| entry.get(key).and_then(Value::as_bool).unwrap_or(false);
        out.insert(
            backend,
            CursorInfo {
                text: entry
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .take(100)
                    .collect(),
                has_cursor_pointer: flag("hasCursorPointer"),
                has_on_click: flag("hasOnClick"),
                has_tab_index: flag("hasTabIndex"),
                is_editable: flag("isEditable"),
                hidden_input_type: entry
                    .get("hiddenInputType")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            },
        );
    }
    Ok(out)
}

/// `href` of every link ref, for `urls=1`.
pub fn link_urls(
    session: &PageSession,
    refs: &[(String, SnapshotRef)],
) -> RouteResult<HashMap<i64, String>> {
    let mut out = HashMap::new();
    for (_, record) in refs.iter().filter(|(_, r)| r.role == "link") {
        let Some(backend) = record.backend_node_id else {
            continue;
        };
        let Some(object) = session.resolve_node(backend)? else {
            continue;
        };
        if let Ok(Value::String(href)) =
            session.call_function_on(&object, "function() { return this.href || ''; }", vec![])
        {
            if !href.is_empty() {
                out.insert(backend, href);
            }
        }
        session.release(&object);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ax(id: &str, role: &str, name: &str, backend: i64, children: &[&str]) -> Value {
        json!({ "nodeId": id, "role": {"type": "role", "value": role}, "name": {"type": "computedString", "value": name},
                "backendDOMNodeId": backend, "childIds": children, "ignored": false })
    }

    /// The BP test page of the captures, reduced to its tree shape.
    fn page() -> Vec<Value> {
        let mut combobox = ax("7", "combobox", "Color", 2, &["12"]);
        combobox["value"] = json!({"type": "string", "value": "Red"});
        let mut red = ax("13", "option", "Red", 24, &[]);
        red["properties"] =
            json!([{"name": "selected", "value": {"type": "booleanOrUndefined", "value": true}}]);
        let mut heading = ax("4", "heading", "Browser proxy test", 12, &[]);
        heading["properties"] =
            json!([{"name": "level", "value": {"type": "integer", "value": 1}}]);
        vec![
            ax("1", "RootWebArea", "BP Test Page", 4, &["2"]),
            ax("2", "none", "", 5, &["3"]),
            ax("3", "main", "", 11, &["4", "5", "6", "7", "8", "9", "10"]),
            heading,
            ax("5", "button", "Click me", 14, &[]),
            ax("6", "textbox", "Your name", 1, &[]),
            combobox,
            ax("8", "checkbox", "I agree", 3, &[]),
            ax("9", "generic", "", 31, &[]),
            ax("10", "link", "Go to page 2", 32, &[]),
            ax("12", "MenuListPopup", "", 0, &["13", "14"]),
            red,
            ax("14", "option", "Blue", 27, &[]),
        ]
    }

    fn cursor() -> HashMap<i64, CursorInfo> {
        HashMap::from([(
            31,
            CursorInfo {
                text: "Clickable div".into(),
                has_cursor_pointer: true,
                has_on_click: true,
                ..Default::default()
            },
        )])
    }

    #[test]
    fn interactive_snapshot_matches_the_ts_node() {
        let options = RoleOptions {
            interactive: true,
            ..Default::default()
        };
        let tree = build_role_tree(&page(), &cursor(), &HashMap::new(), options);
        let done = finalize(tree, options, Some(DEFAULT_MAX_CHARS));
        assert_eq!(
            done.snapshot,
            "- button \"Click me\" [ref=e2]\n      - textbox \"Your name\" [ref=e3]\n      - combobox \"Color\" [ref=e4] value=\"Red\"\n          - option \"Red\" [ref=e8] [selected]\n          - option \"Blue\" [ref=e9]\n      - checkbox \"I agree\" [ref=e5]\n      - generic \"Clickable div\" [ref=e6] [cursor:pointer, onclick]\n      - link \"Go to page 2\" [ref=e7]"
        );
        // e1 (the heading) is numbered but not shown, so it is not returned.
        let names: Vec<&str> = done.refs.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(names, vec!["e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"]);
        assert_eq!(
            done.refs_json()["e2"],
            json!({"role": "button", "name": "Click me", "backendDOMNodeId": 14})
        );
        assert_eq!(
            done.stats_json(),
            json!({"lines": 8, "chars": done.snapshot.len(), "refs": 8, "interactive": 7})
        );
        assert!(!done.truncated);
    }

    #[test]
    fn compact_drops_unnamed_structure_and_keeps_levels() {
        let options = RoleOptions {
            compact: true,
            ..Default::default()
        };
        let done = finalize(
            build_role_tree(&page(), &cursor(), &HashMap::new(), options),
            options,
            None,
        );
        assert!(done.snapshot.starts_with("- RootWebArea \"BP Test Page\"\n    - main\n      - heading \"Browser proxy test\" [ref=e1] [level=1]"), "{}", done.snapshot);
        assert!(!done.snapshot.contains("- none"));
    }

    #[test]
    fn depth_limit_and_urls() {
        let options = RoleOptions {
            max_depth: Some(2),
            ..Default::default()
        };
        let urls = HashMap::from([(32, "http://x/page2.html".to_string())]);
        let done = finalize(
            build_role_tree(&page(), &HashMap::new(), &urls, options),
            options,
            None,
        );
        assert_eq!(
            done.snapshot,
            "- RootWebArea \"BP Test Page\"\n  - none\n    - main"
        );
        let all = finalize(
            build_role_tree(&page(), &HashMap::new(), &urls, RoleOptions::default()),
            RoleOptions::default(),
            None,
        );
        assert!(
            all.snapshot
                .contains("- link \"Go to page 2\" [ref=e6] [url=http://x/page2.html]"),
            "{}",
            all.snapshot
        );
    }

    #[test]
    fn duplicate_names_get_nth() {
        let nodes = vec![
            ax("1", "RootWebArea", "", 1, &["2", "3"]),
            ax("2", "button", "OK", 2, &[]),
            ax("3", "button", "OK", 3, &[]),
        ];
        let done = finalize(
            build_role_tree(
                &nodes,
                &HashMap::new(),
                &HashMap::new(),
                RoleOptions::default(),
            ),
            RoleOptions::default(),
            None,
        );
        assert_eq!(
            done.snapshot,
            "- RootWebArea\n  - button \"OK\" [ref=e1]\n  - button \"OK\" [ref=e2] [nth=1]"
        );
        assert_eq!(done.refs[0].1.nth, Some(0));
        assert_eq!(done.refs[1].1.nth, Some(1));
    }

    #[test]
    fn max_chars_cuts_whole_lines_and_drops_hidden_refs() {
        let options = RoleOptions {
            interactive: true,
            ..Default::default()
        };
        let done = finalize(
            build_role_tree(&page(), &cursor(), &HashMap::new(), options),
            options,
            Some(80),
        );
        assert!(done.truncated);
        assert!(
            done.snapshot
                .ends_with("\n\n[...TRUNCATED - page too large]"),
            "{}",
            done.snapshot
        );
        assert!(done.snapshot.len() <= 80);
        assert_eq!(
            done.refs
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>(),
            vec!["e2"]
        );
        let tiny = finalize(
            build_role_tree(&page(), &cursor(), &HashMap::new(), options),
            options,
            Some(10),
        );
        assert_eq!(tiny.snapshot, "…");
    }

    #[test]
    fn empty_pages() {
        let blank = vec![ax("1", "RootWebArea", "", 1, &[])];
        let interactive = RoleOptions {
            interactive: true,
            ..Default::default()
        };
        assert_eq!(
            finalize(
                build_role_tree(&blank, &HashMap::new(), &HashMap::new(), interactive),
                interactive,
                None
            )
            .snapshot,
            "(no interactive elements)"
        );
        assert_eq!(
            finalize(
                build_role_tree(
                    &[],
                    &HashMap::new(),
                    &HashMap::new(),
                    RoleOptions::default()
                ),
                RoleOptions::default(),
                None
            )
            .snapshot,
            "(empty page)"
        );
    }

    #[test]
    fn aria_format_is_a_dfs_with_limit() {
        let nodes = format_aria(&page(), 4);
        assert_eq!(nodes.len(), 4);
        assert_eq!(
            nodes[0],
            json!({"ref": "ax1", "role": "RootWebArea", "name": "BP Test Page", "backendDOMNodeId": 4, "depth": 0})
        );
        assert_eq!(nodes[3]["role"], "heading");
        assert_eq!(nodes[3]["depth"], 3);
        let refs = aria_refs(&nodes);
        assert_eq!(refs["ax4"].backend_node_id, Some(12));
    }
}
