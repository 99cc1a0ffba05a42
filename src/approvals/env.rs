//! The child's environment (protocol §5.1, env handling).
//!
//! 1. Override validation on `params.env`: keys must be portable names; `PATH`, the blocked
//!    lists, the blocked prefixes and `CARGO_TARGET_*_{LINKER,RUNNER}` are rejected, and any
//!    rejection fails the whole request with the exact TS message.
//! 2. Shell wrappers (`sh -c ...`) only keep locale/terminal overrides.
//! 3. The child env is the node's environment minus the blocked-inherited keys, plus the
//!    accepted overrides, plus `OPENCLAW_CLI=1`.
//! 4. Beyond the TS host (which passes its own `OPENCLAW_GATEWAY_TOKEN` to children): the node's
//!    own credentials never reach a child: whatever [`crate::secrets::Secrets`] withholds (the
//!    secret names, and any value holding a secret value) is removed, whether inherited or
//!    passed as an override.
//! 5. Under Windows rules ([`Platform`]) keys compare case-insensitively (`Path` is `PATH`),
//!    PATH splits on `;`, and overrides of `PATHEXT` and `ComSpec` are refused too (with `PATH`,
//!    `SystemRoot` and `WINDIR`, which every platform refuses); the TS host leaves those two
//!    open.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use crate::platform::executable_search::path_dirs;
use crate::platform::Platform;
use crate::secrets::Secrets;

/// Overrides refused under Windows rules beyond the lists: what decides which file a command
/// name runs (`PATHEXT`) and which shell runs `.cmd` files (`ComSpec`).
const WINDOWS_REFUSED_OVERRIDES: &[&str] = &["PATHEXT", "COMSPEC"];

const BLOCKED_EVERYWHERE: &[&str] = &[
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_REDIRECT_WARNINGS",
    "NODE_REPL_EXTERNAL_MODULE",
    "NODE_REPL_HISTORY",
    "NODE_V8_COVERAGE",
    "PYTHONHOME",
    "PYTHONPATH",
    "PERL5LIB",
    "PERL5OPT",
    "RUBYLIB",
    "RUBYOPT",
    "BASHOPTS",
    "BASH_ENV",
    "ENV",
    "KSH_ENV",
    "BROWSER",
    "GIT_ALLOW_PROTOCOL",
    "GIT_EDITOR",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_EXEC_PATH",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PROTOCOL_FROM_USER",
    "GIT_SEQUENCE_EDITOR",
    "GIT_TEMPLATE_DIR",
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "CC",
    "CPP",
    "CXX",
    "CXXCPP",
    "CARGO_BUILD_RUSTC",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTDOC",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTDOC",
    "CMAKE_C_COMPILER",
    "CMAKE_CXX_COMPILER",
    "SHELL",
    "SHELLOPTS",
    "PS4",
    "GCONV_PATH",
    "IFS",
    "SSLKEYLOGFILE",
    "JAVA_OPTS",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "PYTHONBREAKPOINT",
    "DOTNET_STARTUP_HOOKS",
    "DOTNET_ADDITIONAL_DEPS",
    "FPATH",
    "GLIBC_TUNABLES",
    "MAVEN_OPTS",
    "MAKE",
    "MAKEFLAGS",
    "MFLAGS",
    "SBT_OPTS",
    "GRADLE_OPTS",
    "ANT_OPTS",
    "HGRCPATH",
    "HGEDITOR",
    "HGMERGE",
    "EXINIT",
    "VIMINIT",
    "MYVIMRC",
    "GVIMINIT",
    "LUA_INIT",
    "LUA_INIT_5_1",
    "LUA_INIT_5_2",
    "LUA_INIT_5_3",
    "LUA_INIT_5_4",
    "EMACSLOADPATH",
    "RUBYSHELL",
    "GIT_HOOK_PATH",
    "SVN_EDITOR",
    "SVN_SSH",
    "BZR_EDITOR",
    "BZR_SSH",
    "BZR_PLUGIN_PATH",
    "SUDO_ASKPASS",
    "JULIA_EDITOR",
    "CONFIG_SITE",
    "CONFIG_SHELL",
    "CMAKE_TOOLCHAIN_FILE",
    "CATALINA_OPTS",
    "CORECLR_PROFILER",
    "HELM_PLUGINS",
    "PACKER_PLUGIN_PATH",
    "VAGRANT_VAGRANTFILE",
    "ERL_AFLAGS",
    "ERL_FLAGS",
    "ERL_ZFLAGS",
    "ELIXIR_ERL_OPTIONS",
    "R_ENVIRON",
    "R_PROFILE",
    "R_ENVIRON_USER",
    "R_PROFILE_USER",
    "TCLLIBPATH",
    "HOSTALIASES",
];

