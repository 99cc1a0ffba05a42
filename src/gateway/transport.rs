//! The byte stream under the WebSocket: TCP, optionally TLS with certificate pinning, split into
//! a read half and a write half so that two threads can use one connection.
//!
//! Why split: the session's reader thread blocks in `read` for as long as the gateway is quiet,
//! while the writer thread must be able to send a result the moment a worker finishes. A single
//! owner would have to poll with a short read timeout; two halves need no polling at all.
//!
//! - Plain TCP: each half owns a clone of the `TcpStream` (the kernel socket is full duplex).
//! - TLS: rustls has one state machine per connection, so both halves share it behind a mutex,
//!   held only for the short, non-blocking work of encrypting or decrypting a buffer. The reader
//!   blocks on the socket *without* the lock and takes it only to feed what arrived. All socket
//!   writes go through one `tcp_write` lock that is taken *before* TLS records are produced, so
//!   records reach the wire in the order rustls numbered them.
//!
//! What the session needs of the two halves is [`SocketRead`] and [`SocketWrite`]; the session
//! is generic over them, so it runs the same over these halves or any other stream. Whatever
//! tungstenite's reading side wants to send (the HTTP upgrade request, automatic pongs, the reply
//! to a close) is handed by the session to its writer thread as raw bytes, through the same
//! channel as every other outbound frame, so the writer thread alone writes the socket and frames
//! are never interleaved.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

/// Why a connection could not be made. Messages say what to check next.
#[derive(Debug)]
pub enum TransportError {
    /// The URL or options are not usable (bad fingerprint, pin without TLS, plaintext refused).
    Config(String),
    /// TCP could not connect (refused, unreachable, DNS).
    Connect(String),
    /// The TLS handshake failed, including a fingerprint mismatch.
    Tls(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Config(msg)
            | TransportError::Connect(msg)
            | TransportError::Tls(msg) => f.write_str(msg),
        }
    }
}

/// Where the gateway is: `ws[s]://host:port[/contextPath]` (protocol §1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUrl {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// Normalised to start with `/`; `None` for the root path.
    pub context_path: Option<String>,
}

impl GatewayUrl {
    pub fn new(host: &str, port: u16, tls: bool, context_path: Option<&str>) -> GatewayUrl {
        let context_path = context_path
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                if p.starts_with('/') {
                    p.to_string()
                } else {
                    format!("/{p}")
                }
            });
        GatewayUrl {
            host: host.trim().to_string(),
            port,
            tls,
            context_path,
        }
    }

    /// `ws://` or `wss://` URL text; IPv6 literals are bracketed.
    pub fn to_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let path = self.context_path.as_deref().unwrap_or("/");
        format!("{scheme}://{host}:{}{path}", self.port)
    }

    /// Loopback endpoints count as trusted for the one-shot device-token retry (§1.5).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

impl std::fmt::Display for GatewayUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_url())
    }
}

