//! `ollama.models` and `ollama.chat` against a fake Ollama on 127.0.0.1:11434, the address TS
//! fixes (node-surface §10, §21.2 item 16). Only one process can hold that port, so every test
//! takes the lock file other tools that fake Ollama take too
//! (`${TMPDIR:-/tmp}/openclaw-bars-ollama-11434.lock`) and binds the port only while it runs.
//! The fake records every request, so the tests assert the exact bodies the node sends.
// POSIX only: these tests use sh, flock(2) or a Python fixture that Wine does not have.
// Windows has its own suite (tests/windows.rs), run under Wine by scripts/wine-test.sh.
#![cfg(unix)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openclaw_node::approvals::ApprovalsStore;
use openclaw_node::cancel::CancelToken;
use openclaw_node::commands::{dispatch, InvokeContext, NodeRuntime};
use openclaw_node::config::NodeConfig;
use openclaw_node::invoke::NoEvents;
use openclaw_node::paths::StatePaths;
use serde_json::{json, Value};

/// The lock, held for one test.
struct PortLock {
    _file: std::fs::File,
}

fn lock_port() -> PortLock {
    let dir = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{dir}/openclaw-bars-ollama-11434.lock"))
        .unwrap();
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).unwrap();
    PortLock { _file: file }
}

type Route = (u16, String, Duration);

/// A fake Ollama: routes `"METHOD /path"` to a status and body; records `(method path, body)`.
struct FakeOllama {
    requests: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _lock: PortLock,
}

