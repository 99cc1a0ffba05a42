//! Windows path text, as pure functions on strings: they run (and are tested) on every build,
//! so the Windows approval rules do not need a Windows machine to be checked.
//!
//! Windows file names are case-insensitive, take `\` and `/` alike, may carry a `\\?\`
//! (verbatim) or `\\.\` (device) prefix, and lose trailing dots and spaces in each component
//! (`git.exe.` and `git.exe ` open `git.exe`). [`match_form`] folds all of these, so a pattern
//! and a path that name the same file compare equal.

/// The extensions Windows itself runs, whatever PATHEXT says (`WINDOWS_NATIVE_EXECUTABLE_EXTENSIONS`).
pub const NATIVE_EXECUTABLE_EXTENSIONS: &[&str] = &[".com", ".exe", ".bat", ".cmd"];

/// PATHEXT when the environment has none (the TS host's default).
pub const DEFAULT_PATHEXT: &str = ".EXE;.CMD;.BAT;.COM";

fn is_separator(c: char) -> bool {
    c == '\\' || c == '/'
}

/// True when `p` names a path rather than a bare command name.
pub fn has_separator(p: &str) -> bool {
    p.contains(is_separator)
}

/// The drive prefix `X:` of `p`, if any.
fn drive(p: &str) -> Option<&str> {
    let bytes = p.as_bytes();
    (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':').then(|| &p[..2])
}

/// `path.win32.isAbsolute`: `C:\x`, `C:/x`, `\x`, `/x` and UNC paths; not `C:x`.
pub fn is_absolute(p: &str) -> bool {
    match drive(p) {
        Some(d) => p[d.len()..].starts_with(is_separator),
        None => p.starts_with(is_separator),
    }
}

/// A path that names the same place whatever the current drive and directory: `C:\x`, `C:/x`
/// or a UNC `\\server\share`; not the drive-relative `\x` or `C:x`.
pub fn is_fully_qualified(p: &str) -> bool {
    match drive(p) {
        Some(d) => p[d.len()..].starts_with(is_separator),
        None => p.starts_with("\\\\") || p.starts_with("//"),
    }
}

/// `p` without a `\\?\` (verbatim), `\\?\UNC\` or `\\.\` (device) prefix, in either slash
/// direction. `\\?\UNC\server\share` becomes `\\server\share`.
pub fn strip_verbatim(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let prefixed = chars.len() >= 4
        && is_separator(chars[0])
        && is_separator(chars[1])
        && (chars[2] == '?' || chars[2] == '.')
        && is_separator(chars[3]);
    if !prefixed {
        return p.to_string();
    }
    let rest: String = chars[4..].iter().collect();
    match rest.get(..4) {
        Some(unc) if unc.eq_ignore_ascii_case("unc\\") || unc.eq_ignore_ascii_case("unc/") => {
            format!("\\\\{}", &rest[4..])
        }
        _ => rest,
    }
}

/// A component as Windows opens it: trailing dots and spaces removed (`.` and `..` kept).
fn strip_trailing_dots_and_spaces(component: &str) -> &str {
    if component == "." || component == ".." {
        return component;
    }
    component.trim_end_matches(['.', ' '])
}

/// The form two Windows paths are compared in: no verbatim prefix, `/` separators, repeated
/// separators folded (a leading `//` of a UNC path kept), trailing dots and spaces stripped from
/// each component, lowercase. Glob characters pass through, so a pattern folds the same way.
pub fn match_form(p: &str) -> String {
    let stripped = strip_verbatim(p).replace('\\', "/");
    let unc = stripped.starts_with("//");
    let mut out: String = stripped
        .split('/')
        .filter(|c| !c.is_empty())
        .map(strip_trailing_dots_and_spaces)
        .collect::<Vec<_>>()
        .join("/");
    if stripped.starts_with('/') {
        out.insert(0, '/');
    }
    if unc {
        out.insert(0, '/');
    }
    if stripped.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out.to_lowercase()
}

/// The last component of `p` (after the last `\` or `/`, or after a drive).
pub fn file_name(p: &str) -> &str {
    let p = &p[drive(p).map_or(0, str::len)..];
    match p.rfind(is_separator) {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// `path.extname` of a file name: from its last `.` (not a leading one), else empty.
pub fn extension(name: &str) -> &str {
    let name = file_name(name);
    match name.rfind('.') {
        Some(i) if i > 0 => &name[i..],
        _ => "",
    }
}

/// `p` without a native executable extension (`.exe`, `.com`, `.bat`, `.cmd`, any case).
pub fn strip_native_extension(p: &str) -> &str {
    let ext = extension(p);
    if NATIVE_EXECUTABLE_EXTENSIONS
        .iter()
        .any(|native| ext.eq_ignore_ascii_case(native))
    {
        &p[..p.len() - ext.len()]
    } else {
        p
    }
}

/// `path.win32.join(dir, name)` for a name without separators.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        return name.to_string();
    }
    if dir.ends_with(is_separator) {
        format!("{dir}{name}")
    } else {
        format!("{dir}\\{name}")
    }
}

