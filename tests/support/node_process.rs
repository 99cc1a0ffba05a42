//! Running the node binary under test: a private HOME and state directory, a clean environment,
//! captured stdout/stderr, signals, and waits with timeouts.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "openclaw-node-{label}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// How to start the node: `run --host 127.0.0.1 --port <port> --display-name <name>`.
#[derive(Debug, Clone)]
pub struct NodeSpawn {
    pub bin: PathBuf,
    pub port: u16,
    pub display_name: String,
    /// `$HOME` of the node.
    pub home: PathBuf,
    /// `$OPENCLAW_STATE_DIR`.
    pub state_dir: PathBuf,
    /// Extra environment (e.g. `OPENCLAW_GATEWAY_TOKEN`); the rest is cleared but PATH.
    pub env: Vec<(String, String)>,
    pub extra_args: Vec<String>,
    /// `RUST_LOG` (default `debug`).
    pub rust_log: String,
    /// Run as this `(uid, gid)` (the test must be root); HOME and the state dir are given to it.
    pub user: Option<(u32, u32)>,
    /// Pass `--host 127.0.0.1 --port <port>` (default); off for a node that takes its endpoint
    /// from a setup code or its saved state.
    pub endpoint_flags: bool,
}

impl NodeSpawn {
    /// A spawn spec with HOME = `<dir>/home` and state dir = `<dir>/state`.
    pub fn new(bin: impl Into<PathBuf>, port: u16, dir: &Path) -> NodeSpawn {
        NodeSpawn {
            bin: bin.into(),
            port,
            display_name: "test-node".to_string(),
            home: dir.join("home"),
            state_dir: dir.join("state"),
            env: Vec::new(),
            extra_args: Vec::new(),
            rust_log: "debug".to_string(),
            user: None,
            endpoint_flags: true,
        }
    }
    pub fn run_as(mut self, uid: u32, gid: u32) -> NodeSpawn {
        self.user = Some((uid, gid));
        self
    }
    pub fn without_endpoint_flags(mut self) -> NodeSpawn {
        self.endpoint_flags = false;
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> NodeSpawn {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
        self
    }
    pub fn token(self, token: &str) -> NodeSpawn {
        self.env("OPENCLAW_GATEWAY_TOKEN", token)
    }
    pub fn display_name(mut self, name: &str) -> NodeSpawn {
        self.display_name = name.to_string();
        self
    }
    pub fn arg(mut self, arg: &str) -> NodeSpawn {
        self.extra_args.push(arg.to_string());
        self
    }
}

#[derive(Default)]
struct Captured {
    stdout: String,
    stderr: String,
}

/// A running node process. Dropping it kills the process.
pub struct NodeProcess {
    child: Child,
    output: Arc<(Mutex<Captured>, Condvar)>,
    exit: Option<ExitStatus>,
    pub spec: NodeSpawn,
}

impl NodeProcess {
    /// Starts the node with a cleared environment (PATH, HOME, OPENCLAW_STATE_DIR, RUST_LOG and
    /// `spec.env` only), so nothing from the developer's shell leaks in.
    pub fn spawn(spec: &NodeSpawn) -> NodeProcess {
        std::fs::create_dir_all(&spec.home).expect("create node HOME");
        std::fs::create_dir_all(&spec.state_dir).expect("create node state dir");
        let mut command = Command::new(&spec.bin);
        command.arg("run");
        if spec.endpoint_flags {
            command
                .arg("--host")
                .arg("127.0.0.1")
                .arg("--port")
                .arg(spec.port.to_string());
        }
        command
            .arg("--display-name")
            .arg(&spec.display_name)
            .args(&spec.extra_args)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            )
            .env("HOME", &spec.home)
            .env("OPENCLAW_STATE_DIR", &spec.state_dir)
            .env("RUST_LOG", &spec.rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &spec.env {
            command.env(k, v);
        }
        if let Some((uid, gid)) = spec.user {
            use std::os::unix::process::CommandExt;
            for dir in [&spec.home, &spec.state_dir] {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid)).expect("chown the node's dirs");
            }
            command.uid(uid).gid(gid);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", spec.bin.display()));
        let output = Arc::new((Mutex::new(Captured::default()), Condvar::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        spawn_reader(stdout, output.clone(), false);
        spawn_reader(stderr, output.clone(), true);
        NodeProcess {
            child,
            output,
            exit: None,
            spec: spec.clone(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        self.output
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stdout
            .clone()
    }

    pub fn stderr(&self) -> String {
        self.output
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stderr
            .clone()
    }

    /// stdout followed by stderr.
    pub fn all_output(&self) -> String {
        let c = self.output.0.lock().unwrap_or_else(|p| p.into_inner());
        format!("{}{}", c.stdout, c.stderr)
    }

    /// Waits until `needle` appears in stdout or stderr.
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.output;
        let mut c = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if c.stdout.contains(needle) || c.stderr.contains(needle) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            c = cvar
                .wait_timeout(c, (deadline - now).min(Duration::from_millis(200)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// How often `needle` occurs in stdout and stderr together.
    pub fn count_in_output(&self, needle: &str) -> usize {
        self.all_output().matches(needle).count()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.signal(rustix::process::Signal::TERM);
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, signal);
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.exit {
            return Some(status);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                // Let the readers pick up the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.exit.is_none() && matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- node stdout ---\n{}\n--- node stderr ---\n{}",
                self.stdout(),
                self.stderr()
            );
        }
    }
}

fn spawn_reader(
    stream: impl Read + Send + 'static,
    output: Arc<(Mutex<Captured>, Condvar)>,
    is_stderr: bool,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let (lock, cvar) = &*output;
                    let mut c = lock.lock().unwrap_or_else(|p| p.into_inner());
                    if is_stderr {
                        c.stderr.push_str(&text);
                    } else {
                        c.stdout.push_str(&text);
                    }
                    cvar.notify_all();
                }
            }
        }
    });
}

/// For the examples: `target/<profile>/openclaw-node` beside the running example
/// (`target/<profile>/examples/<name>`), and the profile's name. When cargo started the example
/// (`CARGO` is set), the node is built first for the same profile and target dir, so it is never
/// older than its sources. The binary may still be missing; the caller says what to do.
pub fn node_binary_beside_example() -> Result<(PathBuf, String), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this example: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("unexpected location of this example: {}", exe.display()))?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_string();
    if let (Some(cargo), Some(target_dir)) = (std::env::var_os("CARGO"), profile_dir.parent()) {
        let mut command = Command::new(cargo);
        command
            .args(["build", "--quiet", "--bin", "openclaw-node", "--target-dir"])
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile.as_str() {
            "debug" => {}
            "release" => {
                command.arg("--release");
            }
            other => {
                command.args(["--profile", other]);
            }
        }
        eprintln!("(building openclaw-node …)");
        match command.status() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("cargo build --bin openclaw-node failed ({status}); using what is there")
            }
            Err(e) => {
                eprintln!("cannot run cargo to build openclaw-node ({e}); using what is there")
            }
        }
    }
    Ok((profile_dir.join("openclaw-node"), profile))
}
