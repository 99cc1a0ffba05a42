//! From `system.run`'s argv to a Windows command line, as the TS host (execa on libuv) builds it.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// PATHEXT when the environment has none (TS `resolveWindowsExecutableExtensions`).
const DEFAULT_PATHEXT: &str = ".EXE;.CMD;.BAT;.COM";

/// The extensions Windows can start (TS `resolveSupportedWindowsCommand`).
const RUNNABLE: [&str; 4] = [".exe", ".com", ".cmd", ".bat"];

/// What libuv copies from the node's environment into a child's when the child's lacks them
/// (`required_vars` in `src/win/process.c`): without SYSTEMROOT many programs cannot even load.
pub(super) const REQUIRED_VARS: [&str; 11] = [
    "HOMEDRIVE",
    "HOMEPATH",
    "LOGONSERVER",
    "PATH",
    "SYSTEMDRIVE",
    "SYSTEMROOT",
    "TEMP",
    "USERDOMAIN",
    "USERNAME",
    "USERPROFILE",
    "WINDIR",
];

/// The value of `key` in `env`, compared case-insensitively; the last one wins.
pub(super) fn env_get<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// `env` with case-insensitive keys (the last of a set of duplicates wins, keeping its first
/// spelling's position) plus libuv's required variables from `node_env` where missing.
pub(super) fn child_environment(
    env: &[(String, String)],
    node_env: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::with_capacity(env.len() + REQUIRED_VARS.len());
    for (key, value) in env {
        match merged.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(slot) => slot.1 = value.clone(),
            None => merged.push((key.clone(), value.clone())),
        }
    }
    for key in REQUIRED_VARS {
        if !merged.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            if let Some(value) = node_env(key) {
                merged.push((key.to_string(), value));
            }
        }
    }
    merged
}

/// How a resolved program is started.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Launch {
    /// The file CreateProcessW runs.
    pub program: PathBuf,
    /// The command line after the program name, already quoted (passed with `raw_arg`).
    pub raw_args: String,
}

/// Resolves `argv[0]` and builds the command line:
/// - a name with `\` or `/` is taken relative to `cwd`; a bare name is looked up in the PATH
///   of `env` (`;`-separated, quotes removed, relative entries against `cwd`) with each PATHEXT
///   extension, after the name itself when it already has a runnable extension (`cmd.exe`);
/// - only `.exe .com .cmd .bat` run: another extension is refused as TS refuses it;
/// - arguments are quoted with libuv's `quote_cmd_arg`; a `cmd.exe` program gets execa's `/q`
///   first;
/// - a `.cmd`/`.bat` file runs as `%SystemRoot%\System32\cmd.exe /d /s /c "<line>"`, and an
///   argument with `& | < > %` or a line break is refused (cmd would interpret it).
pub(super) fn resolve(
    argv: &[String],
    env: &[(String, String)],
    cwd: Option<&Path>,
) -> io::Result<Launch> {
    let Some((name, args)) = argv.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    let program = find_program(name, env, cwd)?;
    let ext = extension(&program);
    if !RUNNABLE.contains(&ext.as_str()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "Unsupported Windows command extension \"{ext}\" for \"{name}\"; use an explicit \
                 executable or shell wrapper."
            ),
        ));
    }
    if ext == ".cmd" || ext == ".bat" {
        let system_root = env_get(env, "SystemRoot").map(str::to_string).unwrap_or_else(|| {
            std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\Windows".to_string())
        });
        let mut line = vec![quote_batch_arg(&program.to_string_lossy())?];
        for arg in args {
            line.push(quote_batch_arg(arg)?);
        }
        return Ok(Launch {
            program: Path::new(&system_root).join("System32").join("cmd.exe"),
            raw_args: format!("/q /d /s /c \"{}\"", line.join(" ")),
        });
    }
    let mut parts: Vec<String> = Vec::with_capacity(args.len() + 1);
    if is_cmd(&program) {
        parts.push("/q".to_string());
    }
    parts.extend(args.iter().map(|arg| quote_cmd_arg(arg)));
    Ok(Launch {
        program,
        raw_args: parts.join(" "),
    })
}