fn bare_host(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

fn is_loopback_host(host: &str) -> bool {
    let host = bare_host(host);
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Plaintext `ws://` is allowed only to loopback, private/link-local/CGNAT IP literals, `.local`
/// and `.ts.net` names, or anywhere with `OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1` (§1.1).
pub fn check_plaintext_allowed(host: &str, allow_insecure: bool) -> Result<(), TransportError> {
    if allow_insecure || plaintext_host_allowed(host) {
        return Ok(());
    }
    Err(TransportError::Config(format!(
        "SECURITY ERROR: Cannot connect to \"{host}\" over plaintext ws://. The gateway token and \
         every command would cross the network unencrypted. Use --tls (wss://), or connect through \
         a private network address, or set OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1 if this network \
         is trusted."
    )))
}

fn plaintext_host_allowed(host: &str) -> bool {
    let bare = bare_host(host);
    if is_loopback_host(bare) {
        return true;
    }
    let lower = bare.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    if lower.ends_with(".local") || lower.ends_with(".ts.net") {
        return true;
    }
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let [a, b, ..] = ip.octets();
            ip.is_private() || ip.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        Ok(IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            // fc00::/7 unique local, fe80::/10 link local, or an IPv4-mapped private address.
            (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .map(|v4| plaintext_host_allowed(&v4.to_string()))
                    .unwrap_or(false)
        }
        Err(_) => false,
    }
}

/// Normalises a `--tls-fingerprint`: optional `sha256:` prefix, then 64 hex digits or 32
/// colon-separated pairs, any case → 64 lowercase hex digits (§1.13).
pub fn normalize_fingerprint(input: &str) -> Result<String, TransportError> {
    let invalid = || {
        TransportError::Config(
            "Invalid TLS fingerprint; expected a SHA-256 certificate fingerprint.".into(),
        )
    };
    let mut text = input.trim();
    // `get`, not slicing: the 7th byte may fall inside a multi-byte character.
    if let Some(rest) = text
        .get(..7)
        .filter(|prefix| prefix.eq_ignore_ascii_case("sha256:"))
        .and_then(|_| text.get(7..))
    {
        text = rest;
    }
    let hex: String = if text.contains(':') {
        let pairs: Vec<&str> = text.split(':').collect();
        if pairs.len() != 32 || pairs.iter().any(|p| p.len() != 2) {
            return Err(invalid());
        }
        pairs.concat()
    } else {
        text.to_string()
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    Ok(hex.to_ascii_lowercase())
}

/// SHA-256 of a certificate's DER, as 64 lowercase hex digits.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    crate::digest::sha256_hex(der)
}

/// How long a TCP connect may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the connection (TCP, then TLS when asked) and splits it. The TLS handshake, including
/// the pin check, completes here: nothing of the WebSocket upgrade, let alone a credential, has
/// been written when a mismatched certificate is refused.
pub fn connect(
    url: &GatewayUrl,
    pin: Option<&str>,
) -> Result<(ReadHalf, WriteHalf), TransportError> {
    if pin.is_some() && !url.tls {
        return Err(TransportError::Config(
            "gateway tls fingerprint requires wss:// gateway url".into(),
        ));
    }
    let tcp = connect_tcp(url)?;
    if !url.tls {
        let write = tcp
            .try_clone()
            .map_err(|e| TransportError::Connect(format!("{url}: {e}")))?;
        return Ok((ReadHalf::Plain(tcp), WriteHalf::Plain(write)));
    }
    let shared = tls_handshake(url, pin, tcp)?;
    let shared = Arc::new(shared);
    Ok((
        ReadHalf::Tls(TlsReader {
            shared: shared.clone(),
            cipher: vec![0; 16 * 1024],
            plain: Vec::new(),
            plain_pos: 0,
        }),
        WriteHalf::Tls(shared),
    ))
}

fn connect_tcp(url: &GatewayUrl) -> Result<TcpStream, TransportError> {
    let host = bare_host(&url.host);
    let addrs = (host, url.port).to_socket_addrs().map_err(|e| {
        TransportError::Connect(format!("cannot resolve gateway host {host:?}: {e}"))
    })?;
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                // Frames are small and latency matters more than packet count.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(TransportError::Connect(match last_error {
        Some(err) => format!("cannot connect to {url}: {err}"),
        None => format!("gateway host {host:?} resolved to no address"),
    }))
}

