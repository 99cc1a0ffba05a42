//! One browser profile: its settings, the browser it runs (started on demand, restarted after
//! a crash), and its tab aliases (`t1`, `t2`, … and labels), which outlive browser restarts
//! like the TS node's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::budget::{Budget, Gate};
use super::cdp::lock;
use super::error::{RouteError, RouteResult};
use super::instance::{Instance, TargetInfo};
use super::launcher::{self, LaunchSpec};
use super::navguard::NavigationPolicy;
use super::settings::ProfileSettings;

/// Chromium needs at most a few seconds; TS polls for about 15 s.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(15);

/// A page tab as the routes show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    pub target: TargetInfo,
    pub tab_id: String,
    pub label: Option<String>,
}

impl Tab {
    pub fn target_id(&self) -> &str {
        &self.target.target_id
    }
    pub fn suggested_target_id(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.tab_id)
    }
}

#[derive(Default)]
struct TabRegistry {
    next_index: u64,
    aliases: HashMap<String, u64>,
    labels: HashMap<String, String>,
    last_target: Option<String>,
}

impl TabRegistry {
    fn alias(&mut self, target_id: &str) -> String {
        let next = &mut self.next_index;
        let index = *self
            .aliases
            .entry(target_id.to_string())
            .or_insert_with(|| {
                *next += 1;
                *next
            });
        format!("t{index}")
    }
}

/// What launching needs from the request (the node's secrets must not reach Chromium).
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    pub remove_env: Vec<String>,
    pub headless: Option<bool>,
}

/// A profile and its browser.
pub struct Profile {
    pub settings: ProfileSettings,
    /// `browser.ssrfPolicy`, which every request of this profile's pages is vetted by.
    navigation: NavigationPolicy,
    user_data_dir: PathBuf,
    xdg_dir: PathBuf,
    lifecycle: Gate,
    instance: Mutex<Option<Arc<Instance>>>,
    registry: Mutex<TabRegistry>,
}

/// The 409 for tab routes that name a tab while the browser is down.
pub fn not_running(profile: &str) -> RouteError {
    RouteError::new(
        409,
        format!("Browser profile \"{profile}\" is not running. Start the browser or open a new tab, then select a current target."),
    )
}