const BLOCKED_OVERRIDE_ONLY: &[&str] = &[
    "HOME",
    "GRADLE_USER_HOME",
    "ZDOTDIR",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_PROXY_COMMAND",
    "GIT_ASKPASS",
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSH_ASKPASS",
    "LESSOPEN",
    "LESSCLOSE",
    "PAGER",
    "MANPAGER",
    "GIT_PAGER",
    "EDITOR",
    "VISUAL",
    "FCEDIT",
    "SUDO_EDITOR",
    "PROMPT_COMMAND",
    "HISTFILE",
    "PERL5DB",
    "PERL5DBCMD",
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "PYTHONSTARTUP",
    "WGETRC",
    "CURL_HOME",
    "CLASSPATH",
    "CFLAGS",
    "CGO_CFLAGS",
    "CGO_LDFLAGS",
    "GOFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CORECLR_PROFILER_PATH",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "DENO_DIR",
    "BUN_CONFIG_REGISTRY",
    "YARN_RC_FILENAME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "PIP_INDEX_URL",
    "PIP_PYPI_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONFIG_FILE",
    "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_PYTHON",
    "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "DOCKER_CONTEXT",
    "LIBRARY_PATH",
    "LDFLAGS",
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "GOPROXY",
    "GONOSUMCHECK",
    "GONOSUMDB",
    "GONOPROXY",
    "GOPRIVATE",
    "GOENV",
    "GOPATH",
    "HGRCPATH",
    "PYTHONUSERBASE",
    "RUSTC_WRAPPER",
    "RUSTFLAGS",
    "RUSTUP_DIST_ROOT",
    "RUSTUP_DIST_SERVER",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTUP_UPDATE_ROOT",
    "CARGO_HOME",
    "VIRTUAL_ENV",
    "LUA_PATH",
    "LUA_CPATH",
    "GEM_HOME",
    "GEM_PATH",
    "BUNDLE_GEMFILE",
    "COMPOSER_HOME",
    "CONDA_DEFAULT_ENV",
    "CONDA_PREFIX",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_CONFIG_HOME",
    "XDG_DATA_DIRS",
    "XDG_DATA_HOME",
    "XDG_RUNTIME_DIR",
    "XDG_STATE_HOME",
    "AWS_CONFIG_FILE",
    "KUBECONFIG",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AZURE_AUTH_LOCATION",
    "HELM_HOME",
    "ANSIBLE_CONFIG",
    "ANSIBLE_LIBRARY",
    "ANSIBLE_CALLBACK_PLUGINS",
    "ANSIBLE_COLLECTIONS_PATH",
    "ANSIBLE_CONNECTION_PLUGINS",
    "ANSIBLE_FILTER_PLUGINS",
    "ANSIBLE_INVENTORY_PLUGINS",
    "ANSIBLE_LOOKUP_PLUGINS",
    "ANSIBLE_MODULE_UTILS",
    "ANSIBLE_REMOTE_TEMP",
    "ANSIBLE_ROLES_PATH",
    "ANSIBLE_STRATEGY_PLUGINS",
    "R_LIBS_USER",
    "TF_CLI_CONFIG_FILE",
    "TF_PLUGIN_CACHE_DIR",
    "AMQP_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECURITY_TOKEN",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "DATABASE_URL",
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GITLAB_TOKEN",
    "MONGODB_URI",
    "NODE_AUTH_TOKEN",
    "NPM_TOKEN",
    "REDIS_URL",
    "SSH_AUTH_SOCK",
    "SYSTEMROOT",
    "WINDIR",
];

