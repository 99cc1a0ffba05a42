//! The `browser.proxy` reply (spec §3.3–3.5): `{result, files?, route?}`, the `browser-v1`
//! error envelope, the files a result points at, and the size limits.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{json, Map, Value};

/// Act error codes the gateway keeps (any other `code` is dropped by it).
const KNOWN_CODES: [&str; 7] = [
    "ACT_KIND_REQUIRED",
    "ACT_INVALID_REQUEST",
    "ACT_SELECTOR_UNSUPPORTED",
    "ACT_EVALUATE_DISABLED",
    "ACT_EXISTING_SESSION_UNSUPPORTED",
    "ACT_TARGET_ID_MISMATCH",
    "ACT_OPERATION_FAILED",
];
/// Files per reply.
pub const MAX_FILES: usize = 256;
/// Bytes per file.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Bytes of all files of one reply.
pub const MAX_TOTAL_FILE_BYTES: usize = 16 * 1024 * 1024;
/// The whole payload, counted as embedded in `payloadJSON` (24 MiB).
pub const MAX_ENCODED_PAYLOAD_BYTES: usize = 25_165_824;

/// A file produced in memory by a route (a screenshot), served under a path-like name. The
/// gateway never reads node paths; it only matches `files[].path` against the strings in the
/// result (spec §3.5), so nothing needs to touch the disk.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub path: String,
    pub bytes: Vec<u8>,
    pub mime: &'static str,
}

/// `{error:{status, body}, route}` with the body normalized as the gateway does: `error` must
/// be a non-empty string, `code` only if known, `reason` only `navigation_blocked`.
pub fn error_envelope(status: u16, body: &Map<String, Value>, route: &Value) -> Value {
    let status = if (400..=599).contains(&status) {
        status
    } else {
        500
    };
    let mut clean = Map::new();
    let message = body
        .get("error")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty());
    clean.insert(
        "error".into(),
        json!(message
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {status}"))),
    );
    if let Some(code) = body
        .get("code")
        .and_then(Value::as_str)
        .filter(|c| KNOWN_CODES.contains(c))
    {
        clean.insert("code".into(), json!(code));
    }
    if body.get("reason").and_then(Value::as_str) == Some("navigation_blocked") {
        clean.insert("reason".into(), json!("navigation_blocked"));
    }
    json!({ "error": { "status": status, "body": clean }, "route": route })
}

/// Without the envelope: `<status>: <error>`, or `HTTP <status>`.
pub fn plain_error(status: u16, body: &Map<String, Value>) -> String {
    match body.get("error").map(|e| match e {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    }) {
        Some(detail) if !detail.is_empty() => format!("{status}: {detail}"),
        _ => format!("HTTP {status}"),
    }
}

/// The file paths a result refers to: `path`, `imagePath`, `download.path`,
/// `downloads[].path` (deduplicated, in that order).
pub fn referenced_paths(result: &Value) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    let mut add = |value: Option<&Value>| {
        if let Some(path) = value
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if !paths.iter().any(|p| p == path) {
                paths.push(path.to_string());
            }
        }
    };
    add(result.get("path"));
    add(result.get("imagePath"));
    add(result.pointer("/download/path"));
    for download in result
        .get("downloads")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add(download.get("path"));
    }
    paths
}

/// Reads the referenced files (from the route's in-memory artifacts, else from disk) into
/// `{path, base64, mimeType}` entries, enforcing the file limits. Errors are the TS messages.
pub fn collect_files(paths: &[String], artifacts: &[Artifact]) -> Result<Vec<Value>, String> {
    if paths.len() > MAX_FILES {
        return Err(format!(
            "browser proxy response exceeds {MAX_FILES} file limit"
        ));
    }
    let by_path: HashMap<&str, &Artifact> =
        artifacts.iter().map(|a| (a.path.as_str(), a)).collect();
    let mut files = Vec::new();
    let mut total = 0usize;
    for path in paths {
        let read_failed =
            |detail: &str| format!("browser proxy file read failed for {path}: Error: {detail}");
        let (bytes, mime): (std::borrow::Cow<[u8]>, &str) = match by_path.get(path.as_str()) {
            Some(artifact) => (std::borrow::Cow::Borrowed(&artifact.bytes), artifact.mime),
            None => {
                let metadata = std::fs::metadata(path)
                    .ok()
                    .filter(|m| m.is_file())
                    .ok_or_else(|| read_failed("file not found"))?;
                check_size(metadata.len() as usize, total).map_err(|e| read_failed(&e))?;
                let bytes = std::fs::read(path).map_err(|_| read_failed("file not found"))?;
                let mime = sniff_mime(&bytes, path);
                (std::borrow::Cow::Owned(bytes), mime)
            }
        };
        check_size(bytes.len(), total).map_err(|e| read_failed(&e))?;
        total += bytes.len();
        files.push(json!({
            "path": path,
            "base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
            "mimeType": mime,
        }));
    }
    Ok(files)
}

