//! The navigation policy (`browser.ssrfPolicy`, spec §2.3): which URLs a tab may open.
//!
//! Private, internal and special-use destinations are refused unless
//! `dangerouslyAllowPrivateNetwork` (or its alias `allowPrivateNetwork`) is set or the host is
//! listed in `allowedHostnames`. Hostnames are resolved and every address is checked.
//! Chromium resolves again on its own, so like the TS node this is best effort against DNS
//! rebinding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use serde_json::Value;

use super::budget::Budget;
use super::error::{RouteError, RouteResult};

/// `browser navigation blocked by policy` (spec §7.2).
pub const BLOCKED_MESSAGE: &str = "browser navigation blocked by policy";
const CREDENTIALS_MESSAGE: &str = "Navigation blocked: URL-embedded credentials are not supported for page navigation. Set HTTP Basic auth with `openclaw browser set credentials <username> <password>` or use an authenticated browser profile.";

/// `browser.ssrfPolicy`.
#[derive(Debug, Clone, Default)]
pub struct NavigationPolicy {
    allow_private: bool,
    allowed_hostnames: Vec<String>,
}

/// The parts of a URL the policy looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedUrl {
    /// Lower-case, without the `:`.
    scheme: String,
    has_credentials: bool,
    /// Lower-case host, IPv6 without brackets, IPv4 in canonical dotted form.
    host: String,
}

impl NavigationPolicy {
    pub fn from_config(policy: Option<&Value>) -> NavigationPolicy {
        let flag =
            |key: &str| policy.and_then(|p| p.get(key)).and_then(Value::as_bool) == Some(true);
        let allowed_hostnames = policy
            .and_then(|p| p.get("allowedHostnames"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(normalize_hostname)
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        NavigationPolicy {
            allow_private: flag("dangerouslyAllowPrivateNetwork") || flag("allowPrivateNetwork"),
            allowed_hostnames,
        }
    }

    /// Checks a URL the agent asked to open (before navigating).
    pub fn check_request(&self, url: &str, budget: &Budget) -> RouteResult<()> {
        let raw = url.trim();
        if raw.is_empty() {
            return Err(RouteError::new(400, "url is required"));
        }
        let parsed = parse_url(raw).ok_or_else(|| {
            let shown = if raw.contains('@') {
                "[redacted credential-bearing URL]"
            } else {
                raw
            };
            RouteError::blocked(format!("Invalid URL: {shown}"))
        })?;
        if parsed.has_credentials {
            return Err(RouteError::blocked(CREDENTIALS_MESSAGE));
        }
        if parsed.scheme != "http" && parsed.scheme != "https" {
            if raw.eq_ignore_ascii_case("about:blank") {
                return Ok(());
            }
            return Err(RouteError::blocked(format!(
                "Navigation blocked: unsupported protocol \"{}:\"",
                parsed.scheme
            )));
        }
        self.check_host(&parsed.host, budget)
    }

    /// Checks the URL a tab shows now (after a navigation, before acting on it). Only network
    /// URLs are checked: Chromium's own pages (`chrome-error://…`) must not trip the guard.
    pub fn check_current(&self, url: &str, budget: &Budget) -> RouteResult<()> {
        match parse_url(url.trim()) {
            Some(parsed) if parsed.scheme == "http" || parsed.scheme == "https" => {
                self.check_request(url, budget)
            }
            _ => Ok(()),
        }
    }

    /// True when the policy refuses some destinations, so a page's own requests must be vetted
    /// one by one ([`super::request_guard`]).
    pub fn restricts_requests(&self) -> bool {
        !self.allow_private
    }

    /// Whether a request a page makes (a subresource, `fetch()`, a redirect hop, a navigation
    /// it starts itself) may go out: the host check of [`Self::check_request`], DNS included,
    /// with the same parser. Schemes without a network host (`data:`, `blob:`, `about:`) pass.
    /// A URL that does not parse or a name that does not resolve within `budget` is refused.
    pub fn allows_request(&self, url: &str, budget: &Budget) -> bool {
        match parse_url(url.trim()) {
            Some(parsed) if parsed.scheme == "http" || parsed.scheme == "https" => {
                self.check_host(&parsed.host, budget).is_ok()
            }
            Some(parsed) => !matches!(parsed.scheme.as_str(), "ftp" | "file" | "ws" | "wss"),
            None => false,
        }
    }

    /// Whether a tab's URL may be shown in listings (GET /tabs redacts the others).
    pub fn current_url_allowed(&self, url: &str, budget: &Budget) -> bool {
        self.allow_private || self.check_current(url, budget).is_ok()
    }

    fn check_host(&self, host: &str, budget: &Budget) -> RouteResult<()> {
        if self.allow_private
            || self
                .allowed_hostnames
                .iter()
                .any(|pattern| hostname_matches(host, pattern))
        {
            return Ok(());
        }
        if is_blocked_hostname(host) {
            return Err(RouteError::blocked(BLOCKED_MESSAGE));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return if is_private_ip(ip) {
                Err(RouteError::blocked(BLOCKED_MESSAGE))
            } else {
                Ok(())
            };
        }
        let addresses = resolve(host, budget)?;
        if addresses.iter().any(|ip| is_private_ip(*ip)) {
            return Err(RouteError::blocked(BLOCKED_MESSAGE));
        }
        Ok(())
    }
}

/// Resolves `host` within the budget. `getaddrinfo` cannot be interrupted, so it runs on a
/// short-lived thread that is abandoned if the budget ends first.
fn resolve(host: &str, budget: &Budget) -> RouteResult<Vec<IpAddr>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let target = format!("{host}:80");
    std::thread::Builder::new()
        .name("dns".to_string())
        .spawn(move || {
            let result = target
                .to_socket_addrs()
                .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>());
            let _ = tx.send(result);
        })
        .map_err(RouteError::internal)?;
    match budget.recv(&rx)? {
        Ok(Ok(addresses)) if !addresses.is_empty() => Ok(addresses),
        // A failed lookup, no address, or a resolver thread that died.
        _ => Err(RouteError::internal(format!(
            "Unable to resolve hostname: {host}"
        ))),
    }
}

