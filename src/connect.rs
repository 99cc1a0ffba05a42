//! `openclaw-node connect <target>` (and `openclaw connect` under the drop-in name): TS's one-paste
//! onboarding (node-surface.md §3.2), kept small. The target is a join URL
//! (`https://<gateway>/j/<code>`, plain `http://` only for a loopback gateway), an `oc-pair://`
//! URL or a bare setup code; the node then runs as `run --pair <code>` does.
//!
//! A join URL is fetched once (GET, no redirects, 15 s, CA-validated TLS: the pin a code may
//! carry is for the gateway's WebSocket, not for this fetch); the answer must be 2xx with a
//! `application/json` body of at most 24 KiB, and is decoded as the setup code it encodes.
//! Left out: `--service` (pair in the foreground, then `openclaw-node install`), Cloudflare Access
//! headers, and the worker options (`--session-host`, `--ephemeral`).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use base64::Engine;

use crate::gateway::transport::{self, GatewayUrl, SocketRead, SocketWrite};
use crate::run::RunArgs;
use crate::CliError;

/// Connect this machine to a gateway with a join URL or setup code, then run the node.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "connect")]
pub struct ConnectArgs {
    /// a join URL (https://<gateway>/j/<code>), an oc-pair:// URL, or a setup code
    #[argh(positional)]
    pub target: Option<String>,
    /// read the target from this file (at most 64 KiB), which is removed after it was read
    #[argh(option)]
    pub target_file: Option<String>,
    /// the name the gateway shows for this node
    #[argh(option)]
    pub display_name: Option<String>,
    /// advertise only these exact command ids (comma-separated; repeatable)
    #[argh(option)]
    pub commands: Vec<String>,
    /// advertise every command and forget a saved --commands list
    #[argh(switch)]
    pub all_commands: bool,
    /// not supported here: connect in the foreground, then `openclaw-node install`
    #[argh(switch)]
    pub service: bool,
}

const MAX_TARGET_FILE: u64 = 64 * 1024;
const MAX_BODY: usize = 24_576;
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
const NOT_FOUND: &str = "Gateway join code was not found or has expired.";
const INSECURE_FETCH: &str = "Could not fetch the Gateway join payload securely.";

/// Resolves the target and runs the node with it as `--pair`.
pub fn connect(args: &ConnectArgs) -> Result<ExitCode, CliError> {
    if args.service {
        return Err(CliError::new(
            "connect --service is not supported: run `openclaw-node connect <target>` once in the \
             foreground, stop it once it is connected, then `openclaw-node install`",
        ));
    }
    let target = target(args)?;
    let code = if is_join_url(&target) {
        fetch_join_code(&target).map_err(CliError::new)?
    } else {
        target
    };
    crate::run::run(&RunArgs {
        pair: Some(code),
        display_name: args.display_name.clone(),
        commands: args.commands.clone(),
        all_commands: args.all_commands,
        ..RunArgs::default()
    })
}

fn target(args: &ConnectArgs) -> Result<String, CliError> {
    match (&args.target, &args.target_file) {
        (Some(_), Some(_)) => Err(CliError::new(
            "Provide the connect target or --target-file, not both.",
        )),
        (Some(target), None) => Ok(target.trim().to_string()),
        (None, Some(path)) => {
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|file| file.take(MAX_TARGET_FILE + 1).read_to_string(&mut text))
                .map_err(|e| CliError::new(format!("cannot read --target-file {path}: {e}")))?;
            if text.len() as u64 > MAX_TARGET_FILE {
                return Err(CliError::new(format!(
                    "--target-file {path} is larger than 64 KiB"
                )));
            }
            let text = text.trim().to_string();
            if text.is_empty() {
                return Err(CliError::new(format!("--target-file {path} is empty")));
            }
            if let Err(err) = std::fs::remove_file(path) {
                log::warn!("could not remove --target-file {path}: {err}");
            }
            Ok(text)
        }
        (None, None) => Err(CliError::new(
            "connect needs a target: a join URL, an oc-pair:// URL or a setup code",
        )),
    }
}

