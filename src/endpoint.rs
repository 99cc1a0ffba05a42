//! The gateway endpoint from the connection flags, for `run` and `install` alike.
//!
//! Both commands take the same flags (`--host --port --context-path --tls --no-tls
//! --tls-fingerprint`) and settle them against the saved endpoint with the same rules
//! ([`state::resolve_endpoint`]). They used to check the flags each in its own way: `install`
//! refused `--tls --no-tls` and `--port 0`, `run` took both and saved port 0 to node.json,
//! which every later command then refused to load. [`resolve`] is now the one place: the
//! stricter checks, with errors that say what to pass instead.

use crate::gateway::transport::normalize_fingerprint;
use crate::state::{self, GatewayEndpoint};

/// The connection flags as given on the command line.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)] // the flags of the same names
pub struct EndpointFlags {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub context_path: Option<String>,
    pub tls: bool,
    pub no_tls: bool,
    pub tls_fingerprint: Option<String>,
}

/// Checks `flags`, then settles the endpoint: explicit flags win; what is not given comes from
/// `saved`, except that a new host or port drops the saved TLS, pin and context path (see
/// [`state::resolve_endpoint`]). The result has a host and a port (never 0) and a normalised
/// pin; `tls` stays `None` when neither the flags nor the saved endpoint decided it.
///
/// Errors name the flag and what to do. A saved pin that is not a SHA-256 fingerprint is an
/// error too (node.json was edited by hand): better now than at every connect.
pub fn resolve(
    flags: &EndpointFlags,
    saved: Option<&GatewayEndpoint>,
) -> Result<GatewayEndpoint, String> {
    if flags.tls && flags.no_tls {
        return Err("--tls and --no-tls contradict each other; pass one".to_string());
    }
    if flags.no_tls && flags.tls_fingerprint.is_some() {
        return Err("--no-tls cannot be combined with --tls-fingerprint".to_string());
    }
    if flags.port == Some(0) {
        return Err("--port must be between 1 and 65535".to_string());
    }
    let tls_fingerprint = match flags.tls_fingerprint.as_deref() {
        Some(fp) => Some(normalize_fingerprint(fp).map_err(|e| format!("--tls-fingerprint: {e}"))?),
        None => None,
    };
    let given = GatewayEndpoint {
        host: flags.host.clone(),
        port: flags.port,
        tls: if flags.tls {
            Some(true)
        } else if flags.no_tls {
            Some(false)
        } else {
            None
        },
        tls_fingerprint,
        context_path: flags.context_path.clone(),
    };
    let mut endpoint = state::resolve_endpoint(saved, &given);
    if let Some(saved_pin) = endpoint.tls_fingerprint.take() {
        let pin = normalize_fingerprint(&saved_pin).map_err(|e| {
            format!("the saved gateway TLS fingerprint: {e} Pass --tls-fingerprint with the right one, or --no-tls")
        })?;
        endpoint.tls_fingerprint = Some(pin);
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

    fn flags() -> EndpointFlags {
        EndpointFlags::default()
    }

    #[test]
    fn contradictions_and_port_zero_are_refused_with_what_to_do() {
        let both = EndpointFlags {
            tls: true,
            no_tls: true,
            ..flags()
        };
        assert_eq!(
            resolve(&both, None).unwrap_err(),
            "--tls and --no-tls contradict each other; pass one"
        );
        let zero = EndpointFlags {
            port: Some(0),
            ..flags()
        };
        assert!(resolve(&zero, None)
            .unwrap_err()
            .contains("between 1 and 65535"));
        let pinned_plain = EndpointFlags {
            no_tls: true,
            tls_fingerprint: Some(PIN.into()),
            ..flags()
        };
        assert!(resolve(&pinned_plain, None)
            .unwrap_err()
            .contains("--no-tls cannot be combined"));
        let bad_pin = EndpointFlags {
            tls_fingerprint: Some("xyz".into()),
            ..flags()
        };
        let err = resolve(&bad_pin, None).unwrap_err();
        assert!(
            err.starts_with("--tls-fingerprint: ") && err.contains("SHA-256"),
            "{err}"
        );
    }

    #[test]
    fn defaults_flags_and_saved_values_combine() {
        let ep = resolve(&flags(), None).unwrap();
        assert_eq!(ep.host.as_deref(), Some(state::DEFAULT_GATEWAY_HOST));
        assert_eq!(ep.port, Some(state::DEFAULT_GATEWAY_PORT));
        assert_eq!(ep.tls, None);
        let pinned = EndpointFlags {
            host: Some("gw.lan".into()),
            port: Some(443),
            tls_fingerprint: Some(PIN.into()),
            ..flags()
        };
        let ep = resolve(&pinned, None).unwrap();
        assert_eq!(ep.tls, Some(true));
        assert_eq!(
            ep.tls_fingerprint,
            Some(PIN.replace(':', "").to_lowercase())
        );
        // The same gateway again: the saved pin is kept.
        let again = resolve(&flags(), Some(&ep)).unwrap();
        assert_eq!(again, ep);
    }

    #[test]
    fn a_broken_saved_pin_is_an_error_that_names_it() {
        let saved = GatewayEndpoint {
            host: Some("gw.lan".into()),
            port: Some(443),
            tls: Some(true),
            tls_fingerprint: Some("not-a-pin".into()),
            context_path: None,
        };
        let err = resolve(&flags(), Some(&saved)).unwrap_err();
        assert!(
            err.starts_with("the saved gateway TLS fingerprint"),
            "{err}"
        );
        // --no-tls drops the pin, so the broken one does not matter then.
        let plain = EndpointFlags {
            no_tls: true,
            ..flags()
        };
        assert_eq!(resolve(&plain, Some(&saved)).unwrap().tls, Some(false));
    }
}
