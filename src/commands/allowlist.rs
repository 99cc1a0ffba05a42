//! `--commands <ids>` / `--all-commands`: a chosen command surface (node-surface.md §3.3).
//!
//! As TS (`collectNodeCommandIds`, `buildNodeHostManifest`): each flag value is split on `,`,
//! entries trimmed, an empty entry refused; the union is de-duplicated and sorted; ids are exact
//! (no globs). The list is saved in the node config (`commands`) and reused when the flag is
//! omitted; `--all-commands` forgets it. The surface is the available commands in the list; an
//! id this host cannot serve is dropped, and a list that keeps nothing is an error.
//!
//! One check TS lacks: an id that is neither in this build's [`COMMANDS`](super::COMMANDS) nor
//! a command the TS node host knows is a typo, refused on the command line with the valid ids.
//! Ids TS knows but this build does not implement are kept (a saved list stays portable between
//! the two hosts) and dropped from the surface like unavailable ones.

use super::COMMANDS;

/// Node-host command ids of the TS node host (2026.9.6, its built-ins and bundled plugins) that
/// this build may not implement (node-surface.md §1.3, §2.1, §12, §16).
const TS_COMMAND_IDS: &[&str] = &[
    "agent.cli.claude.run.v1",
    "browser.proxy",
    "browser.proxy.upload.v1",
    "camera.clip",
    "camera.list",
    "camera.snap",
    "computer.act",
    "desktop.stream",
    "device.apps",
    "dir.fetch",
    "dir.list",
    "file.create",
    "file.fetch",
    "file.stat",
    "file.write",
    "fs.listDir",
    "location.get",
    "mcp.tools.call.v1",
    "ollama.chat",
    "ollama.models",
    "screen.snapshot",
    "system.execApprovals.get",
    "system.execApprovals.set",
    "system.notify",
    "system.run",
    "system.run.prepare",
    "system.which",
    "terminal.upload",
    "workspace.memory",
    "workspace.skills",
];

/// What the command line asks for the surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurfaceChoice {
    /// Neither flag: the saved list, if any.
    Saved,
    /// `--commands`: this list (sorted, de-duplicated), saved for later runs.
    Only(Vec<String>),
    /// `--all-commands`: every available command; the saved list is forgotten.
    All,
}

impl SurfaceChoice {
    /// Parses the flags: every `--commands` value, and whether `--all-commands` was given.
    pub fn from_flags(commands: &[String], all_commands: bool) -> Result<SurfaceChoice, String> {
        if all_commands && !commands.is_empty() {
            return Err("--all-commands cannot be combined with --commands".into());
        }
        if all_commands {
            return Ok(SurfaceChoice::All);
        }
        if commands.is_empty() {
            return Ok(SurfaceChoice::Saved);
        }
        let mut ids: Vec<String> = Vec::new();
        for value in commands {
            let parts: Vec<&str> = value.split(',').map(str::trim).collect();
            if parts.iter().any(|id| id.is_empty()) {
                return Err(format!(
                    "option '--commands <ids>' argument '{value}' is invalid. --commands requires \
                     comma-separated non-empty command ids"
                ));
            }
            ids.extend(parts.into_iter().map(str::to_string));
        }
        ids.sort();
        ids.dedup();
        let unknown: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| !is_known(id))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "--commands: unknown command id{} {}. Valid ids: {}",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", "),
                valid_ids().join(", ")
            ));
        }
        Ok(SurfaceChoice::Only(ids))
    }

    /// The allowlist this run uses, given the saved one: `None` for the full surface.
    pub fn resolve(&self, saved: Option<&[String]>) -> Option<Vec<String>> {
        match self {
            SurfaceChoice::Saved => saved.map(<[String]>::to_vec),
            SurfaceChoice::Only(ids) => Some(ids.clone()),
            SurfaceChoice::All => None,
        }
    }

    /// The `--commands`/`--all-commands` arguments that reproduce this choice (for a service's
    /// command line).
    pub fn to_args(&self) -> Vec<String> {
        match self {
            SurfaceChoice::Saved => Vec::new(),
            SurfaceChoice::Only(ids) => vec!["--commands".into(), ids.join(",")],
            SurfaceChoice::All => vec!["--all-commands".into()],
        }
    }
}