fn bind(lock: &PortLock) -> TcpListener {
    let _ = lock;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match TcpListener::bind("127.0.0.1:11434") {
            Ok(listener) => return listener,
            Err(err) if Instant::now() < deadline => {
                eprintln!("waiting for 127.0.0.1:11434: {err}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(err) => panic!("127.0.0.1:11434 stays taken: {err}"),
        }
    }
}

impl FakeOllama {
    fn start(routes: HashMap<&'static str, Route>) -> FakeOllama {
        let lock = lock_port();
        let listener = bind(&lock);
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (recorded, stopping) = (requests.clone(), stop.clone());
        let routes: HashMap<String, Route> = routes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let thread = std::thread::spawn(move || {
            while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let routes = routes.clone();
                        let recorded = recorded.clone();
                        std::thread::spawn(move || serve(stream, &routes, &recorded));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeOllama {
            requests,
            stop,
            thread: Some(thread),
            _lock: lock,
        }
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: std::net::TcpStream,
    routes: &HashMap<String, Route>,
    recorded: &Mutex<Vec<(String, String)>>,
) {
    stream.set_nonblocking(false).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut parts = request_line.split_whitespace();
    let route = format!(
        "{} {}",
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("")
    );
    let body = String::from_utf8_lossy(&body).into_owned();
    recorded.lock().unwrap().push((route.clone(), body.clone()));
    // /api/show answers per model: "POST /api/show <model>".
    let key = if route == "POST /api/show" {
        let model = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["model"].as_str().map(String::from))
            .unwrap_or_default();
        format!("{route} {model}")
    } else {
        route
    };
    let (status, answer, delay) = routes.get(&key).cloned().unwrap_or((
        404,
        r#"{"error":"not found"}"#.into(),
        Duration::ZERO,
    ));
    std::thread::sleep(delay);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

fn ok(body: Value) -> Route {
    (200, body.to_string(), Duration::ZERO)
}

/// The models of the spec's live run (node-surface §10, §21.2 item 17), and the ones that must
/// be dropped: embedding-only, remote, cloud, one whose inspection fails.
fn library() -> HashMap<&'static str, Route> {
    let mut routes = HashMap::new();
    routes.insert("GET /api/tags", ok(json!({"models": [
        {"name": "qwen2.5:0.5b", "model": "qwen2.5:0.5b", "modified_at": "2026-08-01T09:00:00Z", "size": 397821319,
         "digest": "a8b0", "details": {"family": "qwen2", "parameter_size": "494.03M", "quantization_level": "Q4_K_M"}},
        {"name": "llama3.2:1b", "model": "llama3.2:1b", "modified_at": "2026-09-01T10:00:00Z", "size": 1321098329,
         "digest": "baf6", "details": {"family": "llama", "parameter_size": "1.2B", "quantization_level": "Q8_0"}},
        {"name": "nomic-embed-text:latest", "size": 274302450, "details": {"family": "nomic-bert"}},
        {"name": "gpt-oss:120b-cloud", "size": 384},
        {"name": "remote:7b", "remote_host": "https://ollama.example", "size": 10},
        {"name": "broken:1b", "size": 5},
        {"name": ""}
    ]})));
    routes.insert(
        "GET /api/ps",
        ok(json!({"models": [{"name": "llama3.2:1b", "model": "llama3.2:1b"}]})),
    );
    routes.insert(
        "POST /api/show llama3.2:1b",
        ok(json!({
        "capabilities": ["completion", "tools"],
        "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
        "parameters": "stop \"<|eot_id|>\""})),
    );
    routes.insert(
        "POST /api/show qwen2.5:0.5b",
        ok(json!({
        "capabilities": ["completion"],
        "model_info": {"qwen2.context_length": 32768},
        "parameters": "num_ctx 4096\nnum_ctx 65536"})),
    );
    routes.insert(
        "POST /api/show nomic-embed-text:latest",
        ok(json!({"capabilities": ["embedding"], "model_info": {"nomic-bert.context_length": 2048}})),
    );
    routes.insert(
        "POST /api/show broken:1b",
        (500, r#"{"error":"boom"}"#.into(), Duration::ZERO),
    );
    routes
}

fn context() -> InvokeContext {
    let dir = std::env::temp_dir().join(format!("oc-ollama-{}", std::process::id()));
    let paths = StatePaths::at(dir);
    InvokeContext {
        cancel: CancelToken::new(),
        events: Arc::new(NoEvents),
        node: Arc::new(NodeRuntime {
            approvals: ApprovalsStore::new(&paths),
            paths,
            config: Arc::new(NodeConfig::default()),
            path_env: String::new(),
            secrets: openclaw_node::secrets::Secrets::default(),
            browser: None,
            mcp: None,
        }),
        timeout_ms: None,
    }
}

fn run(command: &str, params: Option<Value>) -> Result<Value, (String, String)> {
    let params = params.map(|p| p.to_string());
    dispatch(&context(), command, params.as_deref())
        .map(|payload| serde_json::from_str(&payload).unwrap())
        .map_err(|err| (err.code, err.message))
}

fn invalid(message: &str) -> Result<Value, (String, String)> {
    Err(("INVALID_REQUEST".to_string(), message.to_string()))
}

#[test]
fn models_are_the_local_chat_models_loaded_first_then_by_size() {
    let fake = FakeOllama::start(library());
    let got = run("ollama.models", None).unwrap();
    assert_eq!(
        got.to_string(),
        json!({"provider":"ollama","models":[
            {"name":"llama3.2:1b","loaded":true,"size":1321098329,"modifiedAt":"2026-09-01T10:00:00Z",
             "family":"llama","parameterSize":"1.2B","quantization":"Q8_0","contextWindow":131072,
             "capabilities":["completion","tools"]},
            {"name":"qwen2.5:0.5b","loaded":false,"size":397821319,"modifiedAt":"2026-08-01T09:00:00Z",
             "family":"qwen2","parameterSize":"494.03M","quantization":"Q4_K_M","contextWindow":65536,
             "capabilities":["completion"]}
        ]})
        .to_string()
    );
    let mut requests = fake.requests();
    requests.sort();
    assert_eq!(
        requests,
        [
            ("GET /api/ps".to_string(), String::new()),
            ("GET /api/tags".to_string(), String::new()),
            (
                "POST /api/show".to_string(),
                r#"{"model":"broken:1b"}"#.to_string()
            ),
            (
                "POST /api/show".to_string(),
                r#"{"model":"llama3.2:1b"}"#.to_string()
            ),
            (
                "POST /api/show".to_string(),
                r#"{"model":"nomic-embed-text:latest"}"#.to_string()
            ),
            (
                "POST /api/show".to_string(),
                r#"{"model":"qwen2.5:0.5b"}"#.to_string()
            ),
        ]
    );
}

#[test]
fn chat_sends_ts_body_and_answers_usage_and_timings() {
    let mut routes = library();
    routes.insert("POST /api/chat", ok(json!({"model": "llama3.2:1b", "created_at": "2026-12-01T10:00:00Z",
        "message": {"role": "assistant", "content": "Hello!"}, "done": true, "done_reason": "stop",
        "total_duration": 98_765_432u64, "load_duration": 1_234_567u64, "prompt_eval_count": 12, "eval_count": 3})));
    let fake = FakeOllama::start(routes);
    let got = run(
        "ollama.chat",
        Some(
            json!({"model":"llama3.2:1b","prompt":" Say hi ","system":"Be brief","maxTokens":64,
            "temperature":0.2}),
        ),
    )
    .unwrap();
    assert_eq!(
        got.to_string(),
        r#"{"provider":"ollama","model":"llama3.2:1b","response":"Hello!","usage":{"promptTokens":12,"completionTokens":3},"timings":{"loadMs":1.23,"totalMs":98.77}}"#
    );
    let chat: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|(route, _)| route == "POST /api/chat")
        .map(|(_, body)| body)
        .collect();
    assert_eq!(
        chat,
        [
            r#"{"model":"llama3.2:1b","messages":[{"role":"system","content":"Be brief"},{"role":"user","content":" Say hi "}],"stream":false,"think":false,"options":{"num_predict":64,"temperature":0.2}}"#
        ]
    );
    // The defaults: no system message, 512 tokens, no temperature; snake_case keys work too.
    run(
        "ollama.chat",
        Some(json!({"model":"llama3.2:1b","prompt":"x","max_tokens":"7"})),
    )
    .unwrap();
    let last = fake.requests().last().unwrap().1.clone();
    assert_eq!(
        last,
        r#"{"model":"llama3.2:1b","messages":[{"role":"user","content":"x"}],"stream":false,"think":false,"options":{"num_predict":7}}"#
    );
}

#[test]
fn chat_errors_read_as_ts_writes_them() {
    let mut routes = library();
    routes.insert(
        "POST /api/chat",
        (500, r#"{"error":"model crashed"}"#.into(), Duration::ZERO),
    );
    let fake = FakeOllama::start(routes);
    for model in [
        "nomic-embed-text:latest",
        "gpt-oss:120b-cloud",
        "missing:1b",
        "broken:1b",
    ] {
        assert_eq!(
            run("ollama.chat", Some(json!({"model": model, "prompt": "x"}))),
            invalid(&format!(
                "Error: Ollama model \"{model}\" is not a local chat model; discover models first"
            ))
        );
    }
    assert_eq!(
        run(
            "ollama.chat",
            Some(json!({"model":"llama3.2:1b","prompt":"x"}))
        ),
        invalid("Error: Ollama /api/chat failed (HTTP 500): model crashed")
    );
    let cases = [
        (json!({"prompt":"x"}), "ToolInputError: model required"),
        (
            json!({"model":"m","prompt":""}),
            "ToolInputError: prompt required",
        ),
        (
            json!({"model":"m","prompt":"x","maxTokens":0}),
            "ToolInputError: maxTokens must be an integer between 1 and 8192",
        ),
        (
            json!({"model":"m","prompt":"x","maxTokens":8193}),
            "ToolInputError: maxTokens must be an integer between 1 and 8192",
        ),
        (
            json!({"model":"m","prompt":"x","maxTokens":1.5}),
            "ToolInputError: maxTokens must be an integer between 1 and 8192",
        ),
        (
            json!({"model":"m","prompt":"x","timeoutMs":600001}),
            "ToolInputError: timeoutMs must be an integer between 1 and 600000",
        ),
        (
            json!({"model":"m","prompt":"x","temperature":2.5}),
            "ToolInputError: temperature must be between 0 and 2",
        ),
        (
            json!({"model":"m","prompt":"x","temperature":"hot"}),
            "ToolInputError: temperature must be between 0 and 2",
        ),
        (
            json!({"model":"m","prompt":"x".repeat(128_001)}),
            "Error: prompt exceeds 128000 characters",
        ),
        (
            json!({"model":"m","prompt":"x","system":"s".repeat(32_001)}),
            "Error: system exceeds 32000 characters",
        ),
        (
            json!([1]),
            "Error: node inference params must be a JSON object",
        ),
    ];
    for (params, message) in cases {
        assert_eq!(
            run("ollama.chat", Some(params.clone())),
            invalid(message),
            "{params}"
        );
    }
    drop(fake);
}

#[test]
fn a_truncated_or_empty_answer_and_a_slow_one_are_errors() {
    let mut routes = library();
    routes.insert(
        "POST /api/chat",
        ok(json!({"message": {"content": "cut"}, "done_reason": "length"})),
    );
    let fake = FakeOllama::start(routes);
    assert_eq!(
        run("ollama.chat", Some(json!({"model":"llama3.2:1b","prompt":"x","maxTokens":5}))),
        invalid("Error: Ollama stopped after reaching maxTokens (5); retry with a larger maxTokens value")
    );
    drop(fake);
    let mut routes = library();
    routes.insert("POST /api/chat", ok(json!({"message": {}})));
    let fake = FakeOllama::start(routes);
    assert_eq!(
        run(
            "ollama.chat",
            Some(json!({"model":"llama3.2:1b","prompt":"x"}))
        ),
        invalid("Error: Ollama /api/chat response did not contain message.content")
    );
    drop(fake);
    let mut routes = library();
    routes.insert("POST /api/chat", (200, "{}".into(), Duration::from_secs(2)));
    let fake = FakeOllama::start(routes);
    let (code, message) = run(
        "ollama.chat",
        Some(json!({"model":"llama3.2:1b","prompt":"x","timeoutMs":700})),
    )
    .unwrap_err();
    assert_eq!(code, "INVALID_REQUEST");
    assert!(
        message.starts_with("Error: Ollama is unavailable at http://127.0.0.1:11434: ")
            || message == "Error: Ollama node inference timed out after 700ms",
        "{message}"
    );
    drop(fake);
}

#[test]
fn without_ollama_the_models_say_it_is_not_running() {
    let lock = lock_port();
    // Wait until nobody listens (another holder may just have let go).
    drop(bind(&lock));
    assert_eq!(
        run("ollama.models", None),
        invalid("Error: Ollama is not running at http://127.0.0.1:11434")
    );
    assert_eq!(
        run(
            "ollama.chat",
            Some(json!({"model":"llama3.2:1b","prompt":"x"}))
        ),
        invalid(
            "Error: Ollama model \"llama3.2:1b\" is not a local chat model; discover models first"
        )
    );
}
