//! The one error type of mcp-edge and its mapping to HTTP.
//!
//! Invariants:
//! - Every failure a client can see is an [`Error`]; [`Error::status`] and [`Error::code`] are
//!   the only place a variant becomes an HTTP status and a contract code (DESIGN.md §2).
//! - [`Error::Internal`] carries detail for the log only: [`Error::public_message`] never
//!   returns it, so internals (SQL, stack traces, secrets) cannot reach a response.
//! - Upstream messages are written by us from what the upstream said, already trimmed and
//!   free of credentials: they are meant for a team admin to act on.
//! - The MCP client's typed [`McpError`] becomes an [`Error`] here and nowhere else
//!   (`From<McpError>`): its message unchanged, `Timeout` as 504 `timeout`, `Internal` as 500,
//!   every other variant (unreachable, connection lost, HTTP status, JSON-RPC error, expired
//!   session, unexpected content type, protocol, refused input) as 502 `upstream_error`.

use mcp_client::McpError;
use serde_json::{json, Map, Value};

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    Authorization(String),
    #[error("{message}")]
    Validation { message: String, details: Value },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A per-team quota is used up: 409 `conflict`, with `{limit, current}` in the details.
    #[error("{message}")]
    Quota {
        message: String,
        limit: u64,
        current: u64,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{message}")]
    RateLimit {
        message: String,
        retry_after_secs: u64,
    },
    /// The tool ran and reported a failure of its own (not a transport problem).
    #[error("{0}")]
    Tool(String),
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    Timeout(String),
    /// Detail is for logs only; the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn validation(message: impl Into<String>) -> Self {
        Error::Validation {
            message: message.into(),
            details: Value::Object(Map::new()),
        }
    }

    pub fn validation_with(message: impl Into<String>, details: Value) -> Self {
        Error::Validation {
            message: message.into(),
            details,
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::Validation { .. } => 400,
            Error::Auth(_) => 401,
            Error::Authorization(_) => 403,
            Error::NotFound(_) => 404,
            Error::Conflict(_) | Error::Quota { .. } => 409,
            Error::PayloadTooLarge(_) => 413,
            Error::RateLimit { .. } => 429,
            Error::Tool(_) | Error::Upstream(_) => 502,
            Error::Timeout(_) => 504,
            Error::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::Auth(_) => "auth_error",
            Error::Authorization(_) => "authorization_error",
            Error::Validation { .. } => "validation_error",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) | Error::Quota { .. } => "conflict",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::RateLimit { .. } => "rate_limit",
            Error::Tool(_) => "tool_error",
            Error::Upstream(_) => "upstream_error",
            Error::Timeout(_) => "timeout",
            Error::Internal(_) => "internal_error",
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "internal error; the request id identifies it in the logs".into(),
            other => other.to_string(),
        }
    }

    pub fn details(&self) -> Value {
        match self {
            Error::Validation { details, .. } => details.clone(),
            Error::RateLimit {
                retry_after_secs, ..
            } => json!({ "retry_after_seconds": retry_after_secs }),
            Error::Quota { limit, current, .. } => json!({ "limit": limit, "current": current }),
            _ => Value::Object(Map::new()),
        }
    }

    /// The contract body: `{status, code, message, details, request_id, error}`.
    pub fn to_body(&self, request_id: &str) -> Value {
        let message = self.public_message();
        json!({
            "status": "error",
            "code": self.code(),
            "message": message,
            "details": self.details(),
            "request_id": request_id,
            "error": message,
        })
    }
}

