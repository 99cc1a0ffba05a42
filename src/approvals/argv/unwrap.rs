//! The whole chain in front of a command: dispatch wrappers, `command`/`builtin`/`exec`
//! carriers and `busybox`/`toybox` multiplexers, unwrapped up to four deep into the
//! [`WrapperTrustPlan`] the policy inspects.

use super::shell_payload::{bindable_shell_wrapper_inline_command, is_shell_wrapper_executable};
use super::tokens::{normalize_executable_token, split_inline_option};
use super::wrappers::{
    carrier_option_consumes_next, dispatch_trust_plan, parse_carrier_option,
    unwrap_dispatch_wrapper, DispatchUnwrap,
};

// ---------------------------------------------------------------------------------------------
// Shell multiplexers and command carriers

/// `unwrapKnownShellMultiplexerInvocation`: `busybox sh -c ...` → `sh -c ...`; any other applet
/// is blocked.
pub fn unwrap_shell_multiplexer(argv: &[String]) -> DispatchUnwrap {
    let Some(token0) = argv.first().map(|t| t.trim()).filter(|t| !t.is_empty()) else {
        return DispatchUnwrap::NotWrapper;
    };
    let wrapper = normalize_executable_token(token0);
    if wrapper != "busybox" && wrapper != "toybox" {
        return DispatchUnwrap::NotWrapper;
    }
    let mut applet_index = 1;
    if argv.get(applet_index).map(|t| t.trim()) == Some("--") {
        applet_index += 1;
    }
    match argv.get(applet_index).map(|t| t.trim()) {
        Some(applet) if !applet.is_empty() && is_shell_wrapper_executable(applet) => {
            DispatchUnwrap::Unwrapped {
                wrapper,
                argv: argv[applet_index..].to_vec(),
            }
        }
        _ => DispatchUnwrap::Blocked(wrapper),
    }
}

/// `command`/`builtin`/`exec` in front of a command (`resolveCarrierCommandArgv`).
fn unwrap_shell_argv_carrier(argv: &[String]) -> DispatchUnwrap {
    let Some(token0) = argv.first().map(|t| t.trim()) else {
        return DispatchUnwrap::NotWrapper;
    };
    if !["builtin", "command", "exec"].contains(&token0) {
        return DispatchUnwrap::NotWrapper;
    }
    let wrapper = token0.to_string();
    if token0 == "command" {
        // `command -p` searches a default PATH the policy does not model.
        for token in argv.iter().skip(1) {
            let token = token.trim();
            if token == "--" || !token.starts_with('-') {
                break;
            }
            if token.starts_with('-') && !token.starts_with("--") && token.contains('p') {
                return DispatchUnwrap::Blocked(wrapper);
            }
        }
    }
    let carried = if token0 == "exec" {
        let mut result = None;
        let mut index = 1;
        while index < argv.len() {
            let token = &argv[index];
            if token == "--" {
                result = Some(argv[index + 1..].to_vec());
                break;
            }
            if !token.starts_with('-') {
                result = Some(argv[index..].to_vec());
                break;
            }
            let Some(options) = parse_carrier_option(token, &["-c", "-l"], &["-a"], &[]) else {
                break;
            };
            if carrier_option_consumes_next(&options, &["-a"], &[]) == Some(true) {
                index += 1;
            }
            index += 1;
        }
        result
    } else {
        let mut result = None;
        for (index, token) in argv.iter().enumerate().skip(1) {
            if token == "--" {
                result = Some(argv[index + 1..].to_vec());
                break;
            }
            if !token.starts_with('-') {
                result = Some(argv[index..].to_vec());
                break;
            }
            let (name, _) = split_inline_option(token);
            if name != "-p" {
                break;
            }
        }
        result
    };
    match carried {
        Some(argv) if !argv.is_empty() => DispatchUnwrap::Unwrapped { wrapper, argv },
        _ => DispatchUnwrap::Blocked(wrapper),
    }
}

/// `resolveExecWrapperTrustPlan`: the executable the policy inspects behind every transparent
/// wrapper, carrier and multiplexer.
#[derive(Debug, Clone)]
pub struct WrapperTrustPlan {
    /// The command that actually runs (wrappers removed).
    pub argv: Vec<String>,
    /// The command the policy matches (differs from `argv` behind busybox/toybox).
    pub policy_argv: Vec<String>,
    pub wrapper_chain: Vec<String>,
    pub wrapper_invocations: Vec<(String, Vec<String>)>,
    pub policy_blocked: bool,
    pub shell_wrapper_executable: bool,
    pub shell_inline_command: Option<String>,
}

