//! `browser.proxy` against a real headless Chromium, through the command handler.
//!
//! Each test serves its own pages from a tiny HTTP server on loopback and drives its own
//! browser (its own state directory, a CDP port Chromium picks), so tests run in parallel.
//! Without a Chromium/Chrome on PATH the browser tests print why and pass: CI installs the
//! Debian `chromium` package; locally `apt-get install -y chromium`.
// POSIX only: the fake gateway's harness and these tests use sh, signals and poll(2).
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use openclaw_node::approvals::ApprovalsStore;
use openclaw_node::browser::{BrowserHost, BrowserProxy};
use openclaw_node::cancel::CancelToken;
use openclaw_node::commands::{InvokeContext, NodeRuntime};
use openclaw_node::config::NodeConfig;
use openclaw_node::invoke::{InvokeError, NoEvents};
use openclaw_node::paths::StatePaths;
use openclaw_node::secrets::Secrets;

const INDEX: &str = r#"<!doctype html><html><head><title>BP Test Page</title></head><body>
<main>
<h1>Browser proxy test</h1>
<p id="out">Clicked: 0</p>
<button id="btn" onclick="window.__clicks=(window.__clicks||0)+1;document.getElementById('out').textContent='Clicked: '+window.__clicks">Click me</button>
<label for="name">Your name</label><input id="name" placeholder="name here">
<select id="color" aria-label="Color"><option value="red">Red</option><option value="blue">Blue</option></select>
<input type="checkbox" id="agree"><label for="agree">I agree</label>
<div id="clickable" style="cursor:pointer" onclick="this.textContent='Clicked div'">Clickable div</div>
<a href="/page2.html">Go to page 2</a>
<ul><li>First item</li><li>Second item</li></ul>
<button id="alerter" onclick="alert('hello from the page'); document.title='after alert'">Show alert</button>
</main></body></html>"#;

const PAGE2: &str = r#"<!doctype html><html><head><title>Page Two</title></head><body>
<h1>Second page</h1><a href="/index.html">Back home</a><button>Other button</button></body></html>"#;

/// Serves INDEX and PAGE2 on 127.0.0.1 until the process ends.
fn serve_pages() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test HTTP server");
    let address = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/");
                let (status, body) = match path {
                    "/" | "/index.html" => ("200 OK", INDEX),
                    "/page2.html" => ("200 OK", PAGE2),
                    _ => ("404 Not Found", "not found"),
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://{address}")
}

/// A node runtime over a fresh state directory, removed on drop (after the browser stops).
struct TestNode {
    ctx: InvokeContext,
    dir: PathBuf,
}

impl TestNode {
    fn new(config: Value) -> TestNode {
        TestNode::with_secrets(
            config,
            Secrets::new(vec!["OPENCLAW_GATEWAY_TOKEN".to_string()], vec![]),
        )
    }

    fn with_secrets(config: Value, secrets: Secrets) -> TestNode {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "openclaw-node-browser-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the state directory");
        let paths = StatePaths::at(&dir);
        let config = NodeConfig::from_value(config);
        let host = BrowserHost {
            path_env: openclaw_node::platform::search_path::effective_path_env(),
            headless_override: None,
            has_display: std::env::var_os("DISPLAY").is_some(),
        };
        let browser = BrowserProxy::from_config(&config, &host, &paths, secrets.clone());
        let node = NodeRuntime {
            approvals: ApprovalsStore::new(&paths),
            paths,
            config: Arc::new(config),
            path_env: openclaw_node::platform::search_path::effective_path_env(),
            secrets,
            browser,
            mcp: None,
        };
        let ctx = InvokeContext {
            cancel: CancelToken::new(),
            events: Arc::new(NoEvents),
            node: Arc::new(node),
            timeout_ms: None,
        };
        TestNode { ctx, dir }
    }

    fn has_browser(&self) -> bool {
        self.ctx.node.browser.is_some()
    }

    /// Calls the handler; `Ok` is the decoded payload.
    fn call(&self, params: Value) -> Result<Value, InvokeError> {
        let proxy = self
            .ctx
            .node
            .browser
            .as_ref()
            .expect("browser proxy configured");
        proxy
            .handle(&self.ctx.cancel, params)
            .map(|payload| serde_json::from_str(&payload).expect("payload is JSON"))
    }

    /// A request with the browser-v1 envelope; returns the payload (result or error).
    fn request(&self, method: &str, path: &str, extra: Value) -> Value {
        let mut params = json!({ "method": method, "path": path, "errorEnvelope": "browser-v1", "timeoutMs": 30000 });
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                params[k] = v;
            }
        }
        match self.call(params) {
            Ok(payload) => payload,
            Err(err) => panic!("{method} {path} failed at node level: {err}"),
        }
    }

    /// Like [`TestNode::request`] but insists on a successful `result`.
    fn ok(&self, method: &str, path: &str, extra: Value) -> Value {
        let payload = self.request(method, path, extra);
        assert!(
            payload.get("error").is_none(),
            "{method} {path} failed: {payload}"
        );
        assert_eq!(
            payload["route"],
            json!({"status": "resolved", "profile": "openclaw", "driver": "openclaw"}),
            "{payload}"
        );
        payload["result"].clone()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(browser) = &self.ctx.node.browser {
            browser.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn allow_private() -> Value {
    json!({ "browser": { "ssrfPolicy": { "dangerouslyAllowPrivateNetwork": true } } })
}

fn skip_without_browser(node: &TestNode) -> bool {
    if node.has_browser() {
        return false;
    }
    eprintln!("SKIPPED: no Chromium/Chrome found on PATH (install the `chromium` package to run the browser tests)");
    true
}

/// The ref of the snapshot line `- <role> "<name>" [ref=…]`.
fn ref_of(snapshot: &Value, role: &str, name: &str) -> String {
    let refs = snapshot["refs"].as_object().expect("refs");
    refs.iter()
        .find(|(_, r)| r["role"] == role && r["name"] == name)
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| panic!("no {role} {name:?} in {}", snapshot["snapshot"]))
}

fn evaluate(node: &TestNode, function: &str) -> Value {
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "evaluate", "fn": function } }),
    )["result"]
        .clone()
}

