//! The one table of shell names, and what the exec policy knows about each shell.
//!
//! Every question "is this a shell, and which kind?" is answered here. Before this table there
//! were five hand-kept lists (the TS host's wrapper list, its parseable list, the opaque
//! startup-file shells, the shells this port analyses, and the shells whose `+o` options the
//! binding scan skips); each is now a column, and `tests::columns_are_the_old_lists` pins every
//! column to the list it replaced.
//!
//! The columns differ on purpose:
//! * `ts_parses` is what the TS host parses (it includes `fish`); `analysed` is what this port's
//!   own fail-closed parser ([`super::shell`]) accepts, which is stricter (no `fish`).
//! * `plus_options` (words starting with `+` are options, as in `sh +o pipefail x.sh`) also
//!   names `osh`, as the TS host's list does, though `osh` never reaches the scan that reads it.

/// Which family a shell wrapper belongs to: how its payload is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellKind {
    Posix,
    Cmd,
    PowerShell,
}

/// One shell the TS host recognises as a wrapper.
struct Shell {
    name: &'static str,
    kind: ShellKind,
    /// The TS host parses its payload (`POSIX_PARSEABLE_SHELL_WRAPPERS`).
    ts_parses: bool,
    /// This port's allowlist analysis accepts its payload.
    analysed: bool,
    /// Reads startup files we cannot see before any `-c` (`csh`, `osh`, `tcsh`): its payload is
    /// never bindable.
    opaque_startup_files: bool,
    /// Words starting with `+` are options when looking for its script operand.
    plus_options: bool,
}

const fn posix(
    name: &'static str,
    ts_parses: bool,
    analysed: bool,
    opaque_startup_files: bool,
    plus_options: bool,
) -> Shell {
    Shell {
        name,
        kind: ShellKind::Posix,
        ts_parses,
        analysed,
        opaque_startup_files,
        plus_options,
    }
}

const fn other(name: &'static str, kind: ShellKind) -> Shell {
    Shell {
        name,
        kind,
        ts_parses: false,
        analysed: false,
        opaque_startup_files: false,
        plus_options: false,
    }
}

/// Columns: name, TS parses, analysed here, opaque startup files, `+` options.
const SHELLS: &[Shell] = &[
    posix("ash", true, true, false, true),
    posix("bash", true, true, false, true),
    posix("csh", false, false, true, false),
    posix("dash", true, true, false, true),
    posix("elvish", false, false, false, false),
    posix("fish", true, false, false, false),
    posix("ksh", true, true, false, true),
    posix("mksh", true, true, false, true),
    posix("nu", false, false, false, false),
    posix("osh", false, false, true, true),
    posix("sh", true, true, false, true),
    posix("tcsh", false, false, true, false),
    posix("xonsh", false, false, false, false),
    posix("yash", true, true, false, true),
    posix("zsh", true, true, false, true),
    other("cmd", ShellKind::Cmd),
    other("powershell", ShellKind::PowerShell),
    other("pwsh", ShellKind::PowerShell),
];

/// `name` is a normalised executable name (see [`super::argv::normalize_executable_token`]).
fn lookup(name: &str) -> Option<&'static Shell> {
    SHELLS.iter().find(|shell| shell.name == name)
}

/// The wrapper kind of a shell name; `None` when it names no shell the TS host wraps.
pub fn shell_kind(name: &str) -> Option<ShellKind> {
    lookup(name).map(|shell| shell.kind)
}

/// True for a POSIX-family shell name (`sh`, `bash`, ..., `nu`).
pub fn is_posix_shell(name: &str) -> bool {
    shell_kind(name) == Some(ShellKind::Posix)
}

/// True for a POSIX shell whose payload the TS host parses.
pub fn is_parseable_posix_shell(name: &str) -> bool {
    lookup(name).is_some_and(|shell| shell.ts_parses)
}

/// True for a shell whose payloads this port's allowlist analysis accepts.
pub fn is_analysable_shell(name: &str) -> bool {
    lookup(name).is_some_and(|shell| shell.analysed)
}

/// True for a shell that reads startup files before its `-c` payload (`csh`, `osh`, `tcsh`).
pub fn has_opaque_startup_files(name: &str) -> bool {
    lookup(name).is_some_and(|shell| shell.opaque_startup_files)
}

/// True when words starting with `+` are options of this shell.
pub fn takes_plus_options(name: &str) -> bool {
    lookup(name).is_some_and(|shell| shell.plus_options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(test: impl Fn(&str) -> bool) -> Vec<&'static str> {
        let mut names: Vec<&str> = SHELLS.iter().map(|s| s.name).filter(|n| test(n)).collect();
        names.sort_unstable();
        names
    }

    /// The lists this table replaced, verbatim: every column must stay equal to its list.
    #[test]
    fn columns_are_the_old_lists() {
        assert_eq!(
            column(is_posix_shell),
            [
                "ash", "bash", "csh", "dash", "elvish", "fish", "ksh", "mksh", "nu", "osh", "sh",
                "tcsh", "xonsh", "yash", "zsh",
            ]
        );
        assert_eq!(
            column(is_parseable_posix_shell),
            ["ash", "bash", "dash", "fish", "ksh", "mksh", "sh", "yash", "zsh"]
        );
        assert_eq!(column(has_opaque_startup_files), ["csh", "osh", "tcsh"]);
        assert_eq!(
            column(is_analysable_shell),
            ["ash", "bash", "dash", "ksh", "mksh", "sh", "yash", "zsh"]
        );
        assert_eq!(
            column(takes_plus_options),
            ["ash", "bash", "dash", "ksh", "mksh", "osh", "sh", "yash", "zsh"]
        );
        assert_eq!(shell_kind("cmd"), Some(ShellKind::Cmd));
        assert_eq!(shell_kind("powershell"), Some(ShellKind::PowerShell));
        assert_eq!(shell_kind("pwsh"), Some(ShellKind::PowerShell));
        assert_eq!(shell_kind("python3"), None);
        assert_eq!(shell_kind("Bash"), None, "names are already normalised");
    }
}