const ALLOWED_INHERITED_OVERRIDE_ONLY: &[&str] = &[
    "ALL_PROXY",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AZURE_AUTH_LOCATION",
    "CURL_CA_BUNDLE",
    "DOCKER_CERT_PATH",
    "DOCKER_CONTEXT",
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "GIT_PAGER",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GRADLE_USER_HOME",
    "HISTFILE",
    "HOME",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "KUBECONFIG",
    "MANPAGER",
    "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NO_PROXY",
    "PAGER",
    "REQUESTS_CA_BUNDLE",
    "RUSTUP_DIST_ROOT",
    "RUSTUP_DIST_SERVER",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTUP_UPDATE_ROOT",
    "SSH_AUTH_SOCK",
    "SSL_CERT_DIR",
    "SSL_CERT_FILE",
    "SYSTEMROOT",
    "WINDIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_CONFIG_HOME",
    "XDG_DATA_DIRS",
    "XDG_DATA_HOME",
    "XDG_RUNTIME_DIR",
    "XDG_STATE_HOME",
    "ZDOTDIR",
];

/// Beyond the TS host: overrides that make a tool load or run code, which the lists above miss
/// (`RUSTFLAGS` is blocked, so its cargo spellings must be too). Refused as overrides only:
/// the node's own environment, which its admin set, is passed on as before.
const BLOCKED_OVERRIDE_CODE_LOADING: &[&str] = &[
    // cargo/rustc: flags (`-C linker=`, `-Z` plugins), the compiler and its wrappers.
    "CARGO",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_RUSTDOCFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC_BOOTSTRAP",
    "RUSTC_LINKER",
    // perl, python: library paths, warning categories (imported), interactive hooks.
    "PERLLIB",
    "PYTHONWARNINGS",
    "PYTHONINSPECT",
    "PYTHONEXECUTABLE",
    // make reads extra makefiles and flags (`--eval`) from the environment.
    "MAKEFILES",
    "GNUMAKEFLAGS",
    // gawk: program search path and extension (.so) path.
    "AWKPATH",
    "AWKLIBPATH",
    // glibc/openssl: locale and message catalogues (format strings), provider modules.
    "LOCPATH",
    "NLSPATH",
    "OPENSSL_MODULES",
    // go: the toolchain it downloads and runs, and where its tools come from.
    "GOTOOLCHAIN",
    "GOROOT",
    "GIT_CONFIG",
    "JULIA_LOAD_PATH",
    "ELECTRON_RUN_AS_NODE",
    "PKG_CONFIG_PATH",
    // shell behaviour the analyser does not model: where `cd` goes, which globs match.
    "CDPATH",
    "GLOBIGNORE",
];

/// Override prefixes for cargo's config-by-environment (`CARGO_BUILD_RUSTC`,
/// `CARGO_HOST_LINKER`, `CARGO_ALIAS_*`, `CARGO_PROFILE_*_RUSTFLAGS`, ...).
const BLOCKED_OVERRIDE_CODE_PREFIXES: &[&str] = &[
    "CARGO_BUILD_",
    "CARGO_ENCODED_",
    "CARGO_HOST_",
    "CARGO_ALIAS_",
    "CARGO_PROFILE_",
    "CARGO_UNSTABLE_",
];

const BLOCKED_PREFIXES: &[&str] = &["DYLD_", "LD_", "BASH_FUNC_"];
const BLOCKED_OVERRIDE_PREFIXES: &[&str] =
    &["GIT_CONFIG_", "NPM_CONFIG_", "CARGO_REGISTRIES_", "TF_VAR_"];
const SHELL_WRAPPER_ALLOWED_KEYS: &[&str] = &[
    "TERM",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "OPENCLAW_SUBAGENT_EXEC",
];

fn is_portable_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_windows_compat_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '(' || c == ')')
}

fn is_cargo_target_executable_key(upper: &str) -> bool {
    let Some(rest) = upper.strip_prefix("CARGO_TARGET_") else {
        return false;
    };
    for suffix in ["_LINKER", "_RUNNER", "_RUSTFLAGS", "_RUSTDOCFLAGS"] {
        if let Some(middle) = rest.strip_suffix(suffix) {
            if !middle.is_empty()
                && middle
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                return true;
            }
        }
    }
    false
}

/// The name lists as sets, built once. Every `system.run` checks each variable of the node's
/// environment against them; scanning ~270 names per variable cost more than the rest of the
/// environment handling.
struct NameSets {
    everywhere: HashSet<&'static str>,
    override_only: HashSet<&'static str>,
    allowed_inherited: HashSet<&'static str>,
}

