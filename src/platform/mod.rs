//! What differs between operating systems, one small module per concern, each with a Unix and a
//! Windows implementation behind the same interface. The rest of the node is platform-free;
//! process spawning and supervision live in `exec` (`exec/unix`, `exec/windows`), the cancel
//! token's wake primitive in `cancel`.
//!
//! - [`files`]: owner-only state files and directories, atomic replace, file identity, locks;
//! - [`host`]: host name, pid liveness, superuser;
//! - [`os_error`]: OS errors by their POSIX names;
//! - [`search_path`]: the PATH bare command names resolve through;
//! - [`shutdown`]: signals (Unix) and console control events (Windows) that stop the node;
//! - [`executable_search`], [`windows_path`]: PATH/PATHEXT search and Windows path text, as
//!   pure code for both platforms' rules.
//!
//! [`Platform`] names which rules apply. The analysis code takes it as a value, so the Windows
//! rules are ordinary code that compiles and is tested on every build; [`Platform::HOST`] is
//! the one place that picks the rules of the build's own OS.

pub mod executable_search;
pub mod files;
pub mod host;
pub mod os_error;
pub mod search_path;
pub mod shutdown;
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

}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn env_keys_compare_as_the_platform_does() {
        assert!(Platform::Windows.env_key_eq("Path", "PATH"));
        assert!(Platform::Windows.env_key_eq("pathext", "PATHEXT"));
        assert!(!Platform::Unix.env_key_eq("Path", "PATH"));
        assert_eq!(Platform::HOST, if cfg!(windows) { Platform::Windows } else { Platform::Unix });
    }
}