impl Profile {
    pub fn new(
        settings: ProfileSettings,
        base_dir: &std::path::Path,
        navigation: NavigationPolicy,
    ) -> Profile {
        Profile {
            navigation,
            user_data_dir: base_dir.join(&settings.name).join("user-data"),
            xdg_dir: base_dir.join(".chromium"),
            settings,
            lifecycle: Gate::default(),
            instance: Mutex::new(None),
            registry: Mutex::new(TabRegistry::default()),
        }
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The live browser, if any. A browser found dead is reported, cleaned up (process reaped,
    /// sessions dropped) and forgotten, so the next request can start a new one.
    pub fn running(&self) -> Option<Arc<Instance>> {
        let mut slot = lock(&self.instance);
        let instance = slot.as_ref()?;
        if instance.is_alive() {
            return Some(Arc::clone(instance));
        }
        let dead = slot.take()?;
        drop(slot);
        log::warn!(
            "browser for profile {:?} is gone ({}); it will be started again on the next request",
            self.name(),
            dead.exit_report()
        );
        dead.shutdown();
        lock(&self.registry).last_target = None;
        None
    }

    /// The running browser, starting (or attaching to) one if needed.
    pub fn ensure_running(
        &self,
        budget: &Budget,
        options: &LaunchOptions,
    ) -> RouteResult<Arc<Instance>> {
        if let Some(instance) = self.running() {
            return Ok(instance);
        }
        let _starting = self.lifecycle.acquire(budget)?;
        if let Some(instance) = self.running() {
            return Ok(instance);
        }
        let instance = if self.settings.attaches() {
            let url = self.settings.attach_url();
            Instance::attach(&url, &self.navigation, budget).map_err(|err| {
                budget.check().err().map(RouteError::from).unwrap_or_else(|| {
                    RouteError::internal(format!(
                        "Browser profile \"{}\" is attach-only and its browser at {url} is not reachable: {err}",
                        self.name()
                    ))
                })
            })?
        } else {
            self.launch(budget, options)?
        };
        let instance = Arc::new(instance);
        *lock(&self.instance) = Some(Arc::clone(&instance));
        log::info!(
            "browser for profile {:?} is running ({})",
            self.name(),
            instance.ws_url
        );
        Ok(instance)
    }

    fn launch(&self, budget: &Budget, options: &LaunchOptions) -> RouteResult<Instance> {
        let executable = self.settings.executable.as_ref().ok_or_else(|| {
            RouteError::internal("No supported browser found (Chrome/Brave/Edge/Chromium on macOS, Linux, or Windows).")
        })?;
        let headless = options.headless.unwrap_or(self.settings.headless);
        if !headless && !self.settings.has_display {
            return Err(RouteError::internal(format!(
                "Cannot start browser profile \"{}\" headed: neither DISPLAY nor WAYLAND_DISPLAY is set. Set browser.headless to true (the default) in openclaw.json, or start with headless=true.",
                self.name()
            )));
        }
        let spec = LaunchSpec {
            executable: executable.path.clone(),
            user_data_dir: self.user_data_dir.clone(),
            xdg_dir: self.xdg_dir.clone(),
            port: self.settings.cdp_port.unwrap_or(0),
            headless,
            no_sandbox: self.settings.no_sandbox,
            extra_args: self.settings.extra_args.clone(),
            remove_env: options.remove_env.clone(),
        };
        let deadline = budget.deadline().min(Instant::now() + LAUNCH_TIMEOUT);
        let launched =
            launcher::launch(&spec, deadline, budget.cancel_token()).map_err(|reason| {
                if let Err(interrupt) = budget.check() {
                    return RouteError::from(interrupt);
                }
                if reason.contains("profile lock") {
                    return RouteError::internal(format!(
                        "Cannot start browser profile \"{}\": {reason}",
                        self.name()
                    ));
                }
                match self.settings.cdp_port {
                    Some(port) => RouteError::internal(format!(
                        "Failed to start Chrome CDP on port {port} for profile \"{}\". {reason}",
                        self.name()
                    )),
                    None => RouteError::internal(format!(
                        "Failed to start Chromium for profile \"{}\". {reason}",
                        self.name()
                    )),
                }
            })?;
        Instance::from_launch(
            launched,
            headless,
            self.user_data_dir.clone(),
            &self.navigation,
            budget,
        )
        .map_err(
            |reason| {
                RouteError::internal(format!(
                    "Failed to connect to Chromium for profile \"{}\": {reason}",
                    self.name()
                ))
            },
        )
    }

    /// Stops the browser (or disconnects from an attached one). True when one was running.
    pub fn stop(&self, budget: &Budget) -> RouteResult<bool> {
        let _stopping = self.lifecycle.acquire(budget)?;
        let instance = lock(&self.instance).take();
        lock(&self.registry).last_target = None;
        match instance {
            Some(instance) => {
                instance.shutdown();
                log::info!("browser for profile {:?} stopped", self.name());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Stops the browser without a request budget (node shutdown).
    pub fn shutdown(&self) {
        if let Some(instance) = lock(&self.instance).take() {
            instance.shutdown();
        }
    }

    /// The browser's page tabs with their aliases, assigning `t<N>` to tabs seen first.
    pub fn tabs(&self, instance: &Instance, budget: &Budget) -> RouteResult<Vec<Tab>> {
        let targets = instance.page_targets(budget)?;
        instance.forget_missing(&targets);
        let mut registry = lock(&self.registry);
        if registry
            .last_target
            .as_ref()
            .is_some_and(|last| !targets.iter().any(|t| &t.target_id == last))
        {
            registry.last_target = None;
        }
        registry
            .labels
            .retain(|id, _| targets.iter().any(|t| &t.target_id == id));
        Ok(targets
            .into_iter()
            .map(|target| Tab {
                tab_id: registry.alias(&target.target_id),
                label: registry.labels.get(&target.target_id).cloned(),
                target,
            })
            .collect())
    }

    /// Gives `label` to a tab, taking it from any other tab (labels are unique).
    pub fn set_label(&self, target_id: &str, label: &str) {
        let mut registry = lock(&self.registry);
        registry.labels.retain(|_, l| l != label);
        registry
            .labels
            .insert(target_id.to_string(), label.to_string());
    }

    /// Makes `target_id` the default tab for requests without a `targetId`.
    pub fn remember(&self, target_id: &str) {
        lock(&self.registry).last_target = Some(target_id.to_string());
    }

    pub fn last_target(&self) -> Option<String> {
        lock(&self.registry).last_target.clone()
    }

    /// Forgets a closed tab as the default.
    pub fn forget(&self, target_id: &str) {
        let mut registry = lock(&self.registry);
        if registry.last_target.as_deref() == Some(target_id) {
            registry.last_target = None;
        }
    }
}

/// `tab label must be …` unless `label` is 1–64 of `[A-Za-z0-9_.:-]`.
pub fn validate_label(label: &str) -> RouteResult<()> {
    let ok = (1..=64).contains(&label.len())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RouteError::new(
            400,
            "tab label must be 1-64 chars and use only letters, numbers, _, ., :, or -",
        ))
    }
}

/// Resolves a tab reference (spec §5.5): an exact raw id, alias or label; else a unique
/// case-insensitive prefix of a raw id. `raw_only` (DELETE `targetIdMode=raw`) accepts exact
/// raw ids only.
pub fn resolve_tab<'a>(tabs: &'a [Tab], input: &str, raw_only: bool) -> RouteResult<&'a Tab> {
    let input = input.trim();
    let exact: Vec<&Tab> = if raw_only {
        tabs.iter().filter(|t| t.target_id() == input).collect()
    } else {
        tabs.iter()
            .filter(|t| {
                t.target_id() == input || t.tab_id == input || t.label.as_deref() == Some(input)
            })
            .collect()
    };
    match exact.len() {
        1 => return Ok(exact[0]),
        n if n > 1 => return Err(RouteError::new(409, "ambiguous browser tab reference")),
        _ => {}
    }
    if !raw_only && !input.is_empty() {
        let lower = input.to_ascii_lowercase();
        let prefixed: Vec<&Tab> = tabs
            .iter()
            .filter(|t| t.target_id().to_ascii_lowercase().starts_with(&lower))
            .collect();
        match prefixed.len() {
            1 => return Ok(prefixed[0]),
            n if n > 1 => return Err(RouteError::new(409, "ambiguous browser tab reference")),
            _ => {}
        }
    }
    Err(tab_not_found(input))
}

/// The 404 for a tab reference that matches nothing, with TS's hint.
pub fn tab_not_found(input: &str) -> RouteError {
    let hint = if !input.is_empty() && input.chars().all(|c| c.is_ascii_digit()) {
        " Numeric values are not tab targets; use a stable tab id like \"t1\", a label, or a raw targetId. For positional selection, use \"openclaw browser tab select <n>\"."
    } else {
        " Use action=tabs and pass suggestedTargetId, tabId, label, or raw targetId."
    };
    RouteError::new(
        404,
        format!("tab not found: browser tab \"{input}\" not found.{hint}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tab(id: &str, alias: &str, label: Option<&str>) -> Tab {
        Tab {
            target: TargetInfo {
                target_id: id.into(),
                title: String::new(),
                url: String::new(),
            },
            tab_id: alias.into(),
            label: label.map(str::to_string),
        }
    }

    fn message(err: RouteError) -> (u16, String) {
        match err {
            RouteError::Http { status, body } => {
                (status, body["error"].as_str().unwrap_or("").to_string())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tabs_resolve_by_id_alias_label_and_prefix() {
        let tabs = vec![
            tab("81F5EFAB54383DE4", "t1", None),
            tab("486B1AE1B9AB268D", "t2", Some("second")),
            tab("4A00", "t3", None),
        ];
        assert_eq!(
            resolve_tab(&tabs, "t1", false).unwrap().target_id(),
            "81F5EFAB54383DE4"
        );
        assert_eq!(
            resolve_tab(&tabs, "second", false).unwrap().target_id(),
            "486B1AE1B9AB268D"
        );
        assert_eq!(
            resolve_tab(&tabs, "81f5", false).unwrap().target_id(),
            "81F5EFAB54383DE4"
        );
        assert_eq!(message(resolve_tab(&tabs, "4", false).unwrap_err()).0, 409);
        assert_eq!(
            message(resolve_tab(&tabs, "t9", false).unwrap_err()),
            (404, "tab not found: browser tab \"t9\" not found. Use action=tabs and pass suggestedTargetId, tabId, label, or raw targetId.".into())
        );
        assert!(message(resolve_tab(&tabs, "7", false).unwrap_err())
            .1
            .contains("Numeric values are not tab targets"));
        assert_eq!(message(resolve_tab(&tabs, "t1", true).unwrap_err()).0, 404);
        assert_eq!(resolve_tab(&tabs, "4A00", true).unwrap().tab_id, "t3");
    }

    #[test]
    fn aliases_are_monotonic_and_labels_unique() {
        let mut registry = TabRegistry::default();
        assert_eq!(registry.alias("A"), "t1");
        assert_eq!(registry.alias("B"), "t2");
        assert_eq!(registry.alias("A"), "t1");
        assert!(validate_label("second").is_ok());
        assert!(validate_label("has space").is_err());
        assert!(validate_label("").is_err());
    }
}