#[test]
fn the_browser_never_sees_a_variable_that_contains_a_secret() {
    const TOKEN: &str = "browser-test-token-5e1f0c";
    // Only this test reads these; they are set before its browser starts.
    std::env::set_var("OCN_TEST_AUTH", format!("Bearer {TOKEN}"));
    std::env::set_var("OCN_TEST_PLAIN", "kept");
    let node = TestNode::with_secrets(json!({}), Secrets::new(vec![], vec![TOKEN.to_string()]));
    if skip_without_browser(&node) {
        return;
    }
    node.ok("POST", "/start", json!({}));
    let pid = node.ok("GET", "/", json!({}))["pid"].as_u64().expect("pid");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("the browser's environ");
    let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
    assert!(vars.iter().any(|v| *v == b"OCN_TEST_PLAIN=kept"));
    assert!(
        !vars.iter().any(|v| v.starts_with(b"OCN_TEST_AUTH=")),
        "AUTH=Bearer <token> reached the browser"
    );
}

#[test]
fn drives_a_page_start_to_stop() {
    let node = TestNode::new(allow_private());
    if skip_without_browser(&node) {
        return;
    }
    let site = serve_pages();

    let status = node.ok("GET", "/", json!({}));
    assert_eq!(
        status["running"], false,
        "status must not start the browser: {status}"
    );
    assert_eq!(status["pid"], Value::Null);
    assert_eq!(status["detectedBrowser"], "chromium");

    assert_eq!(
        node.ok("POST", "/start", json!({})),
        json!({ "ok": true, "profile": "openclaw" })
    );
    let status = node.ok("GET", "/", json!({}));
    assert_eq!(status["running"], true, "{status}");
    assert_eq!(status["cdpReady"], true, "{status}");
    assert_eq!(status["cdpHttp"], true, "{status}");
    assert!(status["pid"].as_u64().is_some(), "{status}");
    assert_eq!(status["headless"], true);
    let user_data_dir = status["userDataDir"]
        .as_str()
        .expect("userDataDir")
        .to_string();
    assert!(
        user_data_dir.starts_with(node.dir.to_str().unwrap()),
        "profile must live under the state dir: {user_data_dir}"
    );

    let opened = node.ok(
        "POST",
        "/tabs/open",
        json!({ "body": { "url": format!("{site}/"), "label": "main" } }),
    );
    let target_id = opened["targetId"].as_str().expect("targetId").to_string();
    assert_eq!(opened["url"], format!("{site}/"));
    assert_eq!(opened["label"], "main");
    assert_eq!(opened["suggestedTargetId"], "main");
    assert_eq!(opened["resolvedProfile"], "openclaw");
    assert!(opened["tabId"].as_str().unwrap().starts_with('t'));

    let tabs = node.ok("GET", "/tabs", json!({}));
    assert_eq!(tabs["running"], true);
    let listed = tabs["tabs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["targetId"] == target_id.as_str())
        .expect("opened tab listed");
    assert_eq!(listed["title"], "BP Test Page");

    // The role snapshot: interactive elements with refs bound to DOM nodes.
    let snap = node.ok(
        "GET",
        "/snapshot",
        json!({ "query": { "interactive": true, "targetId": "main" } }),
    );
    assert_eq!(snap["format"], "ai");
    assert_eq!(snap["targetId"], target_id.as_str());
    let text = snap["snapshot"].as_str().unwrap();
    for expected in [
        "button \"Click me\"",
        "textbox \"Your name\"",
        "combobox \"Color\"",
        "checkbox \"I agree\"",
        "link \"Go to page 2\"",
        "[cursor:pointer, onclick]",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(
        snap["refs"]
            .as_object()
            .unwrap()
            .values()
            .all(|r| r["backendDOMNodeId"].is_i64()),
        "{}",
        snap["refs"]
    );
    assert_eq!(
        snap["stats"]["refs"].as_u64(),
        Some(snap["refs"].as_object().unwrap().len() as u64)
    );
    let button = ref_of(&snap, "button", "Click me");
    let textbox = ref_of(&snap, "textbox", "Your name");
    let combobox = ref_of(&snap, "combobox", "Color");
    let checkbox = ref_of(&snap, "checkbox", "I agree");

    // Full snapshot and the aria format.
    let full = node.ok("GET", "/snapshot", json!({}));
    assert!(
        full["snapshot"]
            .as_str()
            .unwrap()
            .contains("heading \"Browser proxy test\""),
        "{}",
        full["snapshot"]
    );
    let aria = node.ok(
        "GET",
        "/snapshot",
        json!({ "query": { "format": "aria", "limit": 10 } }),
    );
    assert_eq!(aria["nodes"][0]["ref"], "ax1");
    assert_eq!(aria["nodes"][0]["role"], "RootWebArea");
    assert_eq!(aria["nodes"].as_array().unwrap().len(), 10);
    // Refs from the last snapshot are the ones that count: take a fresh role snapshot.
    let snap = node.ok(
        "GET",
        "/snapshot",
        json!({ "query": { "interactive": true } }),
    );
    assert_eq!(ref_of(&snap, "button", "Click me"), button);

    // Click, type, select, fill and press by ref.
    let clicked = node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "click", "ref": button } }),
    );
    assert_eq!(clicked["ok"], true);
    assert_eq!(clicked["targetId"], target_id.as_str());
    assert_eq!(clicked["url"], format!("{site}/"));
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "type", "ref": textbox, "text": "Alice" } }),
    );
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "select", "ref": combobox, "values": ["blue"] } }),
    );
    node.ok("POST", "/act", json!({ "body": { "kind": "fill", "fields": [{ "ref": checkbox, "type": "checkbox", "value": true }] } }));
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "press", "key": "End" } }),
    );
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "hover", "ref": button } }),
    );
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "scrollIntoView", "ref": checkbox } }),
    );
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "wait", "text": "Clicked: 1", "timeoutMs": 3000 } }),
    );
    let state = evaluate(
        &node,
        "() => ({clicks: window.__clicks, name: document.getElementById('name').value, color: document.getElementById('color').value, agree: document.getElementById('agree').checked})",
    );
    assert_eq!(
        state,
        json!({ "clicks": 1, "name": "Alice", "color": "blue", "agree": true })
    );
    // Typing replaces the value, like Playwright's fill.
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "type", "ref": textbox, "text": "Bob", "slowly": true } }),
    );
    assert_eq!(
        evaluate(&node, "document.getElementById('name').value"),
        json!("AliceBob")
    );
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "type", "ref": textbox, "text": "Carol" } }),
    );
    assert_eq!(
        evaluate(&node, "document.getElementById('name').value"),
        json!("Carol")
    );
    let with_el = node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "evaluate", "fn": "(el) => el.id", "ref": button } }),
    );
    assert_eq!(with_el["result"], "btn");

    // A batch, then a resize and a click by coordinates.
    let batch = node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "batch", "actions": [{ "kind": "click", "ref": button }, { "kind": "press", "key": "Tab" }] } }),
    );
    assert_eq!(batch["results"], json!([{ "ok": true }, { "ok": true }]));
    assert_eq!(evaluate(&node, "window.__clicks"), json!(2));
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "resize", "width": 1024, "height": 700 } }),
    );
    assert_eq!(
        evaluate(&node, "[innerWidth, innerHeight]"),
        json!([1024, 700])
    );

    // Validation and unknown refs keep the TS error shapes.
    let invalid = node.request("POST", "/act", json!({ "body": { "kind": "click" } }));
    assert_eq!(
        invalid["error"],
        json!({ "status": 400, "body": { "error": "click requires ref or selector", "code": "ACT_INVALID_REQUEST" } })
    );
    let unknown = node.request(
        "POST",
        "/act",
        json!({ "body": { "kind": "click", "ref": "e999", "timeoutMs": 1500 } }),
    );
    assert_eq!(
        unknown["error"],
        json!({ "status": 500, "body": { "error": "Error: Unknown ref \"e999\". Run a new snapshot and use a ref from that snapshot." } })
    );

    // A screenshot arrives as a real PNG in `files`, under the path the result names.
    let shot = node.request("POST", "/screenshot", json!({ "body": { "type": "png" } }));
    let path = shot["result"]["path"].as_str().expect("screenshot path");
    assert!(path.ends_with(".png"), "{path}");
    let files = shot["files"].as_array().expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["path"], path);
    assert_eq!(files[0]["mimeType"], "image/png");
    let png = base64::engine::general_purpose::STANDARD
        .decode(files[0]["base64"].as_str().unwrap())
        .expect("base64");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert_eq!((width, height), (1024, 700));
    let element_shot = node.request(
        "POST",
        "/screenshot",
        json!({ "body": { "ref": button, "type": "jpeg" } }),
    );
    assert_eq!(
        element_shot["files"][0]["mimeType"], "image/jpeg",
        "{}",
        element_shot["result"]
    );
    let full_page = node.request(
        "POST",
        "/screenshot",
        json!({ "body": { "fullPage": true, "ref": button } }),
    );
    assert_eq!(
        full_page["error"]["body"]["error"],
        "fullPage is not supported for element screenshots"
    );

    // Navigation invalidates refs.
    let navigated = node.ok(
        "POST",
        "/navigate",
        json!({ "body": { "url": format!("{site}/page2.html"), "targetId": target_id } }),
    );
    assert_eq!(
        navigated,
        json!({ "ok": true, "url": format!("{site}/page2.html"), "targetId": target_id })
    );
    let stale = node.request(
        "POST",
        "/act",
        json!({ "body": { "kind": "click", "ref": button } }),
    );
    assert_eq!(stale["error"]["status"], 500);
    assert!(
        stale["error"]["body"]["error"]
            .as_str()
            .unwrap()
            .starts_with("Error: Unknown ref"),
        "{stale}"
    );
    let blocked = node.request(
        "POST",
        "/navigate",
        json!({ "body": { "url": "file:///etc/passwd" } }),
    );
    assert_eq!(
        blocked["error"],
        json!({ "status": 400, "body": { "error": "Navigation blocked: unsupported protocol \"file:\"", "reason": "navigation_blocked" } })
    );
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = node.request(
        "POST",
        "/navigate",
        json!({ "body": { "url": format!("http://127.0.0.1:{closed_port}/nothing") } }),
    );
    assert_eq!(refused["error"]["status"], 500, "{refused}");
    assert!(
        refused["error"]["body"]["error"]
            .as_str()
            .unwrap()
            .contains("net::ERR_CONNECTION_REFUSED"),
        "{refused}"
    );

    // A click on a link navigates, and a batch stops there.
    node.ok(
        "POST",
        "/navigate",
        json!({ "body": { "url": format!("{site}/index.html") } }),
    );
    let snap = node.ok(
        "GET",
        "/snapshot",
        json!({ "query": { "mode": "efficient" } }),
    );
    let link = ref_of(&snap, "link", "Go to page 2");
    let button = ref_of(&snap, "button", "Click me");
    let batch = node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "batch", "actions": [{ "kind": "click", "ref": link }, { "kind": "click", "ref": button }] } }),
    );
    assert_eq!(batch["url"], format!("{site}/page2.html"), "{batch}");
    assert_eq!(
        batch["results"],
        json!([{ "ok": true, "navigated": true, "url": format!("{site}/page2.html") }])
    );
    assert_eq!(
        batch["aborted"],
        json!({ "reason": "navigation", "afterAction": 1, "url": format!("{site}/page2.html"), "skipped": 1 })
    );

    // Console messages, page errors, page text and PDF.
    evaluate(
        &node,
        "() => { console.log('hello from page'); console.error('bad thing'); setTimeout(() => { throw new Error('boom') }, 0); return 1 }",
    );
    node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "wait", "timeMs": 100 } }),
    );
    let console = node.ok("GET", "/console", json!({}));
    let texts: Vec<&str> = console["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["hello from page", "bad thing"], "{console}");
    assert_eq!(console["messages"][1]["type"], "error");
    let errors_only = node.ok("GET", "/console", json!({ "query": { "level": "error" } }));
    assert_eq!(errors_only["messages"].as_array().unwrap().len(), 1);
    let errors = node.ok("GET", "/errors", json!({ "query": { "clear": true } }));
    assert_eq!(errors["errors"][0]["message"], "boom", "{errors}");
    assert_eq!(errors["errors"][0]["name"], "Error");
    assert_eq!(node.ok("GET", "/errors", json!({}))["errors"], json!([]));
    let text = node.ok("GET", "/text", json!({ "query": { "maxChars": 2000 } }));
    assert_eq!(text["text"], "Second page\nBack homeOther button");
    assert_eq!(text["truncated"], false);
    let pdf = node.request("POST", "/pdf", json!({ "body": {} }));
    assert_eq!(
        pdf["files"][0]["mimeType"], "application/pdf",
        "{}",
        pdf["result"]
    );
    assert_eq!(pdf["files"][0]["path"], pdf["result"]["path"]);

    // Close the tab, then stop the browser.
    let closed = node.ok(
        "DELETE",
        &format!("/tabs/{target_id}"),
        json!({ "query": { "targetIdMode": "raw" } }),
    );
    assert_eq!(closed, json!({ "ok": true, "targetId": target_id }));
    let gone = node.request(
        "POST",
        "/tabs/focus",
        json!({ "body": { "targetId": "main" } }),
    );
    assert_eq!(gone["error"]["status"], 404, "{gone}");
    assert_eq!(
        node.ok("POST", "/stop", json!({})),
        json!({ "ok": true, "stopped": true, "profile": "openclaw" })
    );
    assert_eq!(node.ok("GET", "/", json!({}))["running"], false);
    assert_eq!(
        node.ok("GET", "/tabs", json!({})),
        json!({ "running": false, "tabs": [] })
    );
    let focus = node.request(
        "POST",
        "/tabs/focus",
        json!({ "body": { "targetId": "t1" } }),
    );
    assert_eq!(
        focus["error"],
        json!({ "status": 409, "body": { "error": "browser not running" } })
    );
    let pinned = node.request("GET", "/snapshot", json!({ "query": { "targetId": "t1" } }));
    assert_eq!(pinned["error"]["status"], 409);
}

