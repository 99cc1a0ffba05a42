//! `openclaw.json` (JSON5): the node machine's own OpenClaw config.
//!
//! The node only reads it, for the few settings a node host honours (gateway auth fallbacks,
//! `nodeHost.*`, `browser.*`, `tools.exec.*`). The file belongs to the user and to the TS tools,
//! so it is parsed into a plain JSON tree and looked up by path; keys this node does not know are
//! simply not read. A file that exists but cannot be parsed stops the node with the parser's
//! line and column, rather than running with half a configuration.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The parts the exec policy reads (`tools.exec`, `agents.list`, and the file for its messages).
impl<'a> From<&'a NodeConfig> for crate::approvals::policy::ExecConfig<'a> {
    fn from(config: &'a NodeConfig) -> Self {
        crate::approvals::policy::ExecConfig {
            file: config.source(),
            tools_exec: config.get(&["tools", "exec"]),
            agents_list: config.get(&["agents", "list"]),
            remote_readonly: config.exec_approvals_remote_readonly(),
        }
    }
}

/// The parsed config file. Missing file = empty config.
#[derive(Debug, Clone, Default)]
pub struct NodeConfig {
    raw: Value,
    source: Option<PathBuf>,
}

/// `openclaw.json` could not be read or parsed. Always names the file.
#[derive(Debug)]
pub struct ConfigError {
    /// The config file.
    pub path: PathBuf,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The config is the user's to edit; larger than this is not a config file.
const CONFIG_MAX_BYTES: u64 = 4 * 1024 * 1024;

impl NodeConfig {
    /// Reads `path` as JSON5. A missing file (or one holding only blank space) is an empty
    /// config; anything else that goes wrong is an error naming the file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let error = |message: String| ConfigError {
            path: path.to_path_buf(),
            message,
        };
        // The reader of every state file: no links, regular files only, owned by the node's
        // user or root and not writable by others (nor its directories), at most 4 MiB.
        let bytes = match crate::state::read_state_file(path, CONFIG_MAX_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(NodeConfig::default()),
            Err(err) => return Err(error(format!("cannot read the config file: {}", err.message))),
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            error("the config file is not UTF-8 text; save it as UTF-8".to_string())
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if text.trim().is_empty() {
            return Ok(NodeConfig {
                raw: Value::Object(Default::default()),
                source: Some(path.to_path_buf()),
            });
        }
        if nesting_exceeds(text, CONFIG_MAX_NESTING) {
            return Err(error(format!(
                "objects and arrays are nested more than {CONFIG_MAX_NESTING} levels deep; \
                 this is not an OpenClaw config, fix the file"
            )));
        }
        let raw: Value = json5::from_str(text).map_err(|err| error(describe_json5_error(&err)))?;
        if !raw.is_object() {
            return Err(error(
                "the config must be a JSON5 object ({ ... }) at the top level; fix the file"
                    .to_string(),
            ));
        }
        Ok(NodeConfig {
            raw,
            source: Some(path.to_path_buf()),
        })
    }

    /// A config from an already parsed tree (tests and fuzzing).
    #[cfg(any(test, feature = "internals"))]
    pub fn from_value(raw: Value) -> NodeConfig {
        NodeConfig { raw, source: None }
    }

    /// The file this config was read from; `None` for an absent file or a built tree.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The value at `path` (object keys), if present.
    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(&self.raw, |value, key| value.get(key))
    }

    /// A string at `path`, trimmed; `None` when absent, not a string, or blank.
    pub fn get_str(&self, path: &[&str]) -> Option<&str> {
        self.get(path)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// A boolean at `path`.
    pub fn get_bool(&self, path: &[&str]) -> Option<bool> {
        self.get(path).and_then(Value::as_bool)
    }

    /// `nodeHost.execApprovals.remote`: `"readonly"` locks the exec approvals against the
    /// gateway (see [`crate::approvals::lock`]). Absent, null or `"readwrite"` is unlocked; any
    /// other value is read-only, so a typo fails closed.
    pub fn exec_approvals_remote_readonly(&self) -> bool {
        match self.get(&["nodeHost", "execApprovals", "remote"]) {
            None | Some(Value::Null) => false,
            Some(Value::String(mode)) => mode.trim() != "readwrite",
            Some(_) => true,
        }
    }

    /// `gateway.auth.token`.
    pub fn gateway_token(&self) -> Option<&str> {
        self.get_str(&["gateway", "auth", "token"])
    }

    /// `gateway.auth.password`.
    pub fn gateway_password(&self) -> Option<&str> {
        self.get_str(&["gateway", "auth", "password"])
    }
}