fn check_size(size: usize, total_before: usize) -> Result<(), String> {
    if size > MAX_FILE_BYTES {
        return Err("browser proxy file exceeds 10 MiB limit".to_string());
    }
    if total_before + size > MAX_TOTAL_FILE_BYTES {
        return Err("browser proxy files exceed 16 MiB aggregate limit".to_string());
    }
    Ok(())
}

/// MIME type from magic bytes, then the extension.
pub fn sniff_mime(bytes: &[u8], path: &str) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return "image/png";
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return "image/jpeg";
    }
    if bytes.starts_with(b"%PDF-") {
        return "application/pdf";
    }
    let extension = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        _ => "application/octet-stream",
    }
}

/// The payload's cost once embedded as the `payloadJSON` string (TS
/// `countBrowserProxyEncodedPayloadBytes`): UTF-8 length, plus the quotes, plus one escape per
/// `"` and `\`. Rust strings hold no lone surrogates, so that term is always zero.
pub fn encoded_payload_bytes(serialized: &str) -> usize {
    serialized.len()
        + 2
        + serialized
            .bytes()
            .filter(|b| *b == b'"' || *b == b'\\')
            .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_normalized() {
        let route = json!({"status": "resolved", "profile": "openclaw", "driver": "openclaw"});
        let mut body = Map::new();
        body.insert(
            "error".into(),
            json!("browser navigation blocked by policy"),
        );
        body.insert("reason".into(), json!("navigation_blocked"));
        body.insert("code".into(), json!("SOMETHING_ELSE"));
        assert_eq!(
            error_envelope(400, &body, &route),
            json!({"error": {"status": 400, "body": {"error": "browser navigation blocked by policy", "reason": "navigation_blocked"}}, "route": route})
        );
        assert_eq!(
            error_envelope(404, &Map::new(), &route)["error"]["body"],
            json!({"error": "HTTP 404"})
        );
        assert_eq!(
            plain_error(404, &body),
            "404: browser navigation blocked by policy"
        );
        assert_eq!(plain_error(502, &Map::new()), "HTTP 502");
    }

    #[test]
    fn files_follow_the_result_paths() {
        let result = json!({"ok": true, "path": "/m/a.png", "download": {"path": "/m/a.png"}, "downloads": [{"path": "/m/b.txt"}]});
        assert_eq!(referenced_paths(&result), vec!["/m/a.png", "/m/b.txt"]);
        let artifacts = vec![Artifact {
            path: "/m/a.png".into(),
            bytes: b"\x89PNG\r\n\x1a\nxx".to_vec(),
            mime: "image/png",
        }];
        let files = collect_files(&["/m/a.png".to_string()], &artifacts).unwrap();
        assert_eq!(files[0]["mimeType"], "image/png");
        assert_eq!(files[0]["base64"], "iVBORw0KGgp4eA==");
        assert_eq!(
            collect_files(&["/nonexistent/x.png".to_string()], &[]).unwrap_err(),
            "browser proxy file read failed for /nonexistent/x.png: Error: file not found"
        );
        let big = vec![Artifact {
            path: "/m/big".into(),
            bytes: vec![0; MAX_FILE_BYTES + 1],
            mime: "image/png",
        }];
        assert!(collect_files(&["/m/big".to_string()], &big)
            .unwrap_err()
            .ends_with("Error: browser proxy file exceeds 10 MiB limit"));
        let many: Vec<String> = (0..=MAX_FILES).map(|i| format!("/m/{i}")).collect();
        assert_eq!(
            collect_files(&many, &[]).unwrap_err(),
            "browser proxy response exceeds 256 file limit"
        );
    }

    #[test]
    fn encoded_size_counts_escapes() {
        assert_eq!(encoded_payload_bytes(r#"{"a":"\\"}"#), 10 + 2 + 6);
        assert_eq!(sniff_mime(b"%PDF-1.4", "x"), "application/pdf");
        assert_eq!(sniff_mime(b"hello", "/d/data.txt"), "text/plain");
    }
}