#[test]
fn dialogs_never_wedge_the_tab() {
    let node = TestNode::new(allow_private());
    if skip_without_browser(&node) {
        return;
    }
    let site = serve_pages();
    // No targetId: the browser starts on demand.
    node.ok(
        "POST",
        "/navigate",
        json!({ "body": { "url": format!("{site}/index.html") } }),
    );
    let snap = node.ok(
        "GET",
        "/snapshot",
        json!({ "query": { "interactive": true } }),
    );
    let alerter = ref_of(&snap, "button", "Show alert");

    // An alert() opened by a click: the act returns at once and reports the dialog.
    let blocked = node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "click", "ref": alerter } }),
    );
    assert_eq!(blocked["blockedByDialog"], true, "{blocked}");
    let pending = &blocked["browserState"]["dialogs"]["pending"];
    assert_eq!(pending[0]["type"], "alert");
    assert_eq!(pending[0]["message"], "hello from the page");
    assert_eq!(pending[0]["id"], "d1");

    // Later requests are not hung by it either.
    let snap = node.ok("GET", "/snapshot", json!({}));
    assert_eq!(snap["blockedByDialog"], true);
    assert_eq!(snap["snapshot"], "");
    assert_eq!(snap["refs"], json!({}));
    assert_eq!(node.ok("GET", "/", json!({}))["running"], true);

    // Answer it; the page carries on.
    assert_eq!(
        node.ok(
            "POST",
            "/hooks/dialog",
            json!({ "body": { "accept": true } })
        ),
        json!({ "ok": true })
    );
    node.ok("POST", "/act", json!({ "body": { "kind": "wait", "fn": "() => document.title === 'after alert'", "timeoutMs": 5000 } }));
    let dialogs = node.ok("GET", "/dialogs", json!({}));
    assert_eq!(dialogs["browserState"]["dialogs"]["pending"], json!([]));
    assert_eq!(
        dialogs["browserState"]["dialogs"]["recent"][0]["closedBy"],
        "agent"
    );

    // An armed response answers the next dialog by itself.
    node.ok(
        "POST",
        "/hooks/dialog",
        json!({ "body": { "accept": true, "promptText": "yes" } }),
    );
    assert_eq!(evaluate(&node, "() => prompt('name?')"), json!("yes"));
    // An unarmed confirm() blocks evaluate, which reports it; dismissing by id resolves it.
    let confirm = node.ok(
        "POST",
        "/act",
        json!({ "body": { "kind": "evaluate", "fn": "() => confirm('really?')" } }),
    );
    assert_eq!(confirm["blockedByDialog"], true, "{confirm}");
    let id = confirm["browserState"]["dialogs"]["pending"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id, "d3");
    node.ok(
        "POST",
        "/hooks/dialog",
        json!({ "body": { "accept": false, "dialogId": id } }),
    );
    let recent = node.ok("GET", "/dialogs", json!({}))["browserState"]["dialogs"]["recent"].clone();
    let closed_by: Vec<&str> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["closedBy"].as_str().unwrap())
        .collect();
    assert_eq!(closed_by, vec!["agent", "armed", "agent"]);
    assert_eq!(recent[1]["defaultValue"], "");
    let none = node.request(
        "POST",
        "/hooks/dialog",
        json!({ "body": { "accept": true, "dialogId": "d9" } }),
    );
    assert_eq!(
        none["error"]["body"]["error"],
        "Error: Dialog \"d9\" is not pending."
    );
}