/// Both halves' view of a TLS connection.
pub struct TlsShared {
    conn: Mutex<ClientConnection>,
    tcp_read: TcpStream,
    tcp_write: Mutex<TcpStream>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a thread panicked mid-update; the connection is unusable either way
    // and the session will end on the next I/O error, so keep going with the inner value.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tls_handshake(
    url: &GatewayUrl,
    pin: Option<&str>,
    mut tcp: TcpStream,
) -> Result<TlsShared, TransportError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Tls(format!("TLS setup failed: {e}")))?;
    let config = match pin {
        Some(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertVerifier {
                pin: pin.to_string(),
                provider,
            }))
            .with_no_client_auth(),
        None => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| TransportError::Tls(format!("TLS setup failed: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PublicCaVerifier { webpki }))
                .with_no_client_auth()
        }
    };
    let server_name = ServerName::try_from(bare_host(&url.host).to_string()).map_err(|e| {
        TransportError::Config(format!("invalid gateway host {:?} for TLS: {e}", url.host))
    })?;
    let mut conn = ClientConnection::new(Arc::new(config), server_name)
        .map_err(|e| TransportError::Tls(format!("TLS setup failed: {e}")))?;
    conn.set_buffer_limit(None);
    // The handshake must not hang on a silent server.
    let _ = tcp.set_read_timeout(Some(CONNECT_TIMEOUT));
    while conn.is_handshaking() {
        if let Err(err) = conn.complete_io(&mut tcp) {
            return Err(TransportError::Tls(format!(
                "TLS handshake with {url} failed: {}",
                tls_error_text(&err)
            )));
        }
    }
    let _ = tcp.set_read_timeout(None);
    let tcp_read = tcp
        .try_clone()
        .map_err(|e| TransportError::Connect(format!("{url}: {e}")))?;
    Ok(TlsShared {
        conn: Mutex::new(conn),
        tcp_read,
        tcp_write: Mutex::new(tcp),
    })
}

fn tls_error_text(err: &io::Error) -> String {
    // rustls reports verifier errors wrapped in io::Error(InvalidData, rustls::Error::General).
    err.get_ref()
        .map(|inner| inner.to_string())
        .unwrap_or_else(|| err.to_string())
}

/// The default: a certificate chain to a public CA (webpki-roots), checked by rustls' own
/// verifier. Only the refusal is ours: a gateway with a self-signed or private-CA certificate
/// (the usual case on a LAN) is refused with the fingerprint it presented and how to pin it,
/// instead of webpki's bare `CaUsedAsEndEntity` or `UnknownIssuer`.
#[derive(Debug)]
struct PublicCaVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
}

impl ServerCertVerifier for PublicCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|err| match err {
                rustls::Error::InvalidCertificate(cause) => rustls::Error::General(
                    untrusted_certificate_advice(&cause, &certificate_fingerprint(end_entity)),
                ),
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// What to tell the user when the gateway's certificate is not publicly trusted. The seen
/// fingerprint is printed for comparison, not as something to copy blindly: pinning it without
/// checking it on the gateway host would trust whoever sits in between.
fn untrusted_certificate_advice(cause: &rustls::CertificateError, fingerprint: &str) -> String {
    use rustls::CertificateError as Cert;
    let what = match cause {
        // webpki reports a self-signed CA certificate used as the server's as
        // `Other(CaUsedAsEndEntity)`: the commonest home-made gateway certificate.
        Cert::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "the gateway's certificate is self-signed".to_string()
        }
        Cert::UnknownIssuer | Cert::BadSignature => {
            "the gateway's certificate is not issued by a public CA (self-signed or a private CA)"
                .to_string()
        }
        Cert::Expired | Cert::ExpiredContext { .. } => {
            "the gateway's certificate has expired".to_string()
        }
        Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
            "the gateway's certificate is not valid for this host name".to_string()
        }
        other => format!("the gateway's certificate is not trusted ({other:?})"),
    };
    format!(
        "{what}. It presented the certificate with SHA-256 fingerprint {fingerprint}. If that is \
         the gateway's own certificate (check on the gateway host: openssl x509 -in <its cert> \
         -noout -fingerprint -sha256), pin it: run again with --tls-fingerprint {fingerprint}"
    )
}

