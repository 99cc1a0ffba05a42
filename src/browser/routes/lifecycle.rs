//! Status, start and the profile list: the routes about the browser rather than a tab.

use super::*;

fn cdp_port(profile: &Profile, instance: Option<&Instance>) -> Option<u16> {
    instance
        .and_then(|i| i.http_authority.as_deref())
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .or(profile.settings.cdp_port)
}

fn cdp_url(profile: &Profile, instance: Option<&Instance>) -> Option<String> {
    if profile.settings.attaches() {
        return Some(profile.settings.attach_url());
    }
    cdp_port(profile, instance).map(|port| format!("http://127.0.0.1:{port}"))
}

/// GET `/`: never starts the browser (spec §5.1).
pub(super) fn status(env: &Env, profile: &Profile) -> Value {
    // An attach-only profile's browser runs whether or not the node is connected to it yet;
    // connecting (not launching) tells whether it is usable.
    let instance = if profile.settings.attaches() {
        let probe = env.budget.narrow(Duration::from_millis(600));
        profile.ensure_running(&probe, env.launch).ok()
    } else {
        profile.running()
    };
    let settings = &profile.settings;
    let running = instance.is_some();
    let cdp_http = match instance.as_ref().and_then(|i| i.http_authority.clone()) {
        Some(authority) => {
            launcher::http_get_json(&authority, "/json/version", Duration::from_millis(300)).is_ok()
        }
        None => instance.is_some(),
    };
    let cdp_ready = instance
        .as_ref()
        .map(|i| {
            i.call(
                &env.budget.narrow(Duration::from_millis(600)),
                "Browser.getVersion",
                json!({}),
            )
            .is_ok()
        })
        .unwrap_or(false);
    let detected = settings.executable.as_ref();
    let launched = instance.as_ref().filter(|i| i.launched);
    json!({
        "enabled": true,
        "profile": profile.name(),
        "driver": "openclaw",
        "transport": "cdp",
        "running": running,
        "cdpReady": cdp_ready,
        "cdpHttp": cdp_http,
        "pageReady": cdp_ready,
        "pid": instance.as_ref().and_then(|i| i.pid),
        "cdpPort": cdp_port(profile, instance.as_deref()),
        "cdpUrl": cdp_url(profile, instance.as_deref()),
        "chosenBrowser": launched.and(detected).map(|d| d.kind),
        "detectedBrowser": detected.map(|d| d.kind),
        "detectedExecutablePath": detected.map(|d| d.path.display().to_string()),
        "detectError": if detected.is_none() && !settings.attaches() {
            Value::String("No supported browser found (Chrome/Brave/Edge/Chromium on macOS, Linux, or Windows).".into())
        } else {
            Value::Null
        },
        "userDataDir": launched.and_then(|i| i.user_data_dir.as_ref()).map(|d| d.display().to_string()),
        "color": settings.color,
        "headless": instance.as_ref().filter(|i| i.launched).map(|i| i.headless).unwrap_or(settings.headless),
        "headlessSource": settings.headless_source,
        "noSandbox": settings.no_sandbox,
        "executablePath": env.settings.configured_executable,
        "attachOnly": settings.attach_only,
        "graphics": Value::Null,
    })
}

pub(super) fn start(
    env: &Env,
    profile: &Profile,
    query: &Map<String, Value>,
) -> RouteResult<Output> {
    let headless = match query.get("headless") {
        None => None,
        Some(value) => match bool_of(Some(value)) {
            Some(v) => Some(v),
            None => {
                return Err(RouteError::new(
                    400,
                    "Invalid headless value. Use \"true\" or \"false\".",
                ))
            }
        },
    };
    if headless.is_some() && profile.settings.attaches() {
        return Err(RouteError::new(
            400,
            format!("Headless start override is only supported for locally launched openclaw profiles. Profile \"{}\" is attach-only, remote, or existing-session.", profile.name()),
        ));
    }
    let options = LaunchOptions {
        headless,
        ..env.launch.clone()
    };
    profile.ensure_running(env.budget, &options)?;
    Output::json(json!({ "ok": true, "profile": profile.name() }))
}

pub(super) fn profiles(env: &Env) -> RouteResult<Output> {
    let list: Vec<Value> = env
        .profiles
        .iter()
        .map(|profile| {
            let instance = profile.running();
            let tab_count = instance
                .as_ref()
                .and_then(|i| {
                    i.page_targets(&env.budget.narrow(Duration::from_millis(1000)))
                        .ok()
                })
                .map(|t| t.len())
                .unwrap_or(0);
            json!({
                "name": profile.name(),
                "transport": "cdp",
                "cdpPort": cdp_port(profile, instance.as_deref()),
                "cdpUrl": cdp_url(profile, instance.as_deref()),
                "color": profile.settings.color,
                "driver": "openclaw",
                "running": instance.is_some(),
                "tabCount": tab_count,
                "isDefault": profile.name() == env.settings.default_profile,
                "isRemote": profile.settings.is_remote(),
                "reconcileReason": Value::Null,
            })
        })
        .collect();
    Output::json(json!({ "profiles": list }))
}

/// The browser for tab routes that must not launch one: attach profiles connect on demand,
/// launched profiles must already run.
pub(super) fn existing_instance(env: &Env, profile: &Profile) -> Option<Arc<Instance>> {
    if profile.settings.attaches() {
        profile.ensure_running(env.budget, env.launch).ok()
    } else {
        profile.running()
    }
}
