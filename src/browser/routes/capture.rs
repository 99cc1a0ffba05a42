//! Files out of a page: screenshots (whole page, viewport or one element) and PDFs.

use super::*;

/// Longest side of a screenshot and its byte cap, after which it is scaled or re-encoded.
const SCREENSHOT_MAX_SIDE: f64 = 2000.0;
const SCREENSHOT_MAX_BYTES: usize = 5 * 1024 * 1024;

pub(super) fn screenshot(
    env: &Env,
    profile: &Profile,
    body: &Map<String, Value>,
) -> RouteResult<Output> {
    let full_page = bool_of(body.get("fullPage")).unwrap_or(false);
    let reference = Some(text_of(body.get("ref"))).filter(|s| !s.is_empty());
    let element = Some(text_of(body.get("element"))).filter(|s| !s.is_empty());
    let jpeg = body.get("type").and_then(Value::as_str) == Some("jpeg");
    let timeout = timeout_ms(body.get("timeoutMs"))
        .map_err(|m| RouteError::new(400, m))?
        .unwrap_or(20_000);
    if full_page && (reference.is_some() || element.is_some()) {
        return Err(RouteError::new(
            400,
            "fullPage is not supported for element screenshots",
        ));
    }
    if bool_of(body.get("labels")) == Some(true) {
        return Err(RouteError::new(501, "Screenshot labels are not supported by this node (openclaw-node). Take the screenshot without labels and use a snapshot for refs."));
    }
    let budget = env.budget.narrow(Duration::from_millis(timeout));
    let env = Env {
        budget: &budget,
        ..*env
    };
    let (instance, tab) = route_tab(&env, profile, target_of(body).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    let _one_at_a_time = page.action_gate.acquire(env.budget)?;
    let session = PageSession {
        conn: &instance.conn,
        page: &page,
        budget: env.budget,
    };
    let capture = || -> RouteResult<(Vec<u8>, bool)> {
        if page.has_pending_dialog() {
            return Err(RouteError::BlockedByDialog);
        }
        let _ = session.call("Page.bringToFront", json!({}));
        let metrics = session.call("Page.getLayoutMetrics", json!({}))?;
        let viewport = metrics
            .get("cssVisualViewport")
            .cloned()
            .unwrap_or(Value::Null);
        let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64).unwrap_or(0.0);
        let (page_x, page_y) = (number(&viewport, "pageX"), number(&viewport, "pageY"));
        let mut clip = if let Some(raw) = reference.as_deref().or(element.as_deref()) {
            Some(element_box(
                &session,
                raw,
                reference.is_some(),
                page_x,
                page_y,
            )?)
        } else if full_page {
            let size = metrics
                .get("cssContentSize")
                .cloned()
                .unwrap_or(Value::Null);
            Some((0.0, 0.0, number(&size, "width"), number(&size, "height")))
        } else {
            let (w, h) = (
                number(&viewport, "clientWidth"),
                number(&viewport, "clientHeight"),
            );
            let longest = w.max(h);
            (longest > SCREENSHOT_MAX_SIDE).then_some((page_x, page_y, w, h))
        };
        if let Some((_, _, w, h)) = clip {
            if w <= 0.0 || h <= 0.0 {
                clip = None;
            }
        }
        let shoot = |format: &str, quality: Option<u32>| -> RouteResult<Vec<u8>> {
            let mut params = json!({ "format": format, "captureBeyondViewport": clip.is_some() });
            if let Some(q) = quality {
                params["quality"] = json!(q);
            }
            if let Some((x, y, w, h)) = clip {
                let scale = (SCREENSHOT_MAX_SIDE / w.max(h)).min(1.0);
                params["clip"] = json!({ "x": x, "y": y, "width": w, "height": h, "scale": scale });
            }
            let shot = session.call("Page.captureScreenshot", params)?;
            let data = shot
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| RouteError::internal("Screenshot failed: missing data"))?;
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| RouteError::internal("Screenshot failed: invalid data"))
        };
        let first = if jpeg {
            shoot("jpeg", Some(85))?
        } else {
            shoot("png", None)?
        };
        if first.len() <= SCREENSHOT_MAX_BYTES {
            return Ok((first, jpeg));
        }
        let mut smallest = first.len();
        for quality in [85, 70, 55, 40] {
            let smaller = shoot("jpeg", Some(quality))?;
            if smaller.len() <= SCREENSHOT_MAX_BYTES {
                return Ok((smaller, true));
            }
            smallest = smallest.min(smaller.len());
        }
        Err(RouteError::internal(format!(
            "Browser screenshot could not be reduced below 5MB (got {:.2}MB)",
            smallest as f64 / 1_048_576.0
        )))
    };
    let (bytes, is_jpeg) = capture().map_err(dialog_conflict)?;
    let path = env
        .media_dir
        .join(format!(
            "{}.{}",
            uuid_v4(),
            if is_jpeg { "jpg" } else { "png" }
        ))
        .display()
        .to_string();
    let body =
        json!({ "ok": true, "path": path, "targetId": tab.target_id(), "url": tab.target.url });
    Ok(Output {
        body,
        artifacts: vec![Artifact {
            path,
            bytes,
            mime: if is_jpeg { "image/jpeg" } else { "image/png" },
        }],
    })
}