fn name_sets() -> &'static NameSets {
    static SETS: OnceLock<NameSets> = OnceLock::new();
    SETS.get_or_init(|| NameSets {
        everywhere: BLOCKED_EVERYWHERE.iter().copied().collect(),
        override_only: BLOCKED_OVERRIDE_ONLY.iter().copied().collect(),
        allowed_inherited: ALLOWED_INHERITED_OVERRIDE_ONLY.iter().copied().collect(),
    })
}

/// Keys an override may not set (beyond `PATH`).
pub fn is_blocked_override_key(upper: &str) -> bool {
    let sets = name_sets();
    sets.everywhere.contains(upper)
        || BLOCKED_PREFIXES.iter().any(|p| upper.starts_with(p))
        || sets.override_only.contains(upper)
        || is_cargo_target_executable_key(upper)
        || BLOCKED_OVERRIDE_PREFIXES
            .iter()
            .any(|p| upper.starts_with(p))
        || BLOCKED_OVERRIDE_CODE_LOADING.contains(&upper)
        || BLOCKED_OVERRIDE_CODE_PREFIXES
            .iter()
            .any(|p| upper.starts_with(p))
}

/// The locale keys whose charset decides how a shell splits bytes into characters.
fn is_locale_key(upper: &str) -> bool {
    upper == "LANG" || upper.starts_with("LC_")
}

/// True when a locale value names UTF-8 (or no charset beyond ASCII: `C`, `POSIX`, empty).
/// `zh_CN.GBK`, `ja_JP.SJIS`, `zh_TW.Big5` or a bare `zh_CN` (whose default charset is not
/// UTF-8) are not: in those multibyte charsets a second byte can be `\\`, `'` or `` ` ``, so
/// bash reads a payload differently from the analyser, which reads UTF-8.
fn is_utf8_locale(value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() || value == "C" || value == "POSIX" {
        return true;
    }
    let without_modifier = value.split('@').next().unwrap_or(value);
    without_modifier
        .split_once('.')
        .is_some_and(|(_, charset)| {
            let charset = charset.to_ascii_lowercase().replace('-', "");
            charset == "utf8"
        })
}

/// A locale value that names a file instead of a locale: glibc and gettext take a name with
/// a `/` as a path (`LC_ALL=/x/y`, `LANGUAGE=../../x`), so the charset, or the message
/// catalogue whose format strings the program prints with, is whatever that file says.
fn is_locale_path(value: &str) -> bool {
    value.contains('/')
}

/// Allowlist mode: the refusal of the first locale override that is not a plain UTF-8 locale
/// name (a non-UTF-8 charset, or a path in `LANG`, `LC_*` or `LANGUAGE`), if any.
pub fn locale_override_refusal(overrides: &[(String, String)]) -> Option<String> {
    overrides.iter().find_map(|(key, value)| {
        let upper = key.to_uppercase();
        let assignment = format!("{key}={value}");
        if (is_locale_key(&upper) || upper == "LANGUAGE") && is_locale_path(value) {
            return Some(format!(
                "SYSTEM_RUN_DENIED: environment override rejected (locale path in allowlist mode: {assignment}; name a locale such as C.UTF-8)"
            ));
        }
        (is_locale_key(&upper) && !is_utf8_locale(value)).then(|| msg_non_utf8_locale(&assignment))
    })
}

/// The refusal of a non-UTF-8 locale override in allowlist mode.
fn msg_non_utf8_locale(assignment: &str) -> String {
    format!(
        "SYSTEM_RUN_DENIED: environment override rejected (non-UTF-8 locale in allowlist mode: {assignment})"
    )
}

/// What an approved plan records of `params.env`: a digest of the accepted overrides (sorted
/// by key), `None` when there are none. A run whose overrides differ from its plan's is not
/// the run that was approved.
pub fn overrides_digest(overrides: &[(String, String)]) -> Option<String> {
    if overrides.is_empty() {
        return None;
    }
    let mut sorted: Vec<&(String, String)> = overrides.iter().collect();
    sorted.sort();
    let canonical = serde_json::to_string(&sorted).unwrap_or_default();
    Some(crate::digest::sha256_hex(canonical.as_bytes()))
}

