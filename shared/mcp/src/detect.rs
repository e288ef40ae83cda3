//! Which protocol generation a server speaks, decided from documented signals only.
//! Pure functions over outcomes; the client performs the requests.
//!
//! Order with `TransportPin::Auto` (newest first, each probe only on first contact, because the
//! verdict is cached with the session state):
//! 1. `server/discover` at 2026-07-28. A result listing 2026-07-28 ⇒ stateless. An
//!    `UnsupportedProtocolVersion` error listing only modern versions we lack ⇒ incompatible.
//!    Any other answer (400/404/405, -32601, a legacy "server not initialized"…) ⇒ not modern,
//!    as the Python and TypeScript SDK clients decide. Unreachable or timed out ⇒ give up now:
//!    an outage is not an era verdict.
//! 2. POST `initialize`. Answered 404 or 405 ⇒ the URL does not take POSTs: legacy HTTP+SSE
//!    (the 2025-03-26 backwards-compatibility rule).
//!
//! Invariants: a verdict never depends on free text except [`is_lost_session`], which must
//! recognise the wording of deployed SDKs ("Session not found", "Server not initialized",
//! "No valid session ID provided").

use serde_json::Value;

use super::reply::Failure;
use crate::error::McpError;

pub const MODERN_VERSION: &str = "2026-07-28";
/// What we offer in `initialize` on Streamable HTTP.
pub const LATEST_HANDSHAKE_VERSION: &str = "2025-11-25";
/// What we offer in `initialize` on legacy HTTP+SSE.
pub const LEGACY_SSE_VERSION: &str = "2024-11-05";
/// Versions of the handshake era we accept from `initialize` (2024-11-05 too: some servers
/// negotiate it over Streamable HTTP, and the wire is the same).
pub const HANDSHAKE_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

#[derive(Debug, Clone, PartialEq)]
pub enum DiscoverVerdict {
    Modern,
    Legacy,
    Incompatible(String),
    /// Not an era verdict: report this failure.
    GiveUp,
}

/// The protocol version an `initialize` result settled on, if it is one of
/// [`HANDSHAKE_VERSIONS`] (both transports' handshakes check it the same way).
pub fn negotiated_version(result: &Value) -> Result<&str, Failure> {
    let version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !HANDSHAKE_VERSIONS.contains(&version) {
        return Err(Failure::upstream(format!(
            "initialize: the server wants MCP protocol version \"{}\", which mcp-edge does not speak (it speaks {})",
            super::text::clip(version, 40),
            HANDSHAKE_VERSIONS.join(", ")
        )));
    }
    Ok(version)
}

pub fn after_discover(outcome: &Result<Value, Failure>) -> DiscoverVerdict {
    match outcome {
        Ok(result) => {
            let modern = result
                .get("supportedVersions")
                .and_then(Value::as_array)
                .is_some_and(|list| list.iter().any(|v| v.as_str() == Some(MODERN_VERSION)));
            if modern {
                DiscoverVerdict::Modern
            } else {
                DiscoverVerdict::Legacy
            }
        }
        Err(Failure::Unreachable(_)) | Err(Failure::Fatal(McpError::Timeout(_))) => {
            DiscoverVerdict::GiveUp
        }
        Err(failure) => match failure.rpc() {
            Some(e) if e.is_unsupported_version() => match e.supported_versions() {
                Some(list) if list.iter().any(|v| v == MODERN_VERSION) => DiscoverVerdict::Modern,
                Some(list)
                    if !list.is_empty()
                        && !list
                            .iter()
                            .any(|v| HANDSHAKE_VERSIONS.contains(&v.as_str())) =>
                {
                    DiscoverVerdict::Incompatible(format!(
                        "the server speaks only MCP {} and mcp-edge speaks {MODERN_VERSION} and {}",
                        list.join(", "),
                        HANDSHAKE_VERSIONS.join(", ")
                    ))
                }
                _ => DiscoverVerdict::Legacy,
            },
            _ => DiscoverVerdict::Legacy,
        },
    }
}

/// `initialize` failed this way ⇒ try the legacy HTTP+SSE transport.
pub fn initialize_means_legacy_sse(failure: &Failure) -> bool {
    matches!(failure.status(), Some(404 | 405))
}