#[test]
fn browser_death_timeouts_and_node_errors() {
    let node = TestNode::new(allow_private());
    if skip_without_browser(&node) {
        return;
    }
    // Node-level errors of spec §3.2, before any browser work.
    let err = node.call(json!({ "method": "GET" })).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("INVALID_REQUEST", "Error: INVALID_REQUEST: path required")
    );
    let err = node
        .call(json!({ "method": "PUT", "path": "/" }))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Error: INVALID_REQUEST: method must be GET, POST, or DELETE"
    );
    let err = node
        .call(json!({ "path": "/hooks/file-chooser", "upload": {} }))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Error: INVALID_REQUEST: browser.proxy does not accept upload envelopes"
    );
    let err = node
        .call(json!({ "method": "POST", "path": "/profiles/create" }))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Error: INVALID_REQUEST: browser.proxy cannot mutate persistent browser profiles"
    );
    let err = node
        .call(json!({ "method": "GET", "path": "/screenshot" }))
        .unwrap_err();
    assert_eq!(err.message, "Error: 404: Not Found");
    let not_found = node.request("GET", "/screenshot", json!({}));
    assert_eq!(
        not_found["error"],
        json!({ "status": 404, "body": { "error": "Not Found" } })
    );
    let unknown = node.request("GET", "/", json!({ "profile": "nope" }));
    assert_eq!(
        unknown,
        json!({ "error": { "status": 404, "body": { "error": "Profile \"nope\" not found. Available profiles: openclaw" } }, "route": { "status": "unavailable" } })
    );
    let profiles = node.request("GET", "/profiles", json!({}));
    assert_eq!(profiles["route"], json!({ "status": "unavailable" }));
    assert_eq!(profiles["result"]["profiles"][0]["name"], "openclaw");
    // Without the envelope there is no `route`.
    let plain = node.call(json!({ "method": "GET", "path": "/" })).unwrap();
    assert!(
        plain.get("route").is_none() && plain["result"]["profile"] == "openclaw",
        "{plain}"
    );

    // Invocations run side by side: a slow action on the page holds neither status nor tabs.
    node.ok("POST", "/start", json!({}));
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            node.ok(
                "POST",
                "/act",
                json!({ "body": { "kind": "wait", "timeMs": 3000 } }),
            );
            finished.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(node.ok("GET", "/", json!({}))["running"], true);
        assert_eq!(node.ok("GET", "/tabs", json!({}))["running"], true);
        assert!(
            !finished.load(Ordering::SeqCst),
            "status and tabs must not wait for the running action"
        );
        waiter.join().expect("the waiting action");
    });

    // The request budget ends a slow action with the TS timeout message.
    let err = node
        .call(json!({ "method": "POST", "path": "/act", "body": { "kind": "wait", "timeMs": 5000 }, "timeoutMs": 1500, "errorEnvelope": "browser-v1" }))
        .unwrap_err();
    assert!(
        err.message.starts_with("Error: browser proxy timed out for POST /act after 1500ms; ws-backed browser action; profile=openclaw; status(running=true, cdpHttp=true, cdpReady=true, transport=cdp, cdpUrl=http://127.0.0.1:"),
        "{}",
        err.message
    );

    // A browser that dies is noticed, and the next request starts a new one.
    let pid = node.ok("GET", "/", json!({}))["pid"].as_i64().expect("pid") as i32;
    let pid = rustix::process::Pid::from_raw(pid).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill chromium");
    let mut running = true;
    for _ in 0..100 {
        running = node.ok("GET", "/", json!({}))["running"] == true;
        if !running {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!running, "a killed browser must be reported as not running");
    let snap = node.ok("GET", "/snapshot", json!({}));
    assert_eq!(snap["url"], "about:blank");
    let status = node.ok("GET", "/", json!({}));
    assert_eq!(status["running"], true);
    assert_ne!(
        status["pid"].as_i64(),
        Some(pid.as_raw_nonzero().get() as i64)
    );
}