/// The document-coordinate box of a ref'd (or CSS-selected) element, scrolled into view.
fn element_box(
    session: &PageSession,
    raw: &str,
    is_ref: bool,
    page_x: f64,
    page_y: f64,
) -> RouteResult<(f64, f64, f64, f64)> {
    let not_found = || {
        RouteError::act_failed(format!("Element \"{raw}\" not found or not visible. Run a new snapshot to see current page elements."))
    };
    let object_id = if is_ref {
        let reference = act::parse_ref(raw).ok_or_else(|| act::unknown_ref(raw))?;
        let target = session
            .page
            .lookup_ref(&reference)
            .ok_or_else(|| act::unknown_ref(raw))?;
        session
            .resolve_node(target.backend_node_id.ok_or_else(not_found)?)?
            .ok_or_else(not_found)?
    } else {
        let result = session.call(
            "Runtime.evaluate",
            json!({ "expression": format!("document.querySelector({})", json!(raw)), "returnByValue": false }),
        )?;
        result
            .pointer("/result/objectId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(not_found)?
    };
    let rect = session.call_function_on(
        &object_id,
        "function() { const el = this.nodeType === 1 ? this : this.parentElement; if (!el) return null; el.scrollIntoView({block: 'center', inline: 'center'}); const r = el.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height, sx: window.scrollX, sy: window.scrollY }; }",
        vec![],
    )?;
    session.release(&object_id);
    let get = |key: &str| rect.get(key).and_then(Value::as_f64);
    match (get("x"), get("y"), get("w"), get("h")) {
        (Some(x), Some(y), Some(w), Some(h)) if w > 0.0 && h > 0.0 => {
            let (sx, sy) = (get("sx").unwrap_or(page_x), get("sy").unwrap_or(page_y));
            Ok((x + sx, y + sy, w, h))
        }
        _ => Err(not_found()),
    }
}

/// POST `/pdf`: `Page.printToPDF {printBackground:true}`, returned in `files`.
pub(super) fn pdf(env: &Env, profile: &Profile, body: &Map<String, Value>) -> RouteResult<Output> {
    let (instance, tab) = route_tab(env, profile, target_of(body).as_deref())?;
    env.settings
        .navigation
        .check_current(&tab.target.url, env.budget)?;
    let page = instance.page(env.budget, tab.target_id())?;
    let _one_at_a_time = page.action_gate.acquire(env.budget)?;
    let session = PageSession {
        conn: &instance.conn,
        page: &page,
        budget: env.budget,
    };
    let printed = session
        .call("Page.printToPDF", json!({ "printBackground": true }))
        .map_err(dialog_conflict)?;
    let data = printed
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| RouteError::internal("PDF failed: missing data"))?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| RouteError::internal("PDF failed: invalid data"))?;
    let path = env
        .media_dir
        .join(format!("{}.pdf", uuid_v4()))
        .display()
        .to_string();
    let body =
        json!({ "ok": true, "path": path, "targetId": tab.target_id(), "url": tab.target.url });
    Ok(Output {
        body,
        artifacts: vec![Artifact {
            path,
            bytes,
            mime: "application/pdf",
        }],
    })
}