/// The JSON5 parser recurses once per nesting level and has no limit of its own: a file of a
/// few thousand `[` overflows the stack. 128 is serde_json's own limit.
const CONFIG_MAX_NESTING: usize = 128;

/// Whether `text` opens more than `max` objects or arrays inside each other. Brackets inside
/// strings and comments do not count; JSON5 has no other place where they may appear.
fn nesting_exceeds(text: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            '"' | '\'' => {
                while let Some(inner) = chars.next() {
                    if inner == '\\' {
                        chars.next();
                    } else if inner == c {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                chars.find(|&inner| inner == '\n');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = '\0';
                for inner in chars.by_ref() {
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
            }
            _ => {}
        }
    }
    false
}

/// The parser's complaint with its line and column. The parser's own message quotes the
/// offending source line, which may hold a token or password, so only its "expected ..." part
/// is kept.
fn describe_json5_error(err: &json5::Error) -> String {
    let json5::Error::Message { msg, location } = err;
    let expected: Vec<&str> = msg
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("= "))
        .collect();
    let what = if expected.is_empty() && !msg.contains('\n') {
        msg.trim().to_string()
    } else {
        expected.join("; ")
    };
    let what = if what.is_empty() {
        "syntax error".to_string()
    } else {
        what
    };
    match location {
        Some(at) => format!(
            "invalid JSON5 at line {}, column {}: {what}; fix the file and start again",
            at.line, at.column
        ),
        None => format!("invalid JSON5: {what}; fix the file and start again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn remote_readonly_locks_on_anything_but_readwrite() {
        for (value, locked) in [
            (json!("readonly"), true),
            (json!("readwrite"), false),
            (json!("read-only"), true),
            (json!(true), true),
            (json!(null), false),
        ] {
            let config = NodeConfig::from_value(
                json!({"nodeHost": {"execApprovals": {"remote": value.clone()}}}),
            );
            assert_eq!(config.exec_approvals_remote_readonly(), locked, "{value}");
        }
        assert!(!NodeConfig::from_value(json!({})).exec_approvals_remote_readonly());
    }

    struct TempFile(PathBuf);

    impl TempFile {
        fn with(name: &str, text: &str) -> TempFile {
            let dir = std::env::temp_dir().join(format!(
                "openclaw-node-config-{name}-{}-{}",
                std::process::id(),
                crate::random::token_b64url(6)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("openclaw.json");
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[test]
    fn missing_file_is_an_empty_config() {
        let path = std::env::temp_dir().join(format!(
            "openclaw-node-config-missing-{}/openclaw.json",
            std::process::id()
        ));
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.source(), None);
        assert_eq!(config.get(&["gateway"]), None);
        assert_eq!(config.gateway_token(), None);
    }

    #[test]
    fn json5_is_parsed_and_looked_up_by_path() {
        let file = TempFile::with(
            "ok",
            "\u{feff}// node machine config\n{\n  gateway: { auth: { token: ' tok ', password: \"\" } },\n  \
             browser: { enabled: true, },\n  nodeHost: { 'exec-port': 0x10 },\n}\n",
        );
        let config = NodeConfig::load(&file.0).unwrap();
        assert_eq!(config.source(), Some(file.0.as_path()));
        assert_eq!(config.gateway_token(), Some("tok"));
        assert_eq!(config.gateway_password(), None);
        assert_eq!(config.get_bool(&["browser", "enabled"]), Some(true));
        assert_eq!(config.get(&["nodeHost", "exec-port"]), Some(&json!(16)));
        assert_eq!(config.get_str(&["browser", "enabled"]), None);
        assert_eq!(config.get(&["browser", "enabled", "deeper"]), None);
    }

    #[test]
    fn blank_file_is_an_empty_config() {
        let file = TempFile::with("blank", " \n\t\n");
        let config = NodeConfig::load(&file.0).unwrap();
        assert_eq!(config.get(&["gateway"]), None);
    }

    #[test]
    fn invalid_json5_names_the_file_and_the_position_but_not_the_line() {
        let file = TempFile::with(
            "bad",
            "{\n  gateway: { auth: { token: \"s3cret-value\" ,, } }\n}\n",
        );
        let err = NodeConfig::load(&file.0).unwrap_err();
        assert_eq!(err.path, file.0);
        let text = err.to_string();
        assert!(text.starts_with(&file.0.display().to_string()), "{text}");
        assert!(text.contains("line 2, column 45"), "{text}");
        assert!(text.contains("expected"), "{text}");
        assert!(text.contains("fix the file"), "{text}");
        assert!(
            !text.contains("s3cret"),
            "the error must not echo the config: {text}"
        );
    }

    #[test]
    fn truncated_and_non_object_configs_are_errors() {
        let file = TempFile::with("trunc", "{ gateway: { auth: ");
        assert!(NodeConfig::load(&file.0)
            .unwrap_err()
            .message
            .contains("line 1"));
        let file = TempFile::with("array", "[1, 2]");
        assert!(NodeConfig::load(&file.0)
            .unwrap_err()
            .message
            .contains("object"));
        let file = TempFile::with("utf8", "");
        std::fs::write(&file.0, [b'{', 0xff, b'}']).unwrap();
        assert!(NodeConfig::load(&file.0)
            .unwrap_err()
            .message
            .contains("UTF-8"));
    }

    /// Fuzz regression (config_json5): a few thousand nested `[` overflowed the JSON5 parser's
    /// stack and killed the process.
    #[test]
    fn deeply_nested_config_is_an_error_not_a_stack_overflow() {
        let deep = format!("{{a:{}{}}}", "[".repeat(50_000), "]".repeat(50_000));
        let file = TempFile::with("deep", &deep);
        let err = NodeConfig::load(&file.0).unwrap_err();
        assert!(err.message.contains("nested more than 128"), "{err}");

        // Brackets in strings and comments are not nesting; moderate nesting is fine.
        let brackets = "[".repeat(200);
        let text = format!(
            "// {brackets}\n/* {brackets} */ {{ a: '{brackets}', b: \"\\\"{brackets}\", c: {}1{} }}",
            "[".repeat(20),
            "]".repeat(20)
        );
        let file = TempFile::with("brackets", &text);
        let config = NodeConfig::load(&file.0).unwrap();
        assert_eq!(config.get_str(&["a"]), Some(brackets.as_str()));
        let limit = format!("{{a:{}{}}}", "[".repeat(127), "]".repeat(127));
        let file = TempFile::with("limit", &limit);
        assert!(NodeConfig::load(&file.0).unwrap().get(&["a"]).is_some());
        assert!(nesting_exceeds(&"{".repeat(129), 128));
        assert!(!nesting_exceeds(&"{}".repeat(1000), 128));
    }

    #[test]
    fn unreadable_config_is_an_error_naming_the_file() {
        let file = TempFile::with("dir", "");
        std::fs::remove_file(&file.0).unwrap();
        std::fs::create_dir(&file.0).unwrap();
        let err = NodeConfig::load(&file.0).unwrap_err();
        assert_eq!(err.path, file.0);
        assert!(err.message.contains("cannot read"), "{err}");
    }
}