/// An id this build implements or the TS node host knows.
fn is_known(id: &str) -> bool {
    COMMANDS.iter().any(|command| command.name == id) || TS_COMMAND_IDS.contains(&id)
}

/// Every id `--commands` takes, sorted.
pub fn valid_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = COMMANDS
        .iter()
        .map(|command| command.name)
        .chain(TS_COMMAND_IDS.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// TS's error when an allowlist keeps no available command (`prepareNodeHostRuntime`).
pub fn nothing_retained(allowlist: &[String]) -> String {
    let requested = if allowlist.is_empty() {
        "(empty allowlist)".to_string()
    } else {
        allowlist.join(", ")
    };
    format!(
        "Node command allowlist retained no available commands. Unknown or unavailable ids: \
         {requested}. Check --commands and enable the plugin that provides each command."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn values_are_split_trimmed_deduplicated_and_sorted() {
        assert_eq!(
            SurfaceChoice::from_flags(&flags(&["system.which, system.run", "system.which"]), false),
            Ok(SurfaceChoice::Only(flags(&["system.run", "system.which"])))
        );
        assert_eq!(
            SurfaceChoice::from_flags(&[], false),
            Ok(SurfaceChoice::Saved)
        );
        assert_eq!(SurfaceChoice::from_flags(&[], true), Ok(SurfaceChoice::All));
    }

    #[test]
    fn empty_entries_conflicts_and_typos_are_refused_with_ts_texts() {
        assert_eq!(
            SurfaceChoice::from_flags(&flags(&["a,,b"]), false).unwrap_err(),
            "option '--commands <ids>' argument 'a,,b' is invalid. --commands requires \
             comma-separated non-empty command ids"
        );
        assert_eq!(
            SurfaceChoice::from_flags(&flags(&["system.which"]), true).unwrap_err(),
            "--all-commands cannot be combined with --commands"
        );
        let typo = SurfaceChoice::from_flags(&flags(&["system.whihc"]), false).unwrap_err();
        assert!(typo.starts_with("--commands: unknown command id system.whihc. Valid ids: "));
        assert!(typo.contains("system.which"), "{typo}");
        // No globs.
        assert!(SurfaceChoice::from_flags(&flags(&["system.*"]), false).is_err());
    }

    #[test]
    fn ids_ts_knows_are_accepted_even_if_this_build_lacks_them() {
        assert_eq!(
            SurfaceChoice::from_flags(&flags(&["desktop.stream"]), false),
            Ok(SurfaceChoice::Only(flags(&["desktop.stream"])))
        );
        assert!(valid_ids().contains(&"system.run"));
    }

    #[test]
    fn the_saved_list_is_reused_replaced_or_forgotten() {
        let saved = flags(&["system.which"]);
        assert_eq!(SurfaceChoice::Saved.resolve(Some(&saved)), Some(saved.clone()));
        assert_eq!(SurfaceChoice::Saved.resolve(None), None);
        assert_eq!(SurfaceChoice::All.resolve(Some(&saved)), None);
        assert_eq!(
            SurfaceChoice::Only(flags(&["system.run"])).resolve(Some(&saved)),
            Some(flags(&["system.run"]))
        );
        assert_eq!(
            SurfaceChoice::Only(flags(&["a.b", "c.d"])).to_args(),
            ["--commands", "a.b,c.d"]
        );
        assert_eq!(
            nothing_retained(&flags(&["desktop.stream"])),
            "Node command allowlist retained no available commands. Unknown or unavailable ids: \
             desktop.stream. Check --commands and enable the plugin that provides each command."
        );
    }
}