/// `cmd` or `cmd.exe`, any case (execa's `/^cmd(?:\.exe)?$/i` on the basename).
fn is_cmd(program: &Path) -> bool {
    program
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.eq_ignore_ascii_case("cmd") || n.eq_ignore_ascii_case("cmd.exe"))
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| format!(".{}", e.to_string_lossy().to_ascii_lowercase()))
        .unwrap_or_default()
}

/// The lowercased PATHEXT entries of `env` (else the node's, else the default).
pub(super) fn path_extensions(env: &[(String, String)]) -> Vec<String> {
    let raw = env_get(env, "PATHEXT")
        .map(str::to_string)
        .or_else(|| std::env::var("PATHEXT").ok())
        .unwrap_or_else(|| DEFAULT_PATHEXT.to_string());
    raw.split(';').map(|ext| ext.trim().to_ascii_lowercase()).collect()
}

fn find_program(name: &str, env: &[(String, String)], cwd: Option<&Path>) -> io::Result<PathBuf> {
    // ERROR_FILE_NOT_FOUND, so that the launch error is named ENOENT as in TS.
    let not_found = || io::Error::from_raw_os_error(2);
    let exts = path_extensions(env);
    let base = cwd.map(Path::to_path_buf).or_else(|| std::env::current_dir().ok());
    let anchor = |dir: PathBuf| match &base {
        Some(base) if dir.is_relative() => base.join(dir),
        _ => dir,
    };
    let candidates = |stem: PathBuf| {
        let own = RUNNABLE.contains(&extension(&stem).as_str());
        let mut out: Vec<PathBuf> = Vec::new();
        if own {
            out.push(stem.clone());
        }
        for ext in &exts {
            let mut with: OsString = stem.clone().into_os_string();
            with.push(ext);
            out.push(PathBuf::from(with));
        }
        out
    };
    if name.contains('\\') || name.contains('/') {
        return candidates(anchor(PathBuf::from(name)))
            .into_iter()
            .find(|c| c.is_file())
            .ok_or_else(not_found);
    }
    let path = env_get(env, "PATH").unwrap_or_default();
    for dir in path.split(';') {
        let dir = dir.trim().trim_matches('"');
        if dir.is_empty() {
            continue;
        }
        if let Some(found) = candidates(anchor(PathBuf::from(dir)).join(name))
            .into_iter()
            .find(|c| c.is_file())
        {
            return Ok(found);
        }
    }
    Err(not_found())
}

/// libuv's `quote_cmd_arg` (`src/win/process.c`): `""` for an empty argument; verbatim without
/// space, tab or `"`; wrapped in quotes without `"` or `\`; else MSVCRT escaping (backslashes
/// doubled before a quote and at the end, `"` as `\"`).
pub(super) fn quote_cmd_arg(arg: &str) -> String {
    if arg.is_empty() {
        return "\"\"".to_string();
    }
    if !arg.contains([' ', '\t', '"']) {
        return arg.to_string();
    }
    if !arg.contains(['"', '\\']) {
        return format!("\"{arg}\"");
    }
    let mut out = String::with_capacity(arg.len() + 8);
    out.push('"');
    let mut backslashes = 0usize;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.extend(std::iter::repeat('\\').take(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            other => {
                out.extend(std::iter::repeat('\\').take(backslashes));
                out.push(other);
                backslashes = 0;
            }
        }
    }
    out.extend(std::iter::repeat('\\').take(backslashes * 2));
    out.push('"');
    out
}

