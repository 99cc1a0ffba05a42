//! The browser control routes (spec §5): an HTTP-shaped request `{method, path, query, body}`
//! in, a JSON body (or a [`RouteError`]) out, like the TS node's in-process route dispatcher.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::act::{self, bool_of, text_of, timeout_ms, Actor};
use super::budget::{Budget, Interrupt};
use super::envelope::Artifact;
use super::error::{RouteError, RouteResult};
use super::instance::Instance;
use super::launcher;
use super::navguard::percent_decode;
use super::page::{on_action_timeout, Page, PageSession, DEFAULT_ARM_TIMEOUT};
use super::profile::{self, not_running, LaunchOptions, Profile, Tab};
use super::settings::Settings;
use super::snapshot::{self, RoleOptions};
use crate::random::uuid_v4;

mod actions;
mod capture;
mod inspect;
mod lifecycle;
mod tabs;
#[cfg(test)]
mod tests;

use actions::*;
use capture::*;
use inspect::*;
use lifecycle::*;
use tabs::*;

/// A request for one route. Query values are strings (the proxy stringifies them).
#[derive(Debug, Clone)]
pub struct Request {
    pub query: Map<String, Value>,
    pub body: Value,
}

/// A route's JSON body and any files it made in memory.
#[derive(Debug, Default)]
pub struct Output {
    pub body: Value,
    pub artifacts: Vec<Artifact>,
}

impl Output {
    fn json(body: Value) -> RouteResult<Output> {
        Ok(Output {
            body,
            artifacts: Vec::new(),
        })
    }
}

/// What a route runs with.
pub struct Env<'a> {
    pub settings: &'a Settings,
    pub profiles: &'a [Arc<Profile>],
    /// The resolved profile; `None` only for `/profiles`.
    pub profile: Option<&'a Profile>,
    pub budget: &'a Budget,
    pub launch: &'a LaunchOptions,
    /// Directory screenshots are named under (never written: see [`Artifact`]).
    pub media_dir: &'a Path,
}

/// Which route a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Status,
    Start,
    Stop,
    Profiles,
    Tabs,
    TabsOpen,
    TabsFocus,
    TabsClose(String),
    Snapshot,
    Act,
    Screenshot,
    Navigate,
    HooksDialog,
    Dialogs,
    Console,
    Errors,
    Text,
    Pdf,
}

/// Matches a normalized path. `Err` carries the 400 for a bad `%`-escape in `/tabs/:id`.
pub fn match_route(method: &str, path: &str) -> Option<RouteResult<Route>> {
    let route = match (method, path) {
        ("GET", "/") => Route::Status,
        ("POST", "/start") => Route::Start,
        ("POST", "/stop") => Route::Stop,
        ("GET", "/profiles") => Route::Profiles,
        ("GET", "/tabs") => Route::Tabs,
        ("POST", "/tabs/open") => Route::TabsOpen,
        ("POST", "/tabs/focus") => Route::TabsFocus,
        ("GET", "/snapshot") => Route::Snapshot,
        ("POST", "/act") => Route::Act,
        ("POST", "/screenshot") => Route::Screenshot,
        ("POST", "/navigate") => Route::Navigate,
        ("POST", "/hooks/dialog") => Route::HooksDialog,
        ("GET", "/dialogs") => Route::Dialogs,
        ("GET", "/console") => Route::Console,
        ("GET", "/errors") => Route::Errors,
        ("GET", "/text") => Route::Text,
        ("POST", "/pdf") => Route::Pdf,
        ("DELETE", _) => {
            let segment = path
                .strip_prefix("/tabs/")
                .filter(|s| !s.is_empty() && !s.contains('/'))?;
            return Some(
                percent_decode(segment)
                    .map(Route::TabsClose)
                    .ok_or_else(|| {
                        RouteError::new(400, "invalid path parameter encoding: targetId")
                    }),
            );
        }
        _ => return None,
    };
    Some(Ok(route))
}

/// Runs a matched route.
pub fn run(env: &Env, route: Route, request: &Request) -> RouteResult<Output> {
    let body = match &request.body {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let query = &request.query;
    let profile = match (&route, env.profile) {
        (Route::Profiles, _) => return profiles(env),
        (_, Some(profile)) => profile,
        (_, None) => return Err(RouteError::internal("no browser profile resolved")),
    };
    match route {
        Route::Status => Output::json(status(env, profile)),
        Route::Start => start(env, profile, query),
        Route::Stop => {
            let stopped = profile.stop(env.budget)?;
            Output::json(json!({ "ok": true, "stopped": stopped, "profile": profile.name() }))
        }
        Route::Tabs => tabs(env, profile),
        Route::TabsOpen => open_tab(env, profile, &body),
        Route::TabsFocus => focus_tab(env, profile, &body),
        Route::TabsClose(target) => close_tab(env, profile, &target, query),
        Route::Snapshot => snapshot(env, profile, query),
        Route::Act => act_route(env, profile, &body),
        Route::Screenshot => screenshot(env, profile, &body),
        Route::Navigate => navigate(env, profile, &body),
        Route::HooksDialog => hooks_dialog(env, profile, &body),
        Route::Dialogs => dialogs(env, profile, query),
        Route::Console => {
            let level = Some(text_of(query.get("level"))).filter(|l| !l.is_empty());
            observed(
                env,
                profile,
                query,
                |page| json!(page.console_messages(level.as_deref())),
                "messages",
            )
        }
        Route::Errors => {
            let clear = bool_of(query.get("clear")).unwrap_or(false);
            observed(
                env,
                profile,
                query,
                |page| json!(page.page_errors(clear)),
                "errors",
            )
        }
        Route::Text => page_text(env, profile, query),
        Route::Pdf => pdf(env, profile, &body),
        Route::Profiles => profiles(env),
    }
}