pub fn wrapper_trust_plan(argv: &[String]) -> WrapperTrustPlan {
    const MAX_DEPTH: usize = 4;
    let mut current = argv.to_vec();
    let mut policy_argv = argv.to_vec();
    let mut saw_multiplexer = false;
    let mut chain: Vec<String> = Vec::new();
    let mut invocations: Vec<(String, Vec<String>)> = Vec::new();
    let blocked = |argv: Vec<String>,
                   policy_argv: Vec<String>,
                   chain: Vec<String>,
                   invocations,
                   wrapper: String| {
        // The TS plan keeps the blocking wrapper's name; nothing here decides on it, but it
        // is what explains a `plan miss` when one is debugged.
        log::debug!("analysis stops at the wrapper {wrapper:?}: its argv cannot be bound");
        WrapperTrustPlan {
            argv,
            policy_argv,
            wrapper_chain: chain,
            wrapper_invocations: invocations,
            policy_blocked: true,
            shell_wrapper_executable: false,
            shell_inline_command: None,
        }
    };
    for _ in 0..MAX_DEPTH {
        let dispatch = dispatch_trust_plan(&current, MAX_DEPTH - chain.len());
        invocations.extend(dispatch.invocations.iter().cloned());
        if dispatch.policy_blocked {
            let wrapper = dispatch
                .blocked_wrapper
                .clone()
                .unwrap_or_else(|| "unknown".to_string());
            return blocked(
                dispatch.argv.clone(),
                dispatch.argv,
                chain,
                invocations,
                wrapper,
            );
        }
        if !dispatch.wrappers.is_empty() {
            chain.extend(dispatch.wrappers);
            current = dispatch.argv;
            if !saw_multiplexer {
                policy_argv = current.clone();
            }
            if chain.len() >= MAX_DEPTH {
                break;
            }
            continue;
        }
        match unwrap_shell_argv_carrier(&current) {
            DispatchUnwrap::Blocked(wrapper) => {
                return blocked(current, policy_argv, chain, invocations, wrapper)
            }
            DispatchUnwrap::Unwrapped {
                wrapper,
                argv: inner,
            } => {
                chain.push(wrapper.clone());
                invocations.push((wrapper, current.clone()));
                current = inner;
                if !saw_multiplexer {
                    policy_argv = current.clone();
                }
                if chain.len() >= MAX_DEPTH {
                    break;
                }
                continue;
            }
            DispatchUnwrap::NotWrapper => {}
        }
        match unwrap_shell_multiplexer(&current) {
            DispatchUnwrap::Blocked(wrapper) => {
                return blocked(current, policy_argv, chain, invocations, wrapper)
            }
            DispatchUnwrap::Unwrapped {
                wrapper,
                argv: inner,
            } => {
                chain.push(wrapper.clone());
                invocations.push((wrapper, current.clone()));
                if !saw_multiplexer {
                    policy_argv = current.clone();
                    saw_multiplexer = true;
                }
                current = inner;
                if chain.len() >= MAX_DEPTH {
                    break;
                }
                continue;
            }
            DispatchUnwrap::NotWrapper => {}
        }
        break;
    }
    if chain.len() >= MAX_DEPTH {
        for overflow in [
            unwrap_dispatch_wrapper(&current),
            unwrap_shell_argv_carrier(&current),
            unwrap_shell_multiplexer(&current),
        ] {
            if let DispatchUnwrap::Blocked(wrapper) | DispatchUnwrap::Unwrapped { wrapper, .. } =
                overflow
            {
                return blocked(current, policy_argv, chain, invocations, wrapper);
            }
        }
    }
    let raw_executable = current.first().map(|t| t.trim()).unwrap_or("");
    let shell_wrapper_executable =
        !raw_executable.is_empty() && is_shell_wrapper_executable(raw_executable);
    let shell_inline_command = if shell_wrapper_executable {
        bindable_shell_wrapper_inline_command(&current, None)
    } else {
        None
    };
    WrapperTrustPlan {
        argv: current,
        policy_argv,
        wrapper_chain: chain,
        wrapper_invocations: invocations,
        policy_blocked: false,
        shell_wrapper_executable,
        shell_inline_command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn trust_plan_sees_through_carriers_and_busybox() {
        let plan = wrapper_trust_plan(&v(&["command", "ls", "-l"]));
        assert_eq!(plan.argv, v(&["ls", "-l"]));
        assert!(!plan.policy_blocked);
        let plan = wrapper_trust_plan(&v(&["command", "-p", "ls"]));
        assert!(plan.policy_blocked);
        let plan = wrapper_trust_plan(&v(&["busybox", "sh", "-c", "id"]));
        assert_eq!(plan.argv, v(&["sh", "-c", "id"]));
        assert_eq!(plan.policy_argv, v(&["busybox", "sh", "-c", "id"]));
        assert!(plan.shell_wrapper_executable);
        assert_eq!(plan.shell_inline_command.as_deref(), Some("id"));
        assert!(wrapper_trust_plan(&v(&["busybox", "rm", "-rf", "/"])).policy_blocked);
        let deep = wrapper_trust_plan(&v(&["nice", "nice", "nice", "nice", "nice", "ls"]));
        assert!(deep.policy_blocked);
    }
}