/// A 2026-07-28 request was refused as a whole, not by the method: `UnsupportedProtocolVersion`,
/// or 400/404/405 without a JSON-RPC error or with the generic -32000 handshake-era SDKs use
/// ("Server not initialized", "Unsupported protocol version").
pub fn modern_refused(failure: &Failure) -> bool {
    if failure.rpc().is_some_and(|e| e.is_unsupported_version()) {
        return true;
    }
    matches!(failure.status(), Some(400 | 404 | 405))
        && failure.rpc().is_none_or(|e| e.code == -32000)
}

/// A Streamable HTTP request failed because its session is gone (expired, server restarted).
/// `had_session` says whether the request carried a session id.
pub fn is_lost_session(status: u16, message: &str, had_session: bool) -> bool {
    let m = message.to_ascii_lowercase();
    match status {
        404 => had_session,
        400 => m.contains("session") || m.contains("not initialized"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::RpcError;
    use serde_json::json;

    fn status(status: u16, rpc: Option<RpcError>) -> Failure {
        Failure::Status {
            status,
            rpc,
            retry_after: None,
            message: String::new(),
        }
    }

    fn unsupported(list: Value) -> RpcError {
        RpcError {
            code: -32022,
            message: "Unsupported protocol version".into(),
            data: Some(json!({ "supported": list, "requested": MODERN_VERSION })),
        }
    }

    #[test]
    fn discover_results() {
        let modern = json!({"supportedVersions": ["2026-07-28"], "capabilities": {}});
        assert_eq!(after_discover(&Ok(modern)), DiscoverVerdict::Modern);
        let legacy_only = json!({"supportedVersions": ["2025-11-25"], "capabilities": {}});
        assert_eq!(after_discover(&Ok(legacy_only)), DiscoverVerdict::Legacy);
        assert_eq!(after_discover(&Ok(json!({}))), DiscoverVerdict::Legacy);
    }

    #[test]
    fn discover_errors_fall_back_except_disjoint_modern_and_outages() {
        for f in [
            status(400, None),
            status(404, None),
            status(405, None),
            status(
                400,
                Some(RpcError {
                    code: -32000,
                    message: "Bad Request: Server not initialized".into(),
                    data: None,
                }),
            ),
            Failure::Rpc {
                error: RpcError {
                    code: -32601,
                    message: "Method not found".into(),
                    data: None,
                },
                message: String::new(),
            },
            status(400, Some(unsupported(json!(["2025-11-25", "2030-01-01"])))),
            Failure::upstream("the reply was text/html"),
        ] {
            assert_eq!(
                after_discover(&Err(f.clone())),
                DiscoverVerdict::Legacy,
                "{f:?}"
            );
        }
        assert!(matches!(
            after_discover(&Err(status(400, Some(unsupported(json!(["2030-01-01"])))))),
            DiscoverVerdict::Incompatible(_)
        ));
        assert_eq!(
            after_discover(&Err(Failure::Unreachable(McpError::Unreachable(
                "refused".into()
            )))),
            DiscoverVerdict::GiveUp
        );
        assert_eq!(
            after_discover(&Err(Failure::Fatal(McpError::Timeout("slow".into())))),
            DiscoverVerdict::GiveUp
        );
    }

    #[test]
    fn legacy_sse_only_on_404_and_405() {
        assert!(initialize_means_legacy_sse(&status(404, None)));
        assert!(initialize_means_legacy_sse(&status(405, None)));
        assert!(!initialize_means_legacy_sse(&status(401, None)));
        assert!(!initialize_means_legacy_sse(&status(500, None)));
    }

    #[test]
    fn lost_sessions_in_the_wording_of_deployed_sdks() {
        assert!(is_lost_session(404, "Session not found", true));
        assert!(!is_lost_session(404, "Not Found", false));
        assert!(is_lost_session(
            400,
            "Bad Request: Server not initialized",
            true
        ));
        assert!(is_lost_session(
            400,
            "Bad Request: No valid session ID provided",
            false
        ));
        assert!(!is_lost_session(400, "Invalid params", true));
        assert!(!is_lost_session(500, "session exploded", true));
    }
}