#[test]
fn private_network_is_blocked_by_default_and_profiles_can_be_restricted() {
    let node = TestNode::new(json!({ "browser": { "cdpUrl": "http://127.0.0.1:9" } }));
    // An attach-only config is enough to advertise; no browser is needed for these checks.
    assert!(node.has_browser());
    let blocked = node.request(
        "POST",
        "/tabs/open",
        json!({ "body": { "url": "http://127.0.0.1:19970/" } }),
    );
    assert_eq!(
        blocked["error"],
        json!({ "status": 400, "body": { "error": "browser navigation blocked by policy", "reason": "navigation_blocked" } })
    );
    let err = node.call(json!({ "method": "POST", "path": "/tabs/open", "body": { "url": "http://localhost/" } })).unwrap_err();
    assert_eq!(
        err.message,
        "Error: 400: browser navigation blocked by policy"
    );

    let restricted = TestNode::new(json!({
        "browser": { "cdpUrl": "http://127.0.0.1:9" },
        "nodeHost": { "browserProxy": { "allowProfiles": ["openclaw"] } }
    }));
    let err = restricted
        .call(json!({ "method": "GET", "path": "/", "profile": "user" }))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Error: INVALID_REQUEST: browser profile not allowed"
    );
    let err = restricted
        .call(json!({ "method": "GET", "path": "/tabs", "query": { "profile": "chrome" } }))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Error: INVALID_REQUEST: browser profile not allowed"
    );

    let disabled = TestNode::new(
        json!({ "browser": { "cdpUrl": "http://127.0.0.1:9" }, "nodeHost": { "browserProxy": { "enabled": false } } }),
    );
    assert!(
        !disabled.has_browser(),
        "nodeHost.browserProxy.enabled=false must hide the proxy"
    );
    let disabled =
        TestNode::new(json!({ "browser": { "enabled": false, "cdpUrl": "http://127.0.0.1:9" } }));
    assert!(
        !disabled.has_browser(),
        "browser.enabled=false must hide the proxy"
    );
}

