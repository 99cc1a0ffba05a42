//! Node-hosted skills (node-surface.md §5): `<state dir>/skills/<name>/SKILL.md`, published as
//! `node.skills.update`, refreshed when the directory changes (inotify), and the
//! `node://<nodeId>/skills/<name>` working directory of `system.run` / `system.run.prepare`.
//!
//! As TS's `scanNodeHostedSkills`: candidates are child directories (not symlinks, not dot-named)
//! holding a regular `SKILL.md`, sorted by name; each file (at most 64 KiB) needs frontmatter
//! with `name` (equal to the directory name, `^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
//! and `description` (1..1024 characters); at most 64 skills and 512 KiB in all. A skill that
//! breaks a rule is skipped with a `node host skill skipped (<path>): …` warning. The published
//! content is the whole file, frontmatter included.

use std::path::{Path, PathBuf};

use serde::Serialize;

const MAX_CONTENT_BYTES: u64 = 65_536;
const MAX_TOTAL_BYTES: usize = 524_288;
const MAX_SKILLS: usize = 64;
const MAX_DESCRIPTION: usize = 1024;

/// One published skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skill {
    pub name: String,
    pub description: String,
    pub content: String,
}

/// `<state dir>/skills`, TS's `resolveConfigDir()/skills`.
pub fn skills_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("skills")
}

/// TS's `NODE_SKILL_NAME_RE`.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && !name.contains("--")
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// The skills in `dir`, with TS's rules; problems are logged and the skill skipped.
pub fn scan(dir: &Path) -> Vec<Skill> {
    let skip = |path: &Path, why: &str| {
        log::warn!("node host skill skipped ({}): {why}", path.display());
    };
    let root_file = dir.join("SKILL.md");
    if root_file.is_file() {
        skip(&root_file, "skills must use a named child directory");
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            log::warn!("node host skill scan skipped ({}): {err}", dir.display());
            return Vec::new();
        }
    };
    let mut candidates: Vec<String> = entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.') && dir.join(name).join("SKILL.md").is_file())
        .collect();
    candidates.sort();
    let mut skills = Vec::new();
    let mut total = 0usize;
    for name in candidates {
        let path = dir.join(&name).join("SKILL.md");
        let content = match read_capped(&path) {
            Ok(Some(content)) => content,
            Ok(None) => {
                skip(&path, "invalid name, description, or size");
                continue;
            }
            Err(err) => {
                skip(&path, &err.to_string());
                continue;
            }
        };
        let Some((front_name, description)) = frontmatter(&content) else {
            skip(&path, "has invalid or missing frontmatter");
            continue;
        };
        if front_name != name {
            skip(&path, "directory, name, and frontmatter must match");
            continue;
        }
        if !valid_name(&name)
            || description.is_empty()
            || description.chars().count() > MAX_DESCRIPTION
        {
            skip(&path, "invalid name, description, or size");
            continue;
        }
        if skills.len() >= MAX_SKILLS {
            skip(&path, "exceeds 64 skills");
            continue;
        }
        if total + content.len() > MAX_TOTAL_BYTES {
            skip(&path, &format!("exceeds {MAX_TOTAL_BYTES} total bytes"));
            continue;
        }
        total += content.len();
        skills.push(Skill {
            name,
            description,
            content,
        });
    }
    skills
}

/// The file's text when it is at most [`MAX_CONTENT_BYTES`]; `None` when larger.
fn read_capped(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONTENT_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONTENT_BYTES {
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
}

/// `(name, description)` from the YAML frontmatter: `---` on the first line, `key: value` lines
/// (plain or quoted scalars, or `|`/`>` blocks), `---` to close.
fn frontmatter(content: &str) -> Option<(String, String)> {
    let body = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut lines = body.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let mut block: Vec<&str> = Vec::new();
    let mut closed = false;
    for line in lines {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        block.push(line);
    }
    if !closed {
        return None;
    }
    let (mut name, mut description) = (None, None);
    let mut i = 0;
    while i < block.len() {
        let line = block[i];
        i += 1;
        if line.starts_with([' ', '\t']) || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once(':') else {
            continue;
        };
        let raw = raw.trim();
        let value = if matches!(raw, "|" | "|-" | "|+" | ">" | ">-" | ">+") {
            let mut parts = Vec::new();
            while i < block.len() && (block[i].starts_with([' ', '\t']) || block[i].is_empty()) {
                parts.push(block[i].trim());
                i += 1;
            }
            let joiner = if raw.starts_with('|') { "\n" } else { " " };
            parts.join(joiner)
        } else {
            unquote(raw)
        };
        match key.trim() {
            "name" => name = Some(value.trim().to_string()),
            "description" => description = Some(value.trim().to_string()),
            _ => {}
        }
    }
    Some((name?, description?))
}

fn unquote(raw: &str) -> String {
    if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
        return serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw[1..raw.len() - 1].into());
    }
    if raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'') {
        return raw[1..raw.len() - 1].replace("''", "'");
    }
    // A plain scalar ends at a comment.
    match raw.find(" #") {
        Some(at) => raw[..at].trim_end().to_string(),
        None => raw.to_string(),
    }
}