fn normalize_hostname(host: &str) -> String {
    host.trim()
        .trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn hostname_matches(host: &str, pattern: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            !suffix.is_empty() && host != suffix && host.ends_with(&format!(".{suffix}"))
        }
        None => host == pattern,
    }
}

fn is_blocked_hostname(host: &str) -> bool {
    matches!(
        host,
        "localhost" | "localhost.localdomain" | "metadata.google.internal"
    ) || host.ends_with(".localhost")
        || host.ends_with(".local")
        || host.ends_with(".internal")
}

/// Special-use IPv4 ranges refused by default (ipaddr.js ranges TS blocks, plus RFC 2544).
fn is_private_ipv4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224
}

fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_ipv4(v4),
        IpAddr::V6(v6) => is_private_ipv6(v6),
    }
}

fn is_private_ipv6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() {
        return true;
    }
    let blocked_range = (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xfe00) == 0xfc00 // unique local (includes fd00:ec2::254, cloud metadata)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard
        || (s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0) // benchmarking
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0020) // ORCHIDv2
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001); // local-use NAT64
    if blocked_range {
        return true;
    }
    embedded_ipv4(ip).map(is_private_ipv4).unwrap_or(false)
}

/// IPv4 addresses carried inside IPv6 forms (mapped, compatible, NAT64, 6to4).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6].iter().all(|x| *x == 0) {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    None
}

/// A WHATWG-flavoured parse of the scheme, credentials and host. `None` = `Invalid URL`.
fn parse_url(raw: &str) -> Option<ParsedUrl> {
    let (scheme, rest) = raw.split_once(':')?;
    let mut chars = scheme.chars();
    if !chars.next()?.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Some(ParsedUrl {
            scheme,
            has_credentials: false,
            host: String::new(),
        });
    }
    // Special schemes ignore any number of slashes (and backslashes) before the authority.
    let rest = rest.trim_start_matches(['/', '\\']);
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or("");
    let (credentials, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (!userinfo.is_empty(), host),
        None => (false, authority),
    };
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        let ip: Ipv6Addr = inside.parse().ok()?;
        ip.to_string()
    } else {
        let (host, port) = host_port.split_once(':').unwrap_or((host_port, ""));
        if !port.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let host = normalize_hostname(&percent_decode(host)?);
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || "<>^|%".contains(c))
        {
            return None;
        }
        match whatwg_ipv4(&host) {
            Ipv4Parse::Address(ip) => ip.to_string(),
            Ipv4Parse::Invalid => return None,
            Ipv4Parse::NotIpv4 => host,
        }
    };
    Some(ParsedUrl {
        scheme,
        has_credentials: credentials,
        host,
    })
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

enum Ipv4Parse {
    Address(Ipv4Addr),
    Invalid,
    NotIpv4,
}