/// `path.win32.resolve(cwd, p)` without touching the disk: `p` made absolute against `cwd`,
/// `.` and `..` folded, `\` separators. A rooted `\x` keeps `cwd`'s drive; `C:x` (relative to
/// the drive's own cwd, which this process cannot know) is resolved against `cwd`.
pub fn lexical_resolve(cwd: &str, p: &str) -> String {
    let p_drive = drive(p);
    let (prefix, rest) = if is_absolute(p) {
        match p_drive {
            Some(d) => (d.to_string(), p[d.len()..].to_string()),
            None if p.starts_with("\\\\") || p.starts_with("//") => {
                (String::from("\\"), p[1..].to_string())
            }
            None => (drive(cwd).unwrap_or("").to_string(), p.to_string()),
        }
    } else {
        let cwd_drive = drive(cwd).unwrap_or("");
        let tail = &p[p_drive.map_or(0, str::len)..];
        (
            cwd_drive.to_string(),
            format!("{}\\{tail}", &cwd[cwd_drive.len()..]),
        )
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in rest.split(is_separator) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("{prefix}\\{}", parts.join("\\"))
}

/// PATH split as Windows splits it: on `;`, each entry unquoted (`"C:\Program Files\x"`),
/// empty entries dropped.
pub fn split_path_env(path_env: &str) -> Vec<String> {
    path_env
        .split(';')
        .map(|entry| {
            let entry = entry.trim();
            entry
                .strip_prefix('"')
                .and_then(|e| e.strip_suffix('"'))
                .unwrap_or(entry)
                .to_string()
        })
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// PATHEXT as a list of lowercase extensions, in order, without empty or repeated entries;
/// [`DEFAULT_PATHEXT`] when `None`.
pub fn split_pathext(pathext: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ext in pathext.unwrap_or(DEFAULT_PATHEXT).split(';') {
        let ext = ext.trim().to_lowercase();
        if !ext.is_empty() && !out.contains(&ext) {
            out.push(ext);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_form_folds_what_windows_folds() {
        let same = [
            "C:\\Program Files\\Git\\cmd\\git.exe",
            "c:/program files/git/cmd/GIT.EXE",
            "\\\\?\\C:\\Program Files\\Git\\cmd\\git.exe",
            "//?/C:/Program Files/Git/cmd/git.exe",
            "\\\\.\\C:\\Program Files\\Git\\cmd\\git.exe",
            "C:\\Program Files\\\\Git\\cmd\\git.exe",
            "C:\\Program Files\\Git\\cmd\\git.exe.",
            "C:\\Program Files\\Git\\cmd\\git.exe . .",
            "C:\\Program Files \\Git.\\cmd\\git.exe",
        ];
        for p in same {
            assert_eq!(match_form(p), "c:/program files/git/cmd/git.exe", "{p}");
        }
        assert_eq!(match_form("\\\\?\\UNC\\srv\\share\\x.exe"), "//srv/share/x.exe");
        assert_eq!(match_form("\\\\srv\\share\\x.exe"), "//srv/share/x.exe");
        assert_eq!(match_form("C:\\a\\..\\b"), "c:/a/../b", "dot segments are kept");
        assert_eq!(match_form("C:\\Tools\\*"), "c:/tools/*");
    }

    #[test]
    fn names_and_extensions() {
        assert_eq!(file_name("C:\\a\\git.exe"), "git.exe");
        assert_eq!(file_name("C:git.exe"), "git.exe");
        assert_eq!(file_name("a/b\\c"), "c");
        assert_eq!(extension("git.EXE"), ".EXE");
        assert_eq!(extension(".bashrc"), "");
        assert_eq!(extension("C:\\x.d\\git"), "");
        assert_eq!(strip_native_extension("C:\\a\\git.Exe"), "C:\\a\\git");
        assert_eq!(strip_native_extension("C:\\a\\x.ps1"), "C:\\a\\x.ps1");
    }

    #[test]
    fn absolute_and_resolve() {
        assert!(is_absolute("C:\\x") && is_absolute("c:/x") && is_absolute("\\x"));
        assert!(is_absolute("/tmp") && is_absolute("\\\\srv\\share"));
        assert!(!is_absolute("C:x") && !is_absolute("x\\y") && !is_absolute("C:"));
        assert!(is_fully_qualified("C:\\x") && is_fully_qualified("\\\\srv\\s"));
        assert!(!is_fully_qualified("\\x") && !is_fully_qualified("C:x") && !is_fully_qualified("/tmp"));
        assert_eq!(lexical_resolve("C:\\work", ".\\bin\\x.exe"), "C:\\work\\bin\\x.exe");
        assert_eq!(lexical_resolve("C:\\work\\a", "..\\..\\..\\x"), "C:\\x");
        assert_eq!(lexical_resolve("C:\\work", "D:/tools/x.exe"), "D:\\tools\\x.exe");
        assert_eq!(lexical_resolve("C:\\work", "\\tools\\x"), "C:\\tools\\x");
        assert_eq!(lexical_resolve("/tmp/w", "bin/x"), "\\tmp\\w\\bin\\x");
        assert_eq!(lexical_resolve("C:\\work", "\\\\srv\\s\\x"), "\\\\srv\\s\\x");
    }

    #[test]
    fn path_and_pathext_lists() {
        assert_eq!(
            split_path_env("C:\\a;;\"C:\\Program Files\\b\"; ;C:\\c;"),
            ["C:\\a", "C:\\Program Files\\b", "C:\\c"]
        );
        assert_eq!(split_pathext(None), [".exe", ".cmd", ".bat", ".com"]);
        assert_eq!(split_pathext(Some(".COM;.EXE;;.exe;.PS1")), [".com", ".exe", ".ps1"]);
        assert_eq!(join("C:\\a", "git.exe"), "C:\\a\\git.exe");
        assert_eq!(join("C:\\a\\", "git.exe"), "C:\\a\\git.exe");
        assert_eq!(join("C:/a/", "git"), "C:/a/git");
    }
}
