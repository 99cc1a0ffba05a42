//! What differs between operating systems, one small module per concern.
//!
//! [`Platform`] names which rules apply. The analysis code takes it as a value, so the Windows
//! rules are ordinary code that compiles and is tested on every build; [`Platform::HOST`] is
//! the one place that picks the rules of the build's own OS.

pub mod executable_search;
pub mod search_path;
pub mod windows_path;

/// Which operating system's rules apply: path syntax and matching, executable search, shells,
/// environment key comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Unix,
    Windows,
}

impl Platform {
    /// The rules of the OS this binary was built for.
    pub const HOST: Platform = if cfg!(windows) {
        Platform::Windows
    } else {
        Platform::Unix
    };

    pub fn is_windows(self) -> bool {
        self == Platform::Windows
    }

    /// Environment keys compare case-insensitively on Windows (`Path` is `PATH`).
    pub fn env_key_eq(self, a: &str, b: &str) -> bool {
        match self {
            Platform::Unix => a == b,
            Platform::Windows => a.to_uppercase() == b.to_uppercase(),
        }
    }

    /// The value of `key` in `env`, compared as this platform compares keys. On Windows the
    /// first entry in case-insensitive sort order wins, as the TS host's `mergeProcessEnv` does.
    pub fn env_lookup<'a>(self, env: &'a [(String, String)], key: &str) -> Option<&'a str> {
        env.iter()
            .filter(|(k, _)| self.env_key_eq(k, key))
            .min_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn env_keys_compare_as_the_platform_does() {
        assert!(Platform::Windows.env_key_eq("Path", "PATH"));
        assert!(Platform::Windows.env_key_eq("pathext", "PATHEXT"));
        assert!(!Platform::Unix.env_key_eq("Path", "PATH"));
        let env = vec![
            ("Path".to_string(), "C:\\b".to_string()),
            ("PATH".to_string(), "C:\\a".to_string()),
        ];
        assert_eq!(Platform::Windows.env_lookup(&env, "path"), Some("C:\\a"));
        assert_eq!(Platform::Unix.env_lookup(&env, "Path"), Some("C:\\b"));
        assert_eq!(Platform::Unix.env_lookup(&env, "path"), None);
        assert_eq!(Platform::HOST, if cfg!(windows) { Platform::Windows } else { Platform::Unix });
    }
}