fn is_join_url(target: &str) -> bool {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// A join URL's parts: TLS, host, port, path.
#[derive(Debug, PartialEq, Eq)]
struct JoinUrl {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_join_url(url: &str) -> Result<JoinUrl, String> {
    const FORM: &str = "Join URL must end with the exact /j/<shortcode> form.";
    let (tls, rest) = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
        _ => return Err(FORM.into()),
    };
    if rest.contains(['?', '#']) {
        return Err(FORM.into());
    }
    let (authority, path) = rest.split_at(rest.find('/').ok_or(FORM)?);
    if authority.contains('@') || authority.is_empty() {
        return Err(FORM.into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or(FORM)?;
            let port = match after {
                "" => None,
                port => Some(port.strip_prefix(':').ok_or(FORM)?),
            };
            (host, port)
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None if tls => 443,
        None => 80,
        Some(port) => port.parse::<u16>().ok().filter(|p| *p > 0).ok_or(FORM)?,
    };
    let code = path.rsplit_once("/j/").map(|(_, code)| code).ok_or(FORM)?;
    if code.len() != 22
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(FORM.into());
    }
    let join = JoinUrl {
        tls,
        host: host.to_ascii_lowercase(),
        port,
        path: path.to_string(),
    };
    if !tls && !GatewayUrl::new(&join.host, join.port, false, None).is_loopback() {
        return Err("Plain HTTP join URLs are allowed only for loopback gateways.".into());
    }
    Ok(join)
}

/// GETs the join payload and re-encodes it as the setup code it stands for.
fn fetch_join_code(url: &str) -> Result<String, String> {
    let join = parse_join_url(url)?;
    let endpoint = GatewayUrl::new(&join.host, join.port, join.tls, None);
    let (read, mut write) = transport::connect(&endpoint, None).map_err(|err| {
        log::warn!("join URL fetch: {err}");
        INSECURE_FETCH.to_string()
    })?;
    let _ = read.set_read_timeout(Some(FETCH_TIMEOUT));
    let _ = write.set_write_timeout(Some(FETCH_TIMEOUT));
    let host_header = if (join.tls && join.port == 443) || (!join.tls && join.port == 80) {
        join.host.clone()
    } else {
        format!("{}:{}", join.host, join.port)
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host_header}\r\nAccept: application/json\r\nUser-Agent: openclaw-node/{}\r\nConnection: close\r\n\r\n",
        join.path,
        env!("CARGO_PKG_VERSION")
    );
    write
        .write_all(request.as_bytes())
        .and_then(|()| write.flush())
        .map_err(|_| INSECURE_FETCH.to_string())?;
    let mut response = Vec::new();
    read.take((MAX_BODY + 16 * 1024) as u64 + 1)
        .read_to_end(&mut response)
        .map_err(|_| INSECURE_FETCH.to_string())?;
    write.shutdown();
    let body = json_body(&response)?;
    let payload: serde_json::Value =
        serde_json::from_str(&body).map_err(|_| INSECURE_FETCH.to_string())?;
    if !payload.is_object() {
        return Err(INSECURE_FETCH.into());
    }
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string()))
}

/// The body of a 2xx `application/json` answer of at most [`MAX_BODY`] bytes (strict UTF-8).
fn json_body(response: &[u8]) -> Result<String, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let start = match parsed.parse(response) {
        Ok(httparse::Status::Complete(start)) => start,
        _ => return Err(INSECURE_FETCH.into()),
    };
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let status = parsed.code.unwrap_or(0);
    let json = header("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    if !(200..300).contains(&status) || !json {
        return Err(NOT_FOUND.into());
    }
    if header("transfer-encoding").is_some_and(|t| !t.eq_ignore_ascii_case("identity")) {
        return Err(INSECURE_FETCH.into());
    }
    let mut body = &response[start..];
    if let Some(length) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        if length > body.len() {
            return Err(INSECURE_FETCH.into());
        }
        body = &body[..length];
    }
    if body.len() > MAX_BODY {
        return Err(INSECURE_FETCH.into());
    }
    String::from_utf8(body.to_vec()).map_err(|_| INSECURE_FETCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "5-ILlE-wEDdWm3plehnCOQ";

    #[test]
    fn join_urls_follow_ts_rules() {
        assert_eq!(
            parse_join_url(&format!("http://127.0.0.1:19987/j/{CODE}")),
            Ok(JoinUrl {
                tls: false,
                host: "127.0.0.1".into(),
                port: 19987,
                path: format!("/j/{CODE}"),
            })
        );
        let https = parse_join_url(&format!("https://GW.example.net/openclaw/j/{CODE}")).unwrap();
        assert_eq!((https.tls, https.host.as_str(), https.port), (true, "gw.example.net", 443));
        let form = "Join URL must end with the exact /j/<shortcode> form.";
        for bad in [
            format!("https://gw/j/{CODE}?x=1"),
            format!("https://gw/j/{CODE}#f"),
            format!("https://u@gw/j/{CODE}"),
            "https://gw/j/short".to_string(),
            format!("https://gw/x/{CODE}"),
            format!("ftp://gw/j/{CODE}"),
        ] {
            assert_eq!(parse_join_url(&bad).unwrap_err(), form, "{bad}");
        }
        assert_eq!(
            parse_join_url(&format!("http://gw.example.net/j/{CODE}")).unwrap_err(),
            "Plain HTTP join URLs are allowed only for loopback gateways."
        );
        assert!(is_join_url("HTTPS://x") && !is_join_url("oc-pair://abc"));
    }

    #[test]
    fn only_a_2xx_json_answer_is_a_payload() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 13\r\n\r\n{\"url\":\"x\"}\r\n";
        assert_eq!(json_body(ok).unwrap(), "{\"url\":\"x\"}\r\n");
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{}";
        assert_eq!(json_body(missing).unwrap_err(), NOT_FOUND);
        let html = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>";
        assert_eq!(json_body(html).unwrap_err(), NOT_FOUND);
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}",
            "x".repeat(MAX_BODY + 1)
        );
        assert_eq!(json_body(big.as_bytes()).unwrap_err(), INSECURE_FETCH);
    }
}