/// The child's PATH: the node's PATH without relative or empty entries, which the policy
/// never resolves through (see [`super::resolve`]) and which would make the child's own
/// lookups (`env x`, a script's `x`) find files in its cwd.
/// Under `platform`'s rules: `;` and drive paths on Windows.
pub fn absolute_path_entries_on(platform: Platform, path_env: &str) -> String {
    let separator = if platform.is_windows() { ";" } else { ":" };
    path_dirs(path_env, platform, true).join(separator)
}

/// TS `isDangerousHostEnvVarName` (`upper` already upper-cased): the names and prefixes
/// blocked everywhere. MCP stdio servers' configured `env` is checked against it.
pub fn is_dangerous_everywhere(upper: &str) -> bool {
    name_sets().everywhere.contains(upper) || BLOCKED_PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Inherited keys the child never sees.
pub fn is_blocked_inherited_key(key: &str) -> bool {
    let upper = key.to_uppercase();
    let sets = name_sets();
    sets.everywhere.contains(upper.as_str())
        || (sets.override_only.contains(upper.as_str())
            && !sets.allowed_inherited.contains(upper.as_str()))
        || BLOCKED_PREFIXES.iter().any(|p| upper.starts_with(p))
}

fn is_no_pager_override(upper: &str, value: &str) -> bool {
    (upper == "GIT_PAGER" || upper == "PAGER") && (value.is_empty() || value == "cat")
}

/// True when an override of `key` is refused under `platform`'s rules: `PATH` (any case), the
/// blocked lists, and on Windows `PATHEXT` and `ComSpec`.
pub fn is_refused_override_key(platform: Platform, key: &str) -> bool {
    let upper = key.trim().to_uppercase();
    upper == "PATH"
        || is_blocked_override_key(&upper)
        || (platform.is_windows() && WINDOWS_REFUSED_OVERRIDES.contains(&upper.as_str()))
}

/// [`validate_overrides_on`] under the host's rules.
pub fn validate_overrides(
    env: Option<&serde_json::Value>,
) -> Result<Vec<(String, String)>, String> {
    validate_overrides_on(Platform::HOST, env)
}

/// Validates `params.env`. Non-string values are ignored. `Ok` holds the accepted overrides in
/// request order (keys trimmed, `PAGER=cat` coerced to empty); `Err` the exact
/// `SYSTEM_RUN_DENIED: environment override rejected (...)` message.
pub fn validate_overrides_on(
    platform: Platform,
    env: Option<&serde_json::Value>,
) -> Result<Vec<(String, String)>, String> {
    let Some(serde_json::Value::Object(map)) = env else {
        return Ok(Vec::new());
    };
    let mut accepted = Vec::new();
    let mut blocked = BTreeSet::new();
    let mut invalid = BTreeSet::new();
    for (raw_key, value) in map {
        let Some(value) = value.as_str() else {
            continue;
        };
        let key = raw_key.trim();
        if key.is_empty() || !(is_portable_key(key) || is_windows_compat_key(key)) {
            invalid.insert(if key.is_empty() {
                raw_key.clone()
            } else {
                key.to_string()
            });
            continue;
        }
        let upper = key.to_uppercase();
        if upper == "PATH" {
            blocked.insert(upper);
            continue;
        }
        if is_no_pager_override(&upper, value) {
            accepted.push((key.to_string(), String::new()));
            continue;
        }
        if is_refused_override_key(platform, &upper) {
            blocked.insert(upper);
            continue;
        }
        accepted.push((key.to_string(), value.to_string()));
    }
    if blocked.is_empty() && invalid.is_empty() {
        return Ok(accepted);
    }
    Err(format!(
        "SYSTEM_RUN_DENIED: environment override rejected ({})",
        rejection_details(&blocked, &invalid)
    ))
}

fn rejection_details(blocked: &BTreeSet<String>, invalid: &BTreeSet<String>) -> String {
    let mut details = Vec::new();
    if !blocked.is_empty() {
        details.push(format!(
            "blocked override keys: {}",
            blocked.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !invalid.is_empty() {
        details.push(format!(
            "invalid non-portable override keys: {}",
            invalid.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    details.join("; ")
}

/// The `env NAME=value cmd` check: blocked names among the dispatch wrappers' assignments.
/// `Err` is the exact `command env assignment rejected` message.
pub fn validate_assignment_keys(keys: &[String]) -> Result<(), String> {
    validate_assignment_keys_on(Platform::HOST, keys)
}

/// [`validate_assignment_keys`] under `platform`'s rules.
pub fn validate_assignment_keys_on(platform: Platform, keys: &[String]) -> Result<(), String> {
    let blocked: BTreeSet<String> = keys
        .iter()
        .map(|k| k.trim().to_uppercase())
        .filter(|upper| is_refused_override_key(platform, upper))
        .collect();
    if blocked.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "SYSTEM_RUN_DENIED: command env assignment rejected (blocked env assignment keys: {})",
            blocked.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }
}

/// Shell wrappers keep only locale and terminal overrides (and the no-pager case).
pub fn reduce_for_shell_wrapper(overrides: Vec<(String, String)>) -> Vec<(String, String)> {
    overrides
        .into_iter()
        .filter(|(key, value)| {
            if !is_portable_key(key) {
                return false;
            }
            let upper = key.to_uppercase();
            is_no_pager_override(&upper, value)
                || SHELL_WRAPPER_ALLOWED_KEYS.contains(&upper.as_str())
                || upper.starts_with("LC_")
        })
        .collect()
}

fn sanitize_git_allow_protocol(value: &str) -> String {
    let trimmed = value.trim();
    trimmed
        .split(':')
        .filter(|p| ["git", "http", "https", "ssh"].contains(p))
        .collect::<Vec<_>>()
        .join(":")
}

fn is_permissive_git_protocol_from_user(value: &str) -> bool {
    let normalized = value.trim().to_lowercase();
    if ["true", "yes", "on"].contains(&normalized.as_str()) {
        return true;
    }
    let digits = normalized.strip_prefix(['+', '-']).unwrap_or(&normalized);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.chars().all(|c| c == '0')
}

/// Builds the child's complete environment from the node's (`base`), the accepted overrides and
/// the node's PATH, without what `secrets` withholds (the rule Chromium's environment goes
/// through too).
pub fn child_env(
    base: impl IntoIterator<Item = (String, String)>,
    overrides: &[(String, String)],
    path_env: &str,
    secrets: &Secrets,
) -> Vec<(String, String)> {
    child_env_on(Platform::HOST, base, overrides, path_env, secrets)
}

/// [`child_env`] under `platform`'s rules: on Windows one entry per key in any case (the
/// node's `Path` is replaced by its `PATH`, not kept beside it).
pub fn child_env_on(
    platform: Platform,
    base: impl IntoIterator<Item = (String, String)>,
    overrides: &[(String, String)],
    path_env: &str,
    secrets: &Secrets,
) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::new();
    let set = |key: String, value: String, merged: &mut Vec<(String, String)>| match merged
        .iter_mut()
        .find(|(k, _)| platform.env_key_eq(k, &key))
    {
        Some(entry) => entry.1 = value,
        None => merged.push((key, value)),
    };
    for (key, value) in base {
        let key = key.trim().to_string();
        if key.is_empty() {
            continue;
        }
        let upper = key.to_uppercase();
        if upper == "GIT_ALLOW_PROTOCOL" {
            set(key, sanitize_git_allow_protocol(&value), &mut merged);
        } else if upper == "GIT_PROTOCOL_FROM_USER" {
            let value = if is_permissive_git_protocol_from_user(&value) {
                "0".to_string()
            } else {
                value
            };
            set(key, value, &mut merged);
        } else if !is_blocked_inherited_key(&key) {
            set(key, value, &mut merged);
        }
    }
    // The node resolved bare commands with its own PATH; the child must see the same one.
    merged.retain(|(k, _)| !platform.env_key_eq(k, "PATH"));
    merged.push((
        "PATH".to_string(),
        absolute_path_entries_on(platform, path_env),
    ));
    for (key, value) in overrides {
        set(key.clone(), value.clone(), &mut merged);
    }
    set("OPENCLAW_CLI".to_string(), "1".to_string(), &mut merged);
    merged.retain(|(key, value)| !secrets.withholds(key, value));
    merged
}

/// The node process's own environment, UTF-8 entries only.
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kv(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn exact_rejection_messages_from_live_capture() {
        let err = validate_overrides(Some(
            &json!({"LD_PRELOAD": "/x.so", "PATH": "/evil", "HOME": "/h", "bad key": "1"}),
        ))
        .unwrap_err();
        assert_eq!(
            err,
            "SYSTEM_RUN_DENIED: environment override rejected (blocked override keys: HOME, LD_PRELOAD, PATH; invalid non-portable override keys: bad key)"
        );
        let err = validate_overrides(Some(
            &json!({"FOO": "bar", "PAGER": "cat", "GIT_PAGER": "less"}),
        ))
        .unwrap_err();
        assert_eq!(
            err,
            "SYSTEM_RUN_DENIED: environment override rejected (blocked override keys: GIT_PAGER)"
        );
        let err = validate_overrides(Some(&json!({" ": "x"}))).unwrap_err();
        assert_eq!(err, "SYSTEM_RUN_DENIED: environment override rejected (invalid non-portable override keys:  )");
    }

    #[test]
    fn accepted_overrides() {
        let ok = validate_overrides(Some(
            &json!({"FOO": "bar", "PAGER": "cat", "n": 1, " LANG ": "C", "X(86)": "1"}),
        ))
        .unwrap();
        assert_eq!(
            ok,
            kv(&[("FOO", "bar"), ("PAGER", ""), ("LANG", "C"), ("X(86)", "1")])
        );
        assert!(validate_overrides(Some(&json!({"CARGO_TARGET_X86_64_LINKER": "cc"}))).is_err());
        assert!(validate_overrides(Some(&json!({"GIT_CONFIG_COUNT": "1"}))).is_err());
        assert!(validate_overrides(Some(&json!({"ld_preload": "x"})))
            .unwrap_err()
            .contains("LD_PRELOAD"));
        assert_eq!(
            validate_overrides(Some(&json!("not an object"))).unwrap(),
            vec![]
        );
    }

    #[test]
    fn shell_wrapper_reduction_from_live_capture() {
        let reduced = reduce_for_shell_wrapper(kv(&[
            ("FOO", "bar"),
            ("LANG", "C"),
            ("LC_FOO", "x"),
            ("TERM", "xterm"),
            ("PAGER", ""),
        ]));
        assert_eq!(
            reduced,
            kv(&[
                ("LANG", "C"),
                ("LC_FOO", "x"),
                ("TERM", "xterm"),
                ("PAGER", "")
            ])
        );
    }

    #[test]
    fn assignment_keys() {
        assert_eq!(
            validate_assignment_keys(&["LD_PRELOAD".into(), "FOO".into(), "PATH".into()]).unwrap_err(),
            "SYSTEM_RUN_DENIED: command env assignment rejected (blocked env assignment keys: LD_PRELOAD, PATH)"
        );
        assert!(validate_assignment_keys(&["FOO".into()]).is_ok());
    }

    #[test]
    fn child_env_strips_blocked_and_secrets() {
        let names = vec!["MY_SERVICE_TOKEN".to_string()];
        let values = vec!["s3cr3t-value-123".to_string()];
        let base = kv(&[
            ("HOME", "/home/u"),
            ("LD_PRELOAD", "/x.so"),
            ("BASH_ENV", "/evil"),
            ("EDITOR", "vim"),
            ("GIT_ALLOW_PROTOCOL", "ext:https:file"),
            ("GIT_PROTOCOL_FROM_USER", "1"),
            ("OPENCLAW_GATEWAY_TOKEN", "tok"),
            ("OPENCLAW_GATEWAY_PASSWORD", "pw"),
            ("MY_SERVICE_TOKEN", "abc"),
            ("COPY", "Bearer s3cr3t-value-123"),
            ("PATH", "/ignored"),
            ("KEEP", "1"),
        ]);
        // Unix rules (`:` PATH, case-sensitive keys) whichever host runs the test.
        let env = child_env_on(
            Platform::Unix,
            base,
            &kv(&[("FOO", "bar"), ("LEAK", "s3cr3t-value-123")]),
            "/usr/bin:/bin",
            &Secrets::new(names, values),
        );
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("HOME"), Some("/home/u"));
        assert_eq!(get("LD_PRELOAD"), None);
        assert_eq!(get("BASH_ENV"), None);
        assert_eq!(get("EDITOR"), None);
        assert_eq!(get("GIT_ALLOW_PROTOCOL"), Some("https"));
        assert_eq!(get("GIT_PROTOCOL_FROM_USER"), Some("0"));
        assert_eq!(get("OPENCLAW_GATEWAY_TOKEN"), None);
        assert_eq!(get("OPENCLAW_GATEWAY_PASSWORD"), None);
        assert_eq!(get("MY_SERVICE_TOKEN"), None);
        assert_eq!(get("COPY"), None);
        assert_eq!(get("LEAK"), None);
        assert_eq!(get("PATH"), Some("/usr/bin:/bin"));
        assert_eq!(get("FOO"), Some("bar"));
        assert_eq!(get("KEEP"), Some("1"));
        assert_eq!(get("OPENCLAW_CLI"), Some("1"));
    }

    #[test]
    fn code_loading_overrides_are_refused() {
        for key in [
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_BUILD_RUSTC",
            "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
            "CARGO_HOST_LINKER",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "CARGO_PROFILE_DEV_RUSTFLAGS",
            "CARGO_ALIAS_B",
            "cargo_encoded_rustflags",
            "RUSTFLAGS",
            "RUSTDOCFLAGS",
            "RUSTC_WRAPPER",
            "PERLLIB",
            "PYTHONWARNINGS",
            "MAKEFILES",
            "AWKLIBPATH",
            "OPENSSL_MODULES",
            "GOTOOLCHAIN",
            "LOCPATH",
            "CDPATH",
        ] {
            let err = validate_overrides(Some(&json!({ key: "x" }))).unwrap_err();
            assert!(err.contains("blocked override keys"), "{key}: {err}");
        }
        // Cargo's harmless settings still pass.
        assert!(validate_overrides(Some(&json!({"CARGO_TARGET_DIR": "/tmp/t", "CARGO_TERM_COLOR": "never"}))).is_ok());
        // The node's own environment is passed on as before.
        assert!(!is_blocked_inherited_key("CARGO_BUILD_RUSTFLAGS"));
    }

    #[test]
    fn locale_overrides_must_be_utf8_locale_names() {
        for ok in ["C", "POSIX", "", "C.UTF-8", "en_US.UTF-8", "en_US.utf8", "de_DE.UTF-8@euro"] {
            assert_eq!(locale_override_refusal(&kv(&[("LC_ALL", ok)])), None, "{ok}");
        }
        assert_eq!(locale_override_refusal(&kv(&[("LANGUAGE", "de:en")])), None);
        for bad in ["zh_CN.GBK", "zh_CN.GB18030", "zh_TW.Big5", "ja_JP.SJIS", "zh_CN", "en_US.ISO-8859-1"] {
            for key in ["LANG", "LC_ALL", "LC_CTYPE", "lc_ctype"] {
                assert_eq!(
                    locale_override_refusal(&kv(&[("TERM", "xterm"), (key, bad)])),
                    Some(format!("SYSTEM_RUN_DENIED: environment override rejected (non-UTF-8 locale in allowlist mode: {key}={bad})"))
                );
            }
        }
        for (key, path) in [
            ("LC_CTYPE", "/tmp/x/evil.utf8"),
            ("LC_ALL", "../x.UTF-8"),
            ("LANGUAGE", "en:../../tmp/x"),
            ("LC_MESSAGES", "/tmp/x.utf8"),
        ] {
            let refusal = locale_override_refusal(&kv(&[(key, path)])).unwrap();
            assert!(refusal.contains(&format!("locale path in allowlist mode: {key}={path}")), "{refusal}");
        }
    }

    #[test]
    fn the_child_path_has_no_relative_entries() {
        let env = child_env_on(Platform::Unix, kv(&[]), &[], ".:/usr/bin::bin:/bin", &Secrets::default());
        let path = env.iter().find(|(k, _)| k == "PATH").unwrap();
        assert_eq!(path.1, "/usr/bin:/bin");
    }

    #[test]
    fn the_overrides_digest_ignores_order_and_is_absent_without_overrides() {
        assert_eq!(overrides_digest(&[]), None);
        let a = overrides_digest(&kv(&[("A", "1"), ("B", "2")]));
        assert_eq!(a, overrides_digest(&kv(&[("B", "2"), ("A", "1")])));
        assert_ne!(a, overrides_digest(&kv(&[("A", "1"), ("B", "3")])));
        assert_ne!(a, overrides_digest(&kv(&[("A", "1")])));
    }
}