/// Trusts exactly one certificate: the leaf whose DER hashes to the pin. CA and hostname checks
/// are off, as in the TS client; handshake signatures are still verified, so the peer must hold
/// the pinned certificate's private key.
#[derive(Debug)]
struct PinnedCertVerifier {
    pin: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = certificate_fingerprint(end_entity.as_ref());
        if actual == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "gateway tls fingerprint mismatch: expected {}, the gateway presented {actual}. \
                 If the gateway's certificate was replaced on purpose, run again with \
                 --tls-fingerprint {actual}",
                self.pin
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What a session needs of a connection's read half, beyond `Read`. The TCP and TLS halves
/// here implement it, and so can any other stream: the session's tests use a Unix socket pair.
pub trait SocketRead: Read + Send {
    /// Bounds how long one `read` may block (the handshake); `None` blocks for as long as the
    /// peer is quiet.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

/// What a session's writer needs of a connection's write half, beyond `Write`.
pub trait SocketWrite: Write + Send + 'static {
    /// Bounds how long one write may block on a peer that stopped reading.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Shuts the connection down in both directions, which wakes a reader blocked in `read`
    /// on the other half.
    fn shutdown(&self);
}

/// The reading side of a connection.
pub enum ReadHalf {
    Plain(TcpStream),
    Tls(TlsReader),
}

/// Decrypts on the reader thread without holding the TLS lock while blocked on the socket.
pub struct TlsReader {
    shared: Arc<TlsShared>,
    cipher: Vec<u8>,
    plain: Vec<u8>,
    plain_pos: usize,
}

impl SocketRead for ReadHalf {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            ReadHalf::Plain(tcp) => tcp.set_read_timeout(timeout),
            ReadHalf::Tls(tls) => tls.shared.tcp_read.set_read_timeout(timeout),
        }
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadHalf::Plain(tcp) => tcp.read(buf),
            ReadHalf::Tls(tls) => tls.read(buf),
        }
    }
}

impl TlsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.plain_pos < self.plain.len() {
                let n = buf.len().min(self.plain.len() - self.plain_pos);
                buf[..n].copy_from_slice(&self.plain[self.plain_pos..self.plain_pos + n]);
                self.plain_pos += n;
                return Ok(n);
            }
            self.plain.clear();
            self.plain_pos = 0;
            let n = (&self.shared.tcp_read).read(&mut self.cipher)?;
            if n == 0 {
                return Ok(0);
            }
            let (needs_flush, peer_closed) = self.decrypt(n)?;
            if needs_flush {
                flush_tls(&self.shared)?;
            }
            if self.plain.is_empty() && peer_closed {
                return Ok(0);
            }
        }
    }

    /// Feeds `n` received bytes to rustls and moves all decrypted bytes out, so rustls' own
    /// plaintext buffer never fills up. Returns whether rustls has records to send back, and
    /// whether the peer closed the TLS session (close_notify).
    fn decrypt(&mut self, n: usize) -> io::Result<(bool, bool)> {
        let mut conn = lock(&self.shared.conn);
        let mut incoming = &self.cipher[..n];
        let mut peer_closed = false;
        while !incoming.is_empty() {
            conn.read_tls(&mut incoming)?;
            conn.process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            match conn.reader().read_to_end(&mut self.plain) {
                // read_to_end only returns Ok at a clean end of stream.
                Ok(_) => peer_closed = true,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => peer_closed = true,
                Err(err) => return Err(err),
            }
        }
        Ok((conn.wants_write(), peer_closed))
    }
}

/// Writes whatever TLS records rustls has queued. Takes `tcp_write` first so that records hit the
/// wire in the order they were produced, whichever thread produced them.
fn flush_tls(shared: &TlsShared) -> io::Result<()> {
    let mut tcp = lock(&shared.tcp_write);
    let mut records = Vec::new();
    {
        let mut conn = lock(&shared.conn);
        while conn.wants_write() {
            conn.write_tls(&mut records)?;
        }
    }
    tcp.write_all(&records)
}

/// The writing side of a connection. Only the session's writer thread holds it.
pub enum WriteHalf {
    Plain(TcpStream),
    Tls(Arc<TlsShared>),
}