/// The URL standard's IPv4 host parser: `127.1`, `0x7f.0.0.1` and `2130706433` all mean
/// 127.0.0.1 to the browser, so they must mean it to the guard too.
fn whatwg_ipv4(host: &str) -> Ipv4Parse {
    let mut parts: Vec<&str> = host.split('.').collect();
    if parts.last() == Some(&"") && parts.len() > 1 {
        parts.pop();
    }
    let last = parts.last().copied().unwrap_or("");
    let numeric = |p: &str| parse_ipv4_number(p).is_some();
    if !numeric(last) {
        return Ipv4Parse::NotIpv4;
    }
    if parts.len() > 4 || parts.iter().any(|p| !numeric(p)) {
        return Ipv4Parse::Invalid;
    }
    let numbers: Vec<u64> = parts.iter().filter_map(|p| parse_ipv4_number(p)).collect();
    let (init, last) = numbers.split_at(numbers.len() - 1);
    if init.iter().any(|n| *n > 255) || last[0] >= 256u64.pow((5 - numbers.len()) as u32) {
        return Ipv4Parse::Invalid;
    }
    let mut value = last[0];
    for (i, n) in init.iter().enumerate() {
        value += n * 256u64.pow((3 - i) as u32);
    }
    match u32::try_from(value) {
        Ok(v) => Ipv4Parse::Address(Ipv4Addr::from(v)),
        Err(_) => Ipv4Parse::Invalid,
    }
}

fn parse_ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelToken;
    use serde_json::json;
    use std::time::Duration;

    fn budget() -> Budget {
        Budget::new(Duration::from_secs(10), CancelToken::new())
    }

    fn error_of(policy: &NavigationPolicy, url: &str) -> Option<(u16, String)> {
        match policy.check_request(url, &budget()) {
            Ok(()) => None,
            Err(RouteError::Http { status, body }) => Some((
                status,
                body.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn private_destinations_are_blocked_by_default() {
        let policy = NavigationPolicy::default();
        for url in [
            "http://127.0.0.1:19970/",
            "http://localhost/",
            "http://app.localhost/",
            "http://printer.local/",
            "http://metadata.google.internal/",
            "http://10.1.2.3/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
        ] {
            assert_eq!(
                error_of(&policy, url),
                Some((400, BLOCKED_MESSAGE.to_string())),
                "{url}"
            );
        }
        assert_eq!(error_of(&policy, "http://93.184.216.34/"), None);
        assert_eq!(error_of(&policy, "about:blank"), None);
    }

    #[test]
    fn the_opt_in_and_the_allowlist_open_the_private_network() {
        let open =
            NavigationPolicy::from_config(Some(&json!({"dangerouslyAllowPrivateNetwork": true})));
        assert_eq!(error_of(&open, "http://127.0.0.1:19970/"), None);
        let alias = NavigationPolicy::from_config(Some(&json!({"allowPrivateNetwork": true})));
        assert_eq!(error_of(&alias, "http://localhost:3000/"), None);
        let listed = NavigationPolicy::from_config(Some(
            &json!({"allowedHostnames": ["localhost", "*.corp.internal"]}),
        ));
        assert_eq!(error_of(&listed, "http://localhost/"), None);
        assert_eq!(error_of(&listed, "http://wiki.corp.internal/"), None);
        assert!(error_of(&listed, "http://corp.internal/").is_some());
    }

    #[test]
    fn schemes_credentials_and_garbage_are_refused() {
        let open =
            NavigationPolicy::from_config(Some(&json!({"dangerouslyAllowPrivateNetwork": true})));
        assert_eq!(
            error_of(&open, "file:///etc/passwd"),
            Some((
                400,
                "Navigation blocked: unsupported protocol \"file:\"".into()
            ))
        );
        assert_eq!(
            error_of(&open, "javascript:alert(1)"),
            Some((
                400,
                "Navigation blocked: unsupported protocol \"javascript:\"".into()
            ))
        );
        assert_eq!(
            error_of(&open, "http://user:pw@example.com/"),
            Some((400, CREDENTIALS_MESSAGE.into()))
        );
        assert_eq!(
            error_of(&open, "not a url"),
            Some((400, "Invalid URL: not a url".into()))
        );
        assert_eq!(error_of(&open, ""), Some((400, "url is required".into())));
    }

    #[test]
    fn current_url_check_ignores_browser_pages() {
        let policy = NavigationPolicy::default();
        assert!(policy
            .check_current("chrome-error://chromewebdata/", &budget())
            .is_ok());
        assert!(policy
            .check_current("http://127.0.0.1/", &budget())
            .is_err());
    }

    #[test]
    fn ipv6_embedded_and_special_ranges() {
        assert!(is_private_ip("64:ff9b::a00:1".parse().unwrap()));
        assert!(is_private_ip("2002:c0a8:0101::1".parse().unwrap()));
        assert!(is_private_ip("fe80::1".parse().unwrap()));
        assert!(!is_private_ip("2606:4700::1111".parse().unwrap()));
        assert!(!is_private_ip("1.1.1.1".parse().unwrap()));
        assert!(is_private_ip("198.18.0.1".parse().unwrap()));
    }
}
