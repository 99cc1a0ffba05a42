//! A plain POSIX start script, for machines with no service manager openclaw-node drives
//! (containers, a NAS with busybox init, runit, s6, supervisord): `install --print` writes it
//! for the user's own supervisor, which is then responsible for restarting the node.

use super::spec::ServiceSpec;

/// The start script for `spec`.
pub fn render_script(spec: &ServiceSpec) -> String {
    let env_file = crate::shell_quote::always(&spec.env_file.to_string_lossy());
    let mut out = String::from(
        "#!/bin/sh\n\
         # openclaw-node start script, written by `openclaw-node install --print`.\n\
         # Run it from your supervisor (runit, s6, supervisord, an init script...), and let the\n\
         # supervisor restart it when it exits non-zero: the node retries the gateway by itself\n\
         # and exits only when a fresh start is needed. Gateway credentials are read from the\n\
         # file below (mode 0600), never written into this script.\n",
    );
    out.push_str(&format!(
        "if [ -r {env_file} ]; then\n  set -a\n  . {env_file}\n  set +a\nfi\n"
    ));
    for (name, value) in &spec.environment {
        out.push_str(&format!(
            "export {name}={}\n",
            crate::shell_quote::always(value)
        ));
    }
    out.push_str(&format!(
        "cd {} || exit 1\n",
        crate::shell_quote::always(&spec.working_directory.to_string_lossy())
    ));
    let words: Vec<String> = spec
        .program
        .iter()
        .map(|w| crate::shell_quote::always(w))
        .collect();
    out.push_str(&format!("exec {}\n", words.join(" ")));
    out
}

// POSIX tests (sh, modes, symlinks); Windows runs tests/windows.rs under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_script_runs_the_command_with_the_credentials() {
        let dir = std::env::temp_dir().join(format!("ocn-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let env_file = dir.join("it's.env");
        std::fs::write(&env_file, "OPENCLAW_GATEWAY_TOKEN=\"tok\"\n").unwrap();
        // A stand-in for the node: prints its arguments and the variables it got.
        let program = dir.join("fake node");
        std::fs::write(
            &program,
            "#!/bin/sh\nprintf '%s|' \"$@\"; printf '%s|%s|%s' \"$OPENCLAW_GATEWAY_TOKEN\" \"$OPENCLAW_STATE_DIR\" \"$PWD\"\n",
        )
        .unwrap();
        std::fs::set_permissions(
            &program,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let spec = ServiceSpec {
            description: "d".into(),
            program: vec![
                program.to_string_lossy().into(),
                "run".into(),
                "--display-name".into(),
                "Bob's node".into(),
            ],
            environment: vec![("OPENCLAW_STATE_DIR".into(), "/s p/a'c e".into())],
            env_file,
            working_directory: dir.clone(),
 at_boot: false,
            log_file: PathBuf::from("/dev/null"),
        };
        let script = dir.join("start.sh");
        std::fs::write(&script, render_script(&spec)).unwrap();
        let out = std::process::Command::new("/bin/sh")
            .arg(&script)
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!(
                "run|--display-name|Bob's node|tok|/s p/a'c e|{}",
                dir.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