impl SocketWrite for WriteHalf {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            WriteHalf::Plain(tcp) => tcp.set_write_timeout(timeout),
            WriteHalf::Tls(shared) => lock(&shared.tcp_write).set_write_timeout(timeout),
        }
    }

    fn shutdown(&self) {
        match self {
            WriteHalf::Plain(tcp) => {
                let _ = tcp.shutdown(Shutdown::Both);
            }
            WriteHalf::Tls(shared) => {
                let _ = shared.tcp_read.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Write for WriteHalf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Plain(tcp) => tcp.write(data),
            WriteHalf::Tls(shared) => {
                let mut tcp = lock(&shared.tcp_write);
                let mut records = Vec::with_capacity(data.len() + 64);
                {
                    let mut conn = lock(&shared.conn);
                    conn.writer().write_all(data)?;
                    while conn.wants_write() {
                        conn.write_tls(&mut records)?;
                    }
                }
                tcp.write_all(&records)?;
                Ok(data.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(tcp) => tcp.flush(),
            WriteHalf::Tls(shared) => lock(&shared.tcp_write).flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_formatting() {
        assert_eq!(
            GatewayUrl::new("127.0.0.1", 18789, false, None).to_url(),
            "ws://127.0.0.1:18789/"
        );
        assert_eq!(
            GatewayUrl::new("gw.example", 443, true, Some("openclaw-gw")).to_url(),
            "wss://gw.example:443/openclaw-gw"
        );
        assert_eq!(
            GatewayUrl::new("::1", 1, false, Some("/x")).to_url(),
            "ws://[::1]:1/x"
        );
    }

    #[test]
    fn plaintext_rule() {
        for ok in [
            "127.0.0.1",
            "localhost",
            "::1",
            "[::1]",
            "10.1.2.3",
            "192.168.1.2",
            "172.16.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "nas.local",
            "box.tail1234.ts.net",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(check_plaintext_allowed(ok, false).is_ok(), "{ok}");
        }
        for refused in [
            "8.8.8.8",
            "gateway.example.com",
            "100.128.0.1",
            "2001:db8::1",
            "172.32.0.1",
        ] {
            let err = check_plaintext_allowed(refused, false)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!(
                "SECURITY ERROR: Cannot connect to \"{refused}\" over plaintext ws://."
            )));
        }
        assert!(check_plaintext_allowed("gateway.example.com", true).is_ok());
    }

    #[test]
    fn fingerprint_forms() {
        let hex64 = "AB".repeat(32);
        let want = "ab".repeat(32);
        assert_eq!(normalize_fingerprint(&hex64).unwrap(), want);
        assert_eq!(
            normalize_fingerprint(&format!("SHA256:{hex64}")).unwrap(),
            want
        );
        let colons = vec!["aB"; 32].join(":");
        assert_eq!(normalize_fingerprint(&colons).unwrap(), want);
        for bad in ["", "abc", &"zz".repeat(32), &"ab".repeat(31), "ab:cd"] {
            assert_eq!(
                normalize_fingerprint(bad).unwrap_err().to_string(),
                "Invalid TLS fingerprint; expected a SHA-256 certificate fingerprint."
            );
        }
    }

    /// Fuzz regression (transport_host): a multi-byte character across byte 7 used to panic.
    #[test]
    fn fingerprint_with_multibyte_text_is_invalid_not_a_panic() {
        for bad in [
            "l\u{1}\0\0\0\0\u{712}och",
            "sha256\u{e9}",
            "\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            assert!(normalize_fingerprint(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pin_without_tls_is_refused() {
        let url = GatewayUrl::new("127.0.0.1", 1, false, None);
        let Err(err) = connect(&url, Some(&"ab".repeat(32))) else {
            panic!("connected")
        };
        assert_eq!(
            err.to_string(),
            "gateway tls fingerprint requires wss:// gateway url"
        );
    }
}
