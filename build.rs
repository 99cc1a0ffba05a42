//! Records the commit the binary is built from, for `--version`. A build outside a git checkout
//! (a source tarball) says "commit unknown" instead.

use std::process::Command;

fn main() {
    // `OPENCLAW_NODE_COMMIT` set by a release script wins over what git says.
    println!("cargo:rerun-if-env-changed=OPENCLAW_NODE_COMMIT");
    let commit = std::env::var("OPENCLAW_NODE_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit);
    if let Some(commit) = commit {
        println!("cargo:rustc-env=OPENCLAW_NODE_COMMIT=commit {commit}");
    }
    // Rebuild when HEAD moves (a commit, a checkout).
    for path in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

fn git_commit() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_string();
    if commit.is_empty() {
        return None;
    }
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