#[test]
fn a_browser_left_over_by_a_killed_node_is_replaced() {
    let node = TestNode::new(allow_private());
    if skip_without_browser(&node) {
        return;
    }
    // What a node killed with SIGKILL leaves behind: Chromium still running on our profile.
    let binary = [
        "/usr/lib/chromium/chromium",
        "/usr/bin/chromium",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        eprintln!("SKIPPED: no Chromium binary at a known path for the leftover-browser test");
        return;
    };
    let user_data_dir = node.dir.join("openclaw-node/browser/openclaw/user-data");
    std::fs::create_dir_all(&user_data_dir).unwrap();
    use std::os::unix::process::CommandExt;
    let mut leftover = std::process::Command::new(binary)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-port=0",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", user_data_dir.display()))
        .arg("about:blank")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start the leftover browser");
    let lock = user_data_dir.join("SingletonLock");
    for _ in 0..200 {
        if std::fs::symlink_metadata(&lock).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(
        std::fs::symlink_metadata(&lock).is_ok(),
        "the leftover browser never locked its profile"
    );

    assert_eq!(
        node.ok("POST", "/start", json!({})),
        json!({ "ok": true, "profile": "openclaw" })
    );
    let status = node.ok("GET", "/", json!({}));
    assert_eq!(status["running"], true);
    assert_ne!(status["pid"].as_u64(), Some(u64::from(leftover.id())));
    let exited = (0..100).any(|_| {
        let done = matches!(leftover.try_wait(), Ok(Some(_)));
        if !done {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        done
    });
    assert!(exited, "the leftover browser must have been stopped");
}

#[test]
fn attaches_to_a_browser_it_did_not_start() {
    let probe = TestNode::new(allow_private());
    if skip_without_browser(&probe) {
        return;
    }
    let binary = [
        "/usr/lib/chromium/chromium",
        "/usr/bin/chromium",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        eprintln!("SKIPPED: no Chromium binary at a known path for the attach test");
        return;
    };
    let profile_dir = probe.dir.join("external-profile");
    use std::os::unix::process::CommandExt;
    let mut external = std::process::Command::new(binary)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-port=0",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .arg("about:blank")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start the external browser");
    let port_file = profile_dir.join("DevToolsActivePort");
    let mut port = None;
    for _ in 0..400 {
        port = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u16>().ok()));
        if port.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let port = port.expect("the external browser opened its DevTools port");
    let site = serve_pages();
    let node = TestNode::new(
        json!({ "browser": { "cdpUrl": format!("http://127.0.0.1:{port}"),
                                                   "ssrfPolicy": { "dangerouslyAllowPrivateNetwork": true } } }),
    );
    let status = node.ok("GET", "/", json!({}));
    assert_eq!(status["running"], true, "{status}");
    assert_eq!(status["cdpUrl"], format!("http://127.0.0.1:{port}"));
    assert_eq!(
        status["pid"],
        Value::Null,
        "the node did not launch this browser"
    );
    let opened = node.ok(
        "POST",
        "/tabs/open",
        json!({ "body": { "url": format!("{site}/page2.html") } }),
    );
    let snap = node.ok(
        "GET",
        "/snapshot",
        json!({ "query": { "interactive": true, "targetId": opened["targetId"] } }),
    );
    assert!(
        snap["snapshot"]
            .as_str()
            .unwrap()
            .contains("button \"Other button\""),
        "{snap}"
    );
    // Stopping only disconnects: the browser belongs to someone else.
    assert_eq!(node.ok("POST", "/stop", json!({}))["stopped"], true);
    assert!(
        matches!(external.try_wait(), Ok(None)),
        "an attached browser must survive /stop"
    );
    let tabs = node.ok("GET", "/tabs", json!({}));
    assert_eq!(
        tabs["running"], true,
        "attach profiles reconnect on demand: {tabs}"
    );
    drop(node);
    assert!(
        matches!(external.try_wait(), Ok(None)),
        "an attached browser must survive the node"
    );
    let pid = rustix::process::Pid::from_raw(external.id() as i32).expect("pid");
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    let _ = external.wait();
}

