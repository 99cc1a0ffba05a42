//! What the accessibility tree misses: elements that only look clickable (TS's
//! cursor-interactive scan) and the URLs of links.

use super::*;

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
        Err(err @ crate::browser::error::RouteError::BlockedByDialog)
        | Err(err @ crate::browser::error::RouteError::Interrupted(_)) => return Err(err),
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
