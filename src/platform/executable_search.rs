//! Finding the file a command name runs: PATH search on Unix, PATH and PATHEXT on Windows.
//!
//! Pure over the filesystem: the caller passes the PATH and PATHEXT strings and a probe that
//! says whether a candidate path is acceptable (exists, is an executable file, ...), so the
//! Windows rules run and are tested on every build, against a temp dir or a set of names.
//!
//! Windows rules (the TS host's `resolveExecutableFromPathEnv` and `system.which`, with two
//! fixes): PATH splits on `;` with quoted entries unquoted; a name whose extension is one of
//! PATHEXT's (`git.exe`) is probed as it is, and is **not** extended again (the TS host's
//! `system.which` looks for `git.exe.exe`); any other name is probed with each PATHEXT
//! extension and **never bare** (the TS approvals resolver probes `git` first, a file Windows
//! cannot run). PATHEXT defaults to `.EXE;.CMD;.BAT;.COM`.

use super::windows_path::{
    extension, has_separator, is_fully_qualified, join, split_path_env, split_pathext,
    NATIVE_EXECUTABLE_EXTENSIONS,
};
use super::Platform;

/// The PATH directories to search, as the platform splits PATH. `absolute_only` drops
/// relative entries (which would resolve against whatever cwd a command runs in; on Windows
/// also the drive-relative `\x` and `C:x`).
pub fn path_dirs(path_env: &str, platform: Platform, absolute_only: bool) -> Vec<String> {
    let dirs: Vec<String> = match platform {
        Platform::Unix => path_env
            .split(':')
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect(),
        Platform::Windows => split_path_env(path_env),
    };
    dirs.into_iter()
        .filter(|d| !absolute_only || is_absolute_dir(platform, d))
        .collect()
}

fn is_absolute_dir(platform: Platform, p: &str) -> bool {
    match platform {
        Platform::Unix => p.starts_with('/'),
        Platform::Windows => is_fully_qualified(p),
    }
}

/// True when `name`'s extension is one Windows runs: a native one (`.exe .com .bat .cmd`) or
/// one of PATHEXT's. `pathext` is [`split_pathext`]'s list.
pub fn has_executable_extension(name: &str, pathext: &[String]) -> bool {
    let ext = extension(name).to_lowercase();
    !ext.is_empty()
        && (NATIVE_EXECUTABLE_EXTENSIONS.contains(&ext.as_str()) || pathext.contains(&ext))
}

/// The file names Windows tries for `name` (a bare name or a path's last component): `name`
/// itself when its extension is one of PATHEXT's, else `name` + each PATHEXT extension.
pub fn windows_name_candidates(name: &str, pathext: &[String]) -> Vec<String> {
    let ext = extension(name).to_lowercase();
    if !ext.is_empty() && pathext.contains(&ext) {
        return vec![name.to_string()];
    }
    pathext.iter().map(|e| format!("{name}{e}")).collect()
}

/// The candidates for one word: for a path-like word (`.\x`, `C:\x\git`), the word itself
/// extended as [`windows_name_candidates`] says (Unix: as is); for a bare name, each PATH
/// directory joined with each candidate name.
pub fn candidates(
    word: &str,
    path_env: &str,
    pathext: Option<&str>,
    platform: Platform,
    absolute_only: bool,
) -> Vec<String> {
    match platform {
        Platform::Unix => {
            if word.contains('/') {
                return vec![word.to_string()];
            }
            path_dirs(path_env, platform, absolute_only)
                .into_iter()
                // By hand, not `Path::join`: these are Unix rules on whichever host applies
                // them (a Windows build's tests and its Unix-path fixtures).
                .map(|dir| match dir.ends_with('/') {
                    true => format!("{dir}{word}"),
                    false => format!("{dir}/{word}"),
                })
                .collect()
        }
        Platform::Windows => {
            let exts = split_pathext(pathext);
            if has_separator(word) {
                return windows_name_candidates(word, &exts);
            }
            let names = windows_name_candidates(word, &exts);
            path_dirs(path_env, platform, absolute_only)
                .iter()
                .flat_map(|dir| names.iter().map(move |name| join(dir, name)))
                .collect()
        }
    }
}