/// An argument of a `.cmd`/`.bat` line (TS `windows-command`): always quoted, `"` doubled,
/// backslashes before a quote or at the end doubled; refused when cmd would interpret it.
fn quote_batch_arg(arg: &str) -> io::Result<String> {
    if arg.contains(['&', '|', '<', '>', '%', '\r', '\n']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("Unsafe Windows cmd.exe argument detected: {arg}"),
        ));
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    let mut backslashes = 0usize;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.extend(std::iter::repeat('\\').take(backslashes * 2));
                out.push_str("\"\"");
                backslashes = 0;
            }
            other => {
                out.extend(std::iter::repeat('\\').take(backslashes));
                out.push(other);
                backslashes = 0;
            }
        }
    }
    out.extend(std::iter::repeat('\\').take(backslashes * 2));
    out.push('"');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_as_libuv_quotes_them() {
        assert_eq!(quote_cmd_arg(""), "\"\"");
        assert_eq!(quote_cmd_arg("plain"), "plain");
        assert_eq!(quote_cmd_arg(r"C:\dir\x"), r"C:\dir\x");
        assert_eq!(quote_cmd_arg("a b"), "\"a b\"");
        assert_eq!(quote_cmd_arg(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(quote_cmd_arg(r"C:\a b\"), r#""C:\a b\\""#);
        // A quote and no space: libuv quotes it (std would not).
        assert_eq!(quote_cmd_arg(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote_cmd_arg(r#"a\"b"#), r#""a\\\"b""#);
    }

    #[test]
    fn batch_arguments_refuse_what_cmd_interprets() {
        assert_eq!(quote_batch_arg("x y").unwrap(), "\"x y\"");
        assert_eq!(quote_batch_arg(r#"a"b"#).unwrap(), r#""a""b""#);
        for bad in ["a&b", "a|b", "a>b", "%PATH%", "a\nb"] {
            assert!(quote_batch_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environment_keys_are_case_insensitive_and_required_ones_are_added() {
        let env = vec![
            ("Path".to_string(), r"C:\a".to_string()),
            ("FOO".to_string(), "1".to_string()),
            ("PATH".to_string(), r"C:\b".to_string()),
            ("foo".to_string(), "2".to_string()),
        ];
        let merged = child_environment(&env, |key| (key == "SYSTEMROOT").then(|| r"C:\W".into()));
        assert_eq!(
            merged,
            vec![
                ("Path".to_string(), r"C:\b".to_string()),
                ("FOO".to_string(), "2".to_string()),
                ("SYSTEMROOT".to_string(), r"C:\W".to_string()),
            ]
        );
        assert_eq!(env_get(&env, "path"), Some(r"C:\b"));
    }

    #[test]
    fn extensions_outside_the_runnable_four_are_refused() {
        let dir = std::env::temp_dir().join(format!("ocn-resolve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tool.ps1"), "").unwrap();
        std::fs::write(dir.join("tool2.bat"), "").unwrap();
        let env = vec![
            ("PATH".to_string(), dir.to_string_lossy().into_owned()),
            ("PATHEXT".to_string(), ".PS1;.BAT".to_string()),
        ];
        let err = resolve(&["tool".into()], &env, None).unwrap_err();
        assert!(err.to_string().contains("Unsupported Windows command extension \".ps1\""));
        let launch = resolve(&["tool2".into(), "a b".into()], &env, None).unwrap();
        assert!(launch.program.ends_with("cmd.exe"));
        assert!(launch.raw_args.starts_with("/q /d /s /c \"\""), "{}", launch.raw_args);
        assert!(launch.raw_args.ends_with("tool2.bat\" \"a b\"\""), "{}", launch.raw_args);
        assert!(resolve(&["tool2".into(), "a&b".into()], &env, None).is_err());
        assert_eq!(
            resolve(&["missing".into()], &env, None).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cmd_exe_is_found_on_path_and_gets_q() {
        let system = std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\windows".into());
        let env = vec![("PATH".to_string(), format!(r"{system}\system32"))];
        let argv: Vec<String> = ["cmd.exe", "/d", "/s", "/c", "echo hi"].map(String::from).into();
        let launch = resolve(&argv, &env, None).unwrap();
        assert!(launch.program.to_string_lossy().to_ascii_lowercase().ends_with(r"\cmd.exe"));
        assert_eq!(launch.raw_args, "/q /d /s /c \"echo hi\"");
    }
}