/// The `node.skills.update` params.
pub fn update_params(skills: &[Skill]) -> String {
    serde_json::json!({ "skills": skills }).to_string()
}

/// Maps a `node://<nodeId>/skills/<name>` working directory to the skill's real folder
/// (TS's `resolveNodeHostedSkillDirectory`): `Ok(None)` when `cwd` is no such locator; the
/// error is TS's message.
pub fn resolve_cwd(cwd: &str, node_id: &str, dir: &Path) -> Result<Option<PathBuf>, String> {
    if !cwd.starts_with("node://") {
        return Ok(None);
    }
    let prefix = format!("node://{}/skills/", encode_uri_component(node_id));
    let name = cwd.strip_prefix(&prefix).unwrap_or("");
    if !valid_name(name) {
        return Err("Error: INVALID_REQUEST: node skill cwd locator is invalid for this node".into());
    }
    let unavailable = || "Error: INVALID_REQUEST: node skill cwd locator is unavailable".to_string();
    let root = std::fs::canonicalize(dir).map_err(|_| unavailable())?;
    let skill = std::fs::canonicalize(root.join(name)).map_err(|_| unavailable())?;
    if skill == root || !skill.starts_with(&root) || !skill.join("SKILL.md").is_file() {
        return Err(unavailable());
    }
    Ok(Some(skill))
}

