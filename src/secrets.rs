//! The node's own secrets (the gateway token and password, service credentials) and the one
//! rule that keeps them out of every child's environment: commands and Chromium alike.
//!
//! An environment variable is withheld when its name is one of the secret names (the two
//! gateway variables always, case-insensitively), or when its value *contains* one of the
//! secret values, so `AUTH="Bearer <token>"` is withheld as surely as `TOKEN=<token>`. A
//! secret shorter than [`MIN_CONTAINED_LEN`] characters is withheld only where it is the whole
//! value: "pw" would otherwise take out every variable that happens to contain those two
//! letters. Empty secrets match nothing.

use std::ffi::OsString;

/// Variables that always hold the node's credentials, whatever else is configured.
pub const ALWAYS_SECRET_NAMES: &[&str] = &["OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD"];

/// Secrets at least this long are withheld wherever they appear in a value.
pub const MIN_CONTAINED_LEN: usize = 8;

/// What the node must keep from its children. `Debug` shows the names and only the number of
/// values, so the values cannot reach a log through it.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Names of environment variables that hold secrets (matched exactly; the
    /// [`ALWAYS_SECRET_NAMES`] also case-insensitively).
    pub names: Vec<String>,
    /// Secret values, whatever variable they turn up in.
    pub values: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("names", &self.names)
            .field("values", &format_args!("<{} withheld>", self.values.len()))
            .finish()
    }
}

impl Secrets {
    pub fn new(names: Vec<String>, values: Vec<String>) -> Secrets {
        Secrets { names, values }
    }

    /// Whether the environment variable `name=value` must not reach a child.
    pub fn withholds(&self, name: &str, value: &str) -> bool {
        self.is_secret_name(name) || self.leaks_value(value)
    }

    fn is_secret_name(&self, name: &str) -> bool {
        ALWAYS_SECRET_NAMES
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
            || self.names.iter().any(|n| n == name)
    }

    fn leaks_value(&self, value: &str) -> bool {
        self.values.iter().any(|secret| {
            if secret.is_empty() {
                false
            } else if secret.chars().count() >= MIN_CONTAINED_LEN {
                value.contains(secret.as_str())
            } else {
                value == secret
            }
        })
    }

    /// The names to remove from an inherited environment (`env`, e.g. the node's own) so that
    /// no secret reaches the child: the secret names, and every variable [`Secrets::withholds`].
    /// A value that is not UTF-8 is judged by its lossy decoding; a name that is not UTF-8
    /// cannot be named here and is left to the caller.
    pub fn withheld_names(
        &self,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Vec<String> {
        let mut names: Vec<String> = ALWAYS_SECRET_NAMES
            .iter()
            .map(|n| n.to_string())
            .chain(self.names.iter().cloned())
            .collect();
        for (name, value) in env {
            let Ok(name) = name.into_string() else {
                continue;
            };
            if self.withholds(&name, &value.to_string_lossy()) && !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::new(
            vec!["MY_SERVICE_TOKEN".into()],
            vec!["s3cr3t-value-123".into(), "pw".into(), String::new()],
        )
    }

    #[test]
    fn names_and_contained_values_are_withheld() {
        let secrets = secrets();
        assert!(secrets.withholds("OPENCLAW_GATEWAY_TOKEN", "x"));
        assert!(secrets.withholds("openclaw_gateway_password", "x"));
        assert!(secrets.withholds("MY_SERVICE_TOKEN", "abc"));
        assert!(!secrets.withholds("my_service_token", "abc"));
        assert!(secrets.withholds("AUTH", "Bearer s3cr3t-value-123"));
        assert!(secrets.withholds("COPY", "s3cr3t-value-123"));
        assert!(!secrets.withholds("HOME", "/home/u"));
    }

    #[test]
    fn short_secrets_match_whole_values_and_empty_ones_nothing() {
        let secrets = secrets();
        assert!(secrets.withholds("P", "pw"));
        assert!(!secrets.withholds("PWD", "/home/pw/src"));
        assert!(!secrets.withholds("EMPTY", ""));
        assert!(!secrets.withholds("ANY", "value"));
    }

    #[test]
    fn withheld_names_cover_the_environment() {
        let env = [
            ("AUTH", "Bearer s3cr3t-value-123"),
            ("HOME", "/home/u"),
            ("OPENCLAW_GATEWAY_TOKEN", "t"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let names = secrets().withheld_names(env);
        assert!(names.iter().any(|n| n == "AUTH"));
        assert!(names.iter().any(|n| n == "MY_SERVICE_TOKEN"));
        assert!(!names.iter().any(|n| n == "HOME"));
        assert_eq!(
            names
                .iter()
                .filter(|n| *n == "OPENCLAW_GATEWAY_TOKEN")
                .count(),
            1
        );
    }

    #[test]
    fn debug_never_shows_a_value() {
        let shown = format!("{:?}", secrets());
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