impl From<McpError> for Error {
    fn from(e: McpError) -> Self {
        match e {
            McpError::Timeout(m) => Error::Timeout(m),
            McpError::Internal(m) => Error::Internal(m),
            McpError::Unreachable(m)
            | McpError::ConnectionLost(m)
            | McpError::SessionExpired(m)
            | McpError::Protocol(m)
            | McpError::Validation(m)
            | McpError::HttpStatus { message: m, .. }
            | McpError::JsonRpc { message: m, .. }
            | McpError::UnexpectedContentType { message: m, .. } => Error::Upstream(m),
            // The attempts are in the message; the kind is the last attempt's.
            McpError::GaveUp { last, message, .. } => match last.last() {
                McpError::Timeout(_) => Error::Timeout(message),
                McpError::Internal(_) => Error::Internal(message),
                _ => Error::Upstream(message),
            },
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_documented_status_and_code() {
        let cases = [
            (Error::Auth("x".into()), 401, "auth_error"),
            (Error::Authorization("x".into()), 403, "authorization_error"),
            (Error::validation("x"), 400, "validation_error"),
            (Error::NotFound("x".into()), 404, "not_found"),
            (Error::Conflict("x".into()), 409, "conflict"),
            (
                Error::Quota {
                    message: "x".into(),
                    limit: 2,
                    current: 2,
                },
                409,
                "conflict",
            ),
            (Error::PayloadTooLarge("x".into()), 413, "payload_too_large"),
            (
                Error::RateLimit {
                    message: "x".into(),
                    retry_after_secs: 3,
                },
                429,
                "rate_limit",
            ),
            (Error::Tool("x".into()), 502, "tool_error"),
            (Error::Upstream("x".into()), 502, "upstream_error"),
            (Error::Timeout("x".into()), 504, "timeout"),
            (Error::Internal("x".into()), 500, "internal_error"),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert_eq!(err.code(), code, "{err:?}");
        }
    }

    #[test]
    fn mcp_errors_keep_their_message_and_map_to_upstream_timeout_or_internal() {
        let upstream = [
            McpError::Unreachable("u".into()),
            McpError::ConnectionLost("u".into()),
            McpError::SessionExpired("u".into()),
            McpError::Protocol("u".into()),
            McpError::Validation("u".into()),
            McpError::HttpStatus {
                status: 503,
                retry_after: Some("1".into()),
                message: "u".into(),
            },
            McpError::JsonRpc {
                code: -32601,
                message: "u".into(),
            },
            McpError::UnexpectedContentType {
                content_type: "text/html".into(),
                message: "u".into(),
            },
        ];
        for e in upstream {
            let mapped = Error::from(e.clone());
            assert_eq!(mapped, Error::Upstream("u".into()), "{e:?}");
            assert_eq!((mapped.status(), mapped.code()), (502, "upstream_error"));
        }
        let timeout = Error::from(McpError::Timeout("t".into()));
        assert_eq!(timeout, Error::Timeout("t".into()));
        assert_eq!((timeout.status(), timeout.code()), (504, "timeout"));
        let internal = Error::from(McpError::Internal("i".into()));
        assert_eq!(internal, Error::Internal("i".into()));
        assert_eq!(internal.status(), 500);
    }

    #[test]
    fn a_call_that_gave_up_maps_by_its_last_attempts_error_with_the_attempts_in_the_message() {
        let refused = McpError::gave_up(
            McpError::Unreachable("refused".into()),
            4,
            " (gave up after 4 attempts)",
        );
        assert_eq!(
            Error::from(refused),
            Error::Upstream("refused (gave up after 4 attempts)".into())
        );
        let slow = McpError::gave_up(McpError::Timeout("slow".into()), 3, " (3 attempts)");
        assert_eq!(
            Error::from(slow),
            Error::Timeout("slow (3 attempts)".into())
        );
    }

    #[test]
    fn internal_detail_never_reaches_the_body() {
        let body = Error::internal("D1_ERROR: no such table secret_sauce").to_body("req-1");
        let text = body.to_string();
        assert!(!text.contains("secret_sauce"), "{text}");
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["request_id"], "req-1");
    }

    #[test]
    fn body_repeats_message_as_error_for_older_clients() {
        let body = Error::NotFound("server not found".into()).to_body("r");
        assert_eq!(body["status"], "error");
        assert_eq!(body["message"], "server not found");
        assert_eq!(body["error"], "server not found");
    }

    #[test]
    fn body_carries_validation_and_quota_details() {
        let body = Error::validation_with("bad", json!({"field": "tool_name"})).to_body("r");
        assert_eq!(body["code"], "validation_error");
        assert_eq!(body["message"], "bad");
        assert_eq!(body["details"], json!({"field": "tool_name"}));
        let quota = Error::Quota {
            message: "full".into(),
            limit: 50,
            current: 50,
        };
        let body = quota.to_body("r");
        assert_eq!(body["code"], "conflict");
        assert_eq!(body["details"], json!({"limit": 50, "current": 50}));
    }
}