/// JavaScript's `encodeURIComponent`.
fn encode_uri_component(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Calls `changed` whenever something in `dir` (or a skill folder in it) changes, from a
/// thread blocked in an inotify read: no polling. When `dir` does not exist yet, its parent is
/// watched for it to appear.
#[cfg(target_os = "linux")]
pub fn watch(dir: PathBuf, changed: impl Fn() + Send + 'static) -> std::io::Result<()> {
    use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
    let fd = inotify::init(CreateFlags::CLOEXEC)?;
    let flags = WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::CLOSE_WRITE
        | WatchFlags::MODIFY
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::ATTRIB
        | WatchFlags::DELETE_SELF
        | WatchFlags::MOVE_SELF;
    let parent = dir.parent().map(Path::to_path_buf);
    let name = dir.file_name().map(|n| n.to_os_string());
    let parent_wd = match &parent {
        Some(parent) => inotify::add_watch(&fd, parent, WatchFlags::CREATE | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM | WatchFlags::MOVED_TO).ok(),
        None => None,
    };
    let arm = move |fd: &rustix::fd::OwnedFd| {
        let _ = inotify::add_watch(fd, &dir, flags);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = inotify::add_watch(fd, entry.path(), flags);
                }
            }
        }
    };
    arm(&fd);
    std::thread::Builder::new()
        .name("skills-watch".into())
        .spawn(move || {
            let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
            let mut reader = inotify::Reader::new(&fd, &mut buf);
            let mut pending = false;
            loop {
                use std::os::unix::ffi::OsStrExt;
                let relevant = match reader.next() {
                    Ok(event) => {
                        Some(event.wd()) != parent_wd
                            || event
                                .file_name()
                                .map(|n| std::ffi::OsStr::from_bytes(n.to_bytes()))
                                == name.as_deref()
                    }
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(err) => {
                        log::warn!("skills watcher stopped: {err}; restart the node to pick up skill changes");
                        return;
                    }
                };
                // One refresh per batch of events the kernel handed over.
                pending |= relevant;
                if pending && reader.is_buffer_empty() {
                    pending = false;
                    arm(&fd);
                    changed();
                }
            }
        })?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn watch(_dir: PathBuf, _changed: impl Fn() + Send + 'static) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ocn-skills-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_skill(dir: &Path, folder: &str, text: &str) {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        std::fs::write(dir.join(folder).join("SKILL.md"), text).unwrap();
    }

    const HELLO: &str = "---\nname: hello-skill\ndescription: Says hello from the node.\n---\n# Hello skill\nRun `echo hello` in this directory.\n";

    #[test]
    fn the_live_skill_is_published_whole_and_bad_ones_are_skipped() {
        let dir = scratch("scan");
        write_skill(&dir, "hello-skill", HELLO);
        write_skill(&dir, "other", "---\nname: not-other\ndescription: x\n---\n");
        write_skill(&dir, "Bad--Name", "---\nname: Bad--Name\ndescription: x\n---\n");
        write_skill(&dir, "no-front", "# nothing\n");
        write_skill(&dir, ".hidden", "---\nname: .hidden\ndescription: x\n---\n");
        write_skill(
            &dir,
            "a-quoted",
            "---\nname: \"a-quoted\"\ndescription: >\n  Folded\n  text.\n---\nbody\n",
        );
        write_skill(
            &dir,
            "big",
            &format!("---\nname: big\ndescription: d\n---\n{}", "x".repeat(70_000)),
        );
        std::fs::write(dir.join("SKILL.md"), HELLO).unwrap();
        let skills = scan(&dir);
        let names: Vec<&str> = skills.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a-quoted", "hello-skill"]);
        assert_eq!(skills[0].description, "Folded text.");
        assert_eq!(skills[1].content, HELLO);
        assert_eq!(
            update_params(&skills[1..]),
            serde_json::json!({"skills":[{"name":"hello-skill","description":"Says hello from the node.","content":HELLO}]}).to_string()
        );
        assert!(scan(&dir.join("missing")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_follow_the_ts_pattern() {
        for good in ["a", "hello-skill", "x1", &"a".repeat(64)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", &"a".repeat(65), "a/b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[cfg(unix)] // symlinks

    #[test]
    fn the_cwd_locator_maps_to_the_skill_folder_with_ts_errors() {
        let dir = scratch("cwd");
        write_skill(&dir, "hello-skill", HELLO);
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let outside = scratch("cwd-outside");
        write_skill(&outside, "evil", HELLO);
        std::os::unix::fs::symlink(outside.join("evil"), dir.join("evil")).unwrap();
        let node = "ab12";
        let real = std::fs::canonicalize(dir.join("hello-skill")).unwrap();
        assert_eq!(
            resolve_cwd("node://ab12/skills/hello-skill", node, &dir),
            Ok(Some(real))
        );
        assert_eq!(resolve_cwd("/tmp", node, &dir), Ok(None));
        let invalid = "Error: INVALID_REQUEST: node skill cwd locator is invalid for this node";
        let unavailable = "Error: INVALID_REQUEST: node skill cwd locator is unavailable";
        for (cwd, want) in [
            ("node://other/skills/hello-skill", invalid),
            ("node://ab12/skills/../x", invalid),
            ("node://ab12/skills/", invalid),
            ("node://ab12/skills/missing", unavailable),
            ("node://ab12/skills/empty", unavailable),
            ("node://ab12/skills/evil", unavailable),
        ] {
            assert_eq!(resolve_cwd(cwd, node, &dir), Err(want.to_string()), "{cwd}");
        }
        assert_eq!(encode_uri_component("a b/é"), "a%20b%2F%C3%A9");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&outside);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_watcher_reports_changes_without_polling() {
        let state = scratch("watch");
        let dir = skills_dir(&state);
        let (tx, rx) = crossbeam_channel::unbounded();
        watch(dir.clone(), move || {
            let _ = tx.send(());
        })
        .unwrap();
        let wait = std::time::Duration::from_secs(5);
        // The directory appears, then a skill in it, then the skill is edited.
        std::fs::create_dir_all(&dir).unwrap();
        rx.recv_timeout(wait).expect("no event for the new skills dir");
        write_skill(&dir, "hello-skill", HELLO);
        rx.recv_timeout(wait).expect("no event for the new skill");
        while rx.recv_timeout(std::time::Duration::from_millis(200)).is_ok() {}
        std::fs::write(dir.join("hello-skill/SKILL.md"), format!("{HELLO}more\n")).unwrap();
        rx.recv_timeout(wait).expect("no event for the edit");
        assert_eq!(scan(&dir)[0].content, format!("{HELLO}more\n"));
        let _ = std::fs::remove_dir_all(&state);
    }
}
