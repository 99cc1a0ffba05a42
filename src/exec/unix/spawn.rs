//! Launching the child: argv without a shell, exactly the given environment, its own process
//! group, stdin closed, stdout and stderr piped.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{ExecSpec, ProcessGroup};

/// Starts `spec`. Errors are the OS error of the failed spawn (a missing binary or cwd, ...), or
/// `InvalidInput` for an empty argv or a NUL byte in an argument.
///
/// An executable file the kernel cannot run (`ENOEXEC`: a script without `#!`) is run by
/// `/bin/sh` as a script file, as `execvp(3)` does and so the TS host (libuv) does; this is
/// not a shell command line, the file's path is sh's script operand.
pub(in crate::exec) fn spawn(spec: &ExecSpec) -> io::Result<ProcessGroup> {
    let Some((name, args)) = spec.argv.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    let found = find_in_path(name, &spec.env, spec.cwd.as_deref());
    let program = found.as_deref().unwrap_or(Path::new(name));
    let args = args.iter().map(OsStr::new);
    let spawned = ProcessGroup::spawn(&mut command(spec, program, OsStr::new(name), args.clone()));
    let mut group = match spawned {
        Err(err) if err.raw_os_error() == Some(rustix::io::Errno::NOEXEC.raw_os_error()) => {
            let script = std::iter::once(program.as_os_str()).chain(args);
            ProcessGroup::spawn(&mut command(
                spec,
                Path::new(SCRIPT_SHELL),
                OsStr::new(SCRIPT_SHELL),
                script,
            ))?
        }
        spawned => spawned?,
    };
    // The TS host gives the child an empty stdin pipe: a reader sees EOF at once.
    group.close_stdin();
    Ok(group)
}

/// What `execvp(3)` (glibc `_PATH_BSHELL`) runs a file without `#!` with.
const SCRIPT_SHELL: &str = "/bin/sh";

fn command<'a>(
    spec: &ExecSpec,
    program: &Path,
    arg0: &OsStr,
    args: impl Iterator<Item = &'a OsStr>,
) -> Command {
    let mut command = Command::new(program);
    command
        .arg0(arg0)
        .args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    command
}

/// Where `execvp(3)` would find `name` in the child's `PATH`.
///
/// std spawns with `posix_spawn` (a vfork-style clone, much cheaper than `fork`) only when it
/// has no `PATH` lookup to do in an environment that differs from the node's own; a bare name
/// with `env_clear` would send every run down the `fork` path. So the lookup happens here.
/// `None` (no `PATH`, a name with a `/`, nothing executable found) leaves the name to std, which
/// then reports the precise error, or runs it from the libc default path.
fn find_in_path(name: &str, env: &[(String, String)], cwd: Option<&Path>) -> Option<PathBuf> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let path = env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value)?;
    path.split(':').find_map(|dir| {
        // An empty entry means the working directory, which for the child is `cwd`.
        let candidate = Path::new(if dir.is_empty() { "." } else { dir }).join(name);
        let probe = match cwd {
            Some(cwd) if candidate.is_relative() => cwd.join(&candidate),
            _ => candidate.clone(),
        };
        is_executable_file(&probe).then_some(candidate)
    })
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file())
        && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(path: &str) -> Vec<(String, String)> {
        vec![("PATH".to_string(), path.to_string())]
    }

    #[test]
    fn finds_the_first_executable_match() {
        let found = find_in_path("sh", &env("/nonexistent:/bin:/usr/bin"), None);
        assert_eq!(found, Some(PathBuf::from("/bin/sh")));
    }

    #[test]
    fn leaves_paths_and_misses_to_std() {
        assert_eq!(find_in_path("/bin/sh", &env("/bin"), None), None);
        assert_eq!(find_in_path("./sh", &env("/bin"), None), None);
        assert_eq!(find_in_path("sh", &[], None), None);
        assert_eq!(
            find_in_path("no-such-binary-here", &env("/bin:/usr/bin"), None),
            None
        );
    }

    #[test]
    fn the_last_path_wins_and_relative_entries_use_cwd() {
        let env = vec![
            ("PATH".to_string(), "/nonexistent".to_string()),
            ("PATH".to_string(), "bin".to_string()),
        ];
        assert_eq!(
            find_in_path("sh", &env, Some(Path::new("/"))),
            Some(PathBuf::from("bin/sh"))
        );
    }

    #[test]
    fn skips_directories_and_non_executables() {
        // /etc/passwd is a file without x bits for anyone; /usr is a directory.
        assert_eq!(find_in_path("passwd", &env("/etc"), None), None);
        assert_eq!(find_in_path("usr", &env("/"), None), None);
    }
}