/// Serves a page on 127.0.0.1 and records every path asked for: `/` (the page), `/ok`,
/// `/redirect` (302 to `http://localhost:<port>/secret`) and anything else as 404.
fn serve_recording() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test HTTP server");
    let port = listener.local_addr().expect("local address").port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = Arc::clone(&record);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut host = String::new();
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {
                            if let Some(value) = header.to_ascii_lowercase().strip_prefix("host:") {
                                host = value.trim().to_string();
                            }
                        }
                    }
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                record.lock().unwrap().push(format!("{host}{path}"));
                let mut stream = stream;
                let (status, extra, body) = match path.as_str() {
                    "/" => (
                        "200 OK",
                        String::new(),
                        "<!doctype html><title>Guarded</title><p>page</p>",
                    ),
                    "/ok" => (
                        "200 OK",
                        "Access-Control-Allow-Origin: *\r\n".to_string(),
                        "ok",
                    ),
                    "/redirect" => (
                        "302 Found",
                        format!("Location: http://localhost:{port}/secret-redirect\r\n"),
                        "",
                    ),
                    _ => ("404 Not Found", String::new(), "not found"),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\n{extra}Content-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

#[test]
fn a_page_cannot_reach_a_private_address_the_policy_forbids() {
    // Only 127.0.0.1 is allowed: the page loads, and `localhost` (the same server) is private.
    let node = TestNode::new(
        json!({ "browser": { "ssrfPolicy": { "allowedHostnames": ["127.0.0.1"] } } }),
    );
    if skip_without_browser(&node) {
        return;
    }
    let (site, seen) = serve_recording();
    let port = site.rsplit(':').next().unwrap().to_string();
    node.ok(
        "POST",
        "/tabs/open",
        json!({ "body": { "url": format!("{site}/") } }),
    );
    let secret = |path: &str| format!("http://localhost:{port}/{path}");
    let outcome = evaluate(
        &node,
        &format!(
            "async () => {{ try {{ await fetch('{}'); return 'reached'; }} catch (e) {{ return 'failed'; }} }}",
            secret("secret-fetch")
        ),
    );
    assert_eq!(outcome, json!("failed"));
    // A request to the allowed host still goes through.
    let allowed = evaluate(
        &node,
        &format!("async () => (await fetch('{site}/ok')).text()"),
    );
    assert_eq!(allowed, json!("ok"));
    // A popup the page opens, and a worker's fetch.
    evaluate(
        &node,
        &format!(
            "() => {{ window.open('{}'); \
             new Worker(URL.createObjectURL(new Blob([\"fetch('{}')\"]))); return 1; }}",
            secret("secret-popup"),
            secret("secret-worker")
        ),
    );
    // Subresources, a navigation the page starts, and a redirect from the allowed host.
    evaluate(
        &node,
        &format!(
            "() => {{ const i = new Image(); i.src = '{}'; document.body.appendChild(i); \
             const f = document.createElement('iframe'); f.src = '{}'; document.body.appendChild(f); return 1; }}",
            secret("secret-img"),
            secret("secret-frame")
        ),
    );
    std::thread::sleep(Duration::from_millis(500));
    evaluate(
        &node,
        &format!("() => {{ location.href = '{site}/redirect'; return 1; }}"),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let _ = node.request("POST", "/act", json!({ "body": { "kind": "evaluate", "fn": format!("() => {{ location.href = '{}'; return 1; }}", secret("secret-nav")) } }));
    std::thread::sleep(Duration::from_millis(1000));
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|p| p.ends_with("/redirect")),
        "the redirect was asked for: {seen:?}"
    );
    assert!(seen.iter().any(|p| p.ends_with("/ok")), "{seen:?}");
    let leaked: Vec<&String> = seen.iter().filter(|p| p.starts_with("localhost")).collect();
    assert!(
        leaked.is_empty(),
        "the page reached a forbidden host: {leaked:?} (all: {seen:?})"
    );
}
