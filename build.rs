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
    // Rebuild when HEAD moves: a checkout rewrites HEAD, a commit rewrites the branch's ref
    // (HEAD itself keeps saying `ref: refs/heads/main`), and a worktree keeps both elsewhere,
    // so git names the files. `packed-refs` covers a ref that lives there; the index covers
    // a change to what is dirty.
    for name in ["HEAD", "index", "packed-refs"] {
        rerun_if_git_file_changed(name);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        rerun_if_git_file_changed(&branch);
    }
}

fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

fn rerun_if_git_file_changed(name: &str) {
    if let Some(path) = git(&["rev-parse", "--git-path", name]) {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// `git ARGS` run in the crate's directory: its trimmed stdout when it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
