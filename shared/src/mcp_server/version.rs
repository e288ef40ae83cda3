//! Protocol versions the MCP endpoint speaks, `initialize`'s negotiation, and the checks of
//! the version and routing headers (`MCP-Protocol-Version`, and on 2026-07-28 requests
//! `Mcp-Method`, `Mcp-Name` and `_meta`).
//!
//! Invariants:
//! - `initialize` answers the client's version when it is a handshake version we speak,
//!   else our latest ([`LATEST_HANDSHAKE`]); 2026-07-28 has no handshake (`server/discover`).
//! - A request whose `MCP-Protocol-Version` header we do not speak is refused (400), and so
//!   is a 2026-07-28 request whose headers and body disagree.

use base64::Engine;
use serde_json::Value;

use super::message::{RpcFailure, INVALID_REQUEST, UNSUPPORTED_PROTOCOL_VERSION};

/// The stateless generation (no handshake; `_meta` and routing headers on every request).
pub const STATELESS: &str = "2026-07-28";
/// Handshake versions, newest first.
pub const HANDSHAKE: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
pub const LATEST_HANDSHAKE: &str = HANDSHAKE[0];
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// Every version, newest first (`server/discover`'s `supportedVersions`).
pub fn supported() -> Vec<&'static str> {
    std::iter::once(STATELESS)
        .chain(HANDSHAKE.iter().copied())
        .collect()
}

/// The version `initialize` answers for the client's `requested` one.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| HANDSHAKE.iter().copied().find(|v| *v == r))
        .unwrap_or(LATEST_HANDSHAKE)
}

/// The routing headers of one request, as received.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Headers<'a> {
    pub protocol_version: Option<&'a str>,
    pub method: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Checks a request's headers against its body; answers whether it is a 2026-07-28 request.
pub fn check(headers: &Headers<'_>, method: &str, params: &Value) -> Result<bool, RpcFailure> {
    let Some(version) = headers.protocol_version.map(str::trim) else {
        return Ok(false);
    };
    if version != STATELESS && !HANDSHAKE.contains(&version) {
        return Err(RpcFailure::new(
            400,
            UNSUPPORTED_PROTOCOL_VERSION,
            format!(
                "unsupported MCP-Protocol-Version '{}'",
                version.chars().take(32).collect::<String>()
            ),
        )
        .with_data(serde_json::json!({ "supported": supported() })));
    }
    if version != STATELESS {
        return Ok(false);
    }
    let refuse = |what: &str| {
        Err(RpcFailure::new(
            400,
            INVALID_REQUEST,
            format!("{what} does not match the request body"),
        ))
    };
    if headers.method != Some(method) {
        return refuse("the Mcp-Method header");
    }
    let meta_version = params
        .get("_meta")
        .and_then(|m| m.get(META_PROTOCOL_VERSION))
        .and_then(Value::as_str);
    if meta_version != Some(STATELESS) {
        return refuse("_meta's io.modelcontextprotocol/protocolVersion");
    }
    if method == "tools/call" {
        let name = params.get("name").and_then(Value::as_str);
        if headers.name.and_then(decode_header_value).as_deref() != name {
            return refuse("the Mcp-Name header");
        }
    }
    Ok(true)
}

/// A header value as sent: verbatim, or `=?base64?<utf-8>?=`.
pub fn decode_header_value(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn initialize_answers_the_clients_version_when_spoken_else_the_latest() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2025-11-25")), "2025-11-25");
        assert_eq!(negotiate(Some("2024-11-05")), LATEST_HANDSHAKE);
        assert_eq!(negotiate(Some("2026-07-28")), LATEST_HANDSHAKE);
        assert_eq!(negotiate(None), LATEST_HANDSHAKE);
    }

    #[test]
    fn an_unknown_version_header_is_refused_and_none_is_a_handshake_request() {
        let h = Headers {
            protocol_version: Some("1999-01-01"),
            ..Headers::default()
        };
        let err = check(&h, "tools/list", &json!({})).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.data.unwrap()["supported"][0], STATELESS);
        assert_eq!(
            check(&Headers::default(), "tools/list", &json!({})),
            Ok(false)
        );
        let h = Headers {
            protocol_version: Some("2025-06-18"),
            ..Headers::default()
        };
        assert_eq!(check(&h, "tools/list", &json!({})), Ok(false));
    }

    #[test]
    fn stateless_requests_need_headers_that_agree_with_the_body() {
        let params = json!({"name": "démo__echo", "_meta": {META_PROTOCOL_VERSION: STATELESS}});
        let encoded = "=?base64?ZMOpbW9fX2VjaG8=?=";
        let ok = Headers {
            protocol_version: Some(STATELESS),
            method: Some("tools/call"),
            name: Some(encoded),
        };
        assert_eq!(check(&ok, "tools/call", &params), Ok(true));
        let wrong_method = Headers {
            method: Some("tools/list"),
            ..ok.clone()
        };
        assert_eq!(
            check(&wrong_method, "tools/call", &params)
                .unwrap_err()
                .status,
            400
        );
        let wrong_name = Headers {
            name: Some("other"),
            ..ok.clone()
        };
        assert!(check(&wrong_name, "tools/call", &params).is_err());
        assert!(
            check(&ok, "tools/call", &json!({"name": "démo__echo"})).is_err(),
            "no _meta"
        );
    }
}
