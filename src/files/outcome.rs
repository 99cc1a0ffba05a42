//! What the file commands answer: `{ok:false, code, message, canonicalPath?}` application
//! errors (sent as a successful invoke, §8.2), the filesystem bindings the gateway echoes back,
//! and JavaScript's rendering of numbers.

use serde_json::{Map, Value};

/// An application error of a file command.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
    pub canonical_path: Option<String>,
}

impl Failure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            canonical_path: None,
        }
    }

    /// The same error, naming the canonical path it is about.
    pub fn at(mut self, canonical_path: &str) -> Failure {
        self.canonical_path = Some(canonical_path.to_string());
        self
    }

    /// `CANONICAL_PATH_CHANGED` for a path that is not the one the gateway authorised.
    pub fn path_changed(canonical_path: &str) -> Failure {
        Failure::new(
            "CANONICAL_PATH_CHANGED",
            "canonical path differs from the authorized target",
        )
        .at(canonical_path)
    }

    /// `CANONICAL_PATH_CHANGED` for a file that is not the one the gateway authorised.
    pub fn identity_changed(canonical_path: &str) -> Failure {
        Failure::new(
            "CANONICAL_PATH_CHANGED",
            "filesystem identity differs from the authorized target",
        )
        .at(canonical_path)
    }

    /// The payload: `{"ok":false,"code","message","canonicalPath"?}`.
    pub fn to_json(&self) -> String {
        let mut out = Map::new();
        out.insert("ok".into(), Value::Bool(false));
        out.insert("code".into(), Value::from(self.code));
        out.insert("message".into(), Value::from(self.message.as_str()));
        if let Some(path) = &self.canonical_path {
            out.insert("canonicalPath".into(), Value::from(path.as_str()));
        }
        Value::Object(out).to_string()
    }
}

/// A file's identity: `st_dev` and `st_ino` as decimal strings (TS `fileIdentity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub device: String,
    pub inode: String,
}

impl Identity {
    pub fn new(device: u64, inode: u64) -> Identity {
        Identity {
            device: device.to_string(),
            inode: inode.to_string(),
        }
    }

    /// `{"kind":"existing","device","inode"}`.
    pub fn existing_binding(&self) -> Value {
        let mut out = Map::new();
        out.insert("kind".into(), Value::from("existing"));
        out.insert("device".into(), Value::from(self.device.as_str()));
        out.insert("inode".into(), Value::from(self.inode.as_str()));
        Value::Object(out)
    }
}

/// A binding as the gateway sends it back (`expectedBinding`), read as TS `readPathBinding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    Existing(Identity),
    Write {
        anchor_path: String,
        anchor: Identity,
        target: Option<Identity>,
    },
}

impl Binding {
    /// `None` for anything TS would not read as a binding.
    pub fn parse(value: &Value) -> Option<Binding> {
        let record = value.as_object()?;
        let text = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_string);
        match record.get("kind").and_then(Value::as_str) {
            Some("existing") => Some(Binding::Existing(Identity {
                device: text("device")?,
                inode: text("inode")?,
            })),
            Some("write") => {
                let target = match (text("targetDevice"), text("targetInode")) {
                    (Some(device), Some(inode)) => Some(Identity { device, inode }),
                    (None, None) => None,
                    _ => return None,
                };
                Some(Binding::Write {
                    anchor_path: text("anchorPath")?,
                    anchor: Identity {
                        device: text("anchorDevice")?,
                        inode: text("anchorInode")?,
                    },
                    target,
                })
            }
            _ => None,
        }
    }
}

/// The `expectedBinding` check of the read commands: absent passes; present, it must be an
/// `existing` binding naming `actual`.
pub fn check_existing(
    expected: Option<&Value>,
    actual: &Identity,
    canonical_path: &str,
) -> Result<(), Failure> {
    match expected {
        None => Ok(()),
        Some(value) => match Binding::parse(value) {
            Some(Binding::Existing(identity)) if identity == *actual => Ok(()),
            _ => Err(Failure::identity_changed(canonical_path)),
        },
    }
}

/// The `expectedCanonicalPath` check: a string that differs fails (TS
/// `rejectCanonicalPathChange`; anything else is ignored).
pub fn check_path(expected: Option<&Value>, actual: &str) -> Result<(), Failure> {
    match expected.and_then(Value::as_str) {
        Some(expected) if expected != actual => Err(Failure::path_changed(actual)),
        _ => Ok(()),
    }
}

/// A JavaScript number as JSON: integral values without a fraction (`12`, not `12.0`).
pub fn js_number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// A successful payload: `{"ok":true, ...fields}` in the given order.
pub fn success(fields: Vec<(&str, Value)>) -> String {
    let mut out = Map::new();
    out.insert("ok".into(), Value::Bool(true));
    for (key, value) in fields {
        out.insert(key.to_string(), value);
    }
    Value::Object(out).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bindings_read_as_ts_reads_them() {
        let existing = json!({"kind":"existing","device":"65024","inode":"10240281"});
        assert_eq!(
            Binding::parse(&existing),
            Some(Binding::Existing(Identity::new(65024, 10240281)))
        );
        assert_eq!(Binding::parse(&json!({"kind":"existing","device":1,"inode":"2"})), None);
        assert_eq!(Binding::parse(&json!("x")), None);
        let write = json!({"kind":"write","anchorPath":"/a","anchorDevice":"1","anchorInode":"2"});
        assert!(matches!(Binding::parse(&write), Some(Binding::Write { target: None, .. })));
        let half = json!({"kind":"write","anchorPath":"/a","anchorDevice":"1","anchorInode":"2","targetDevice":"1"});
        assert_eq!(Binding::parse(&half), None);
    }

    #[test]
    fn checks_and_failures() {
        let id = Identity::new(1, 2);
        assert!(check_existing(None, &id, "/p").is_ok());
        let other = json!({"kind":"existing","device":"1","inode":"3"});
        assert_eq!(
            check_existing(Some(&other), &id, "/p").unwrap_err().to_json(),
            r#"{"ok":false,"code":"CANONICAL_PATH_CHANGED","message":"filesystem identity differs from the authorized target","canonicalPath":"/p"}"#
        );
        assert!(check_path(Some(&json!(5)), "/p").is_ok());
        assert!(check_path(Some(&json!("/q")), "/p").is_err());
        assert_eq!(js_number(12.0), json!(12));
        assert_eq!(js_number(1796106684127.0913).to_string(), "1796106684127.0913");
    }
}