/// The first candidate of [`candidates`] the probe accepts.
pub fn search(
    word: &str,
    path_env: &str,
    pathext: Option<&str>,
    platform: Platform,
    absolute_only: bool,
    accept: &dyn Fn(&str) -> bool,
) -> Option<String> {
    if word.is_empty() {
        return None;
    }
    candidates(word, path_env, pathext, platform, absolute_only)
        .into_iter()
        .find(|candidate| accept(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn files(names: &[&str]) -> impl Fn(&str) -> bool {
        let set: HashSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
        move |p: &str| set.contains(&p.to_lowercase())
    }

    const PATH: &str = "C:\\Windows\\System32;\"C:\\Program Files\\Git\\cmd\";relative;C:\\Tools";

    #[test]
    fn a_name_with_a_pathext_extension_is_not_extended_again() {
        let fs = files(&["C:\\Program Files\\Git\\cmd\\git.exe", "C:\\Tools\\git.exe.exe"]);
        for name in ["git", "git.exe", "GIT.EXE", "git.Exe"] {
            let found = search(name, PATH, None, Platform::Windows, true, &fs);
            assert_eq!(
                found.as_deref().map(str::to_lowercase).as_deref(),
                Some("c:\\program files\\git\\cmd\\git.exe"),
                "{name}"
            );
        }
    }

    #[test]
    fn pathext_order_and_no_bare_probe() {
        let fs = files(&["C:\\Tools\\build", "C:\\Tools\\build.cmd", "C:\\Tools\\build.bat"]);
        assert_eq!(
            search("build", PATH, None, Platform::Windows, true, &fs).as_deref(),
            Some("C:\\Tools\\build.cmd"),
            "default PATHEXT: .EXE;.CMD;.BAT;.COM, and never the bare file"
        );
        assert_eq!(
            search("build", PATH, Some(".BAT;.CMD"), Platform::Windows, true, &fs).as_deref(),
            Some("C:\\Tools\\build.bat")
        );
        // An extension that is not PATHEXT's is extended: python3.11 → python3.11.exe.
        let fs = files(&["C:\\Tools\\python3.11.exe", "C:\\Tools\\x.ps1"]);
        assert_eq!(
            search("python3.11", PATH, None, Platform::Windows, true, &fs).as_deref(),
            Some("C:\\Tools\\python3.11.exe")
        );
        assert_eq!(search("x.ps1", PATH, None, Platform::Windows, true, &fs), None);
        assert_eq!(
            search("x.ps1", PATH, Some(".EXE;.PS1"), Platform::Windows, true, &fs).as_deref(),
            Some("C:\\Tools\\x.ps1")
        );
    }

    #[test]
    fn relative_entries_and_paths() {
        let fs = files(&["relative\\tool.exe", "C:\\w\\bin\\tool.exe"]);
        assert_eq!(search("tool", PATH, None, Platform::Windows, true, &fs), None);
        assert_eq!(
            search("tool", PATH, None, Platform::Windows, false, &fs).as_deref(),
            Some("relative\\tool.exe")
        );
        assert_eq!(
            search("C:\\w\\bin\\tool", "", None, Platform::Windows, true, &fs).as_deref(),
            Some("C:\\w\\bin\\tool.exe"),
            "a path-like word gets PATHEXT too"
        );
        assert_eq!(
            candidates("C:/w/bin/tool.EXE", PATH, None, Platform::Windows, true),
            ["C:/w/bin/tool.EXE"]
        );
    }

    #[test]
    fn unix_is_unchanged() {
        assert_eq!(
            candidates("ls", "/usr/bin::rel:/bin/", None, Platform::Unix, true),
            ["/usr/bin/ls", "/bin/ls"]
        );
        assert_eq!(
            candidates("ls", "/usr/bin::rel", None, Platform::Unix, false),
            ["/usr/bin/ls", "rel/ls"]
        );
        assert_eq!(candidates("./x", "/usr/bin", None, Platform::Unix, true), ["./x"]);
        assert_eq!(
            path_dirs("C:\\a;\\x;C:y;\\\\srv\\s;D:/b", Platform::Windows, true),
            ["C:\\a", "\\\\srv\\s", "D:/b"]
        );
    }

    #[test]
    fn executable_extensions() {
        let default = split_pathext(None);
        assert!(has_executable_extension("C:\\x\\a.EXE", &default));
        assert!(has_executable_extension("a.com", &default));
        assert!(!has_executable_extension("a.ps1", &default));
        assert!(!has_executable_extension("a", &default));
        assert!(has_executable_extension("a.ps1", &split_pathext(Some(".PS1"))));
    }

    /// Against a real directory: the probe is the caller's, so Windows rules run on Linux with
    /// `\` mapped to `/` for the disk.
    #[test]
    fn against_a_temp_dir() {
        let dir = std::env::temp_dir().join(format!("oc-exesearch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("Git")).unwrap();
        std::fs::write(dir.join("Git").join("git.exe"), b"MZ").unwrap();
        std::fs::create_dir_all(dir.join("Git").join("gitk.exe")).unwrap();
        let root = dir.to_str().unwrap();
        let path_env = format!("{root}\\Git;{root}\\missing");
        let probe = |p: &str| std::path::Path::new(&p.replace('\\', "/")).is_file();
        // Linux's `/tmp/...` has no drive: not fully qualified, so searched only when relative
        // entries are; Windows' `C:\...\Temp` is.
        let qualified = is_fully_qualified(root);
        assert_eq!(
            search("git", &path_env, None, Platform::Windows, true, &probe).is_some(),
            qualified
        );
        let found = search("git", &path_env, None, Platform::Windows, false, &probe);
        assert_eq!(found, Some(format!("{root}\\Git\\git.exe")));
        assert_eq!(
            search("gitk", &path_env, None, Platform::Windows, false, &probe),
            None,
            "a directory is not a file"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
