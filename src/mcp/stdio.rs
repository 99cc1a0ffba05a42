//! The stdio transport: the server is a child process speaking newline-delimited JSON-RPC on
//! its stdin and stdout.
//!
//! The child leads its own process group under [`ProcessGroup`], like every command the node
//! runs, so closing the transport (or the node stopping) ends it and whatever it started. Its
//! environment is the MCP default set plus the configured `env` (see [`super::config`]), never
//! the node's own. Two helper threads read its stdout (messages) and its stderr (to the node
//! log, line by line).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use crossbeam_channel::Sender;
use serde_json::Value;

use super::client::{Incoming, Transport};
use crate::exec::ProcessGroup;

/// One message (line) may be this long; a longer one ends the connection.
const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// A stderr line is logged up to this many bytes (TS: 8192).
const MAX_STDERR_LINE_BYTES: usize = 8192;
/// Time a server gets to exit after its stdin closed and SIGTERM, before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

pub struct StdioTransport {
    group: Option<ProcessGroup>,
    stdin: Option<ChildStdin>,
}

pub struct Launch<'a> {
    pub server: &'a str,
    pub command: &'a str,
    pub args: &'a [String],
    pub env: BTreeMap<String, String>,
    pub cwd: Option<&'a str>,
}

impl StdioTransport {
    /// Starts the server; its messages go to `incoming`.
    pub fn spawn(launch: Launch<'_>, incoming: Sender<Incoming>) -> Result<StdioTransport, String> {
        let mut command = Command::new(launch.command);
        command
            .args(launch.args)
            .env_clear()
            .envs(&launch.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = launch.cwd {
            command.current_dir(cwd);
        }
        let mut group = ProcessGroup::spawn(&mut command)
            .map_err(|err| format!("spawn {}: {err}", launch.command))?;
        let stdin = group.take_stdin();
        let stdout = group.take_stdout();
        let stderr = group.take_stderr();
        let server = launch.server.to_string();
        if let Some(stdout) = stdout {
            let name = server.clone();
            std::thread::Builder::new()
                .name(format!("mcp-{server}-out"))
                .spawn(move || read_messages(&name, stdout, incoming))
                .map_err(|err| format!("cannot start a reader thread: {err}"))?;
        }
        if let Some(stderr) = stderr {
            let name = server.clone();
            std::thread::Builder::new()
                .name(format!("mcp-{server}-err"))
                .spawn(move || log_stderr(&name, stderr))
                .map_err(|err| format!("cannot start a reader thread: {err}"))?;
        }
        Ok(StdioTransport {
            group: Some(group),
            stdin,
        })
    }
}

impl Transport for StdioTransport {
    fn send(&mut self, message: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        let mut line = serde_json::to_vec(message).map_err(|err| err.to_string())?;
        line.push(b'\n');
        stdin.write_all(&line).map_err(|err| err.to_string())?;
        stdin.flush().map_err(|err| err.to_string())
    }

    fn close(&mut self) {
        // As the SDK does: close stdin, then SIGTERM, then SIGKILL, here to the whole group.
        drop(self.stdin.take());
        if let Some(mut group) = self.group.take() {
            if !group.wait_timeout(Duration::from_millis(100)) {
                group.terminate(STOP_GRACE);
            } else {
                // The leader is gone; helpers it left in its group go too.
                group.kill();
            }
        }
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        self.close();
    }
}

fn read_messages(server: &str, stdout: impl Read, incoming: Sender<Incoming>) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    let reason = loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => break "the server closed its stdout".to_string(),
            Ok(_) if line.len() > MAX_LINE_BYTES => {
                break format!("a message exceeded {MAX_LINE_BYTES} bytes")
            }
            Ok(_) => {
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<Value>(text) {
                    Ok(message) => {
                        if incoming.send(Incoming::Message(message)).is_err() {
                            return;
                        }
                    }
                    Err(err) => log::debug!("mcp {server}: ignored a line that is not JSON: {err}"),
                }
            }
            Err(err) => break format!("reading its stdout failed: {err}"),
        }
    };
    let _ = incoming.send(Incoming::Closed(reason));
}

fn log_stderr(server: &str, stderr: impl Read) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_STDERR_LINE_BYTES as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                if !text.is_empty() {
                    log::info!("mcp {server} stderr: {text}");
                }
            }
        }
    }
}
