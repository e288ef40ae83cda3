//! The MCP client's own error: what went wrong with an upstream server, typed, so callers (the
//! retry policy here, circuit breakers and HTTP mapping in core) decide on the variant instead of
//! parsing the message.
//!
//! Invariants:
//! - Every variant carries the whole message for a team admin; `Display` is exactly that
//!   message (core maps it to its API error without rewording: `shared::error`).
//! - Messages are scrubbed with the endpoint's redactor before they leave the client
//!   ([`McpError::map_message`]); no header value ever appears in one.
//! - A transport failure is classified once, where it is made ([`McpError::transport`]): the
//!   connection was never made ([`McpError::Unreachable`], nothing was sent) or it broke after
//!   the request went out ([`McpError::ConnectionLost`]).

/// Why an MCP call (or one HTTP exchange of it) failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum McpError {
    /// No connection was made (DNS, refused, TLS handshake): nothing was sent.
    #[error("{0}")]
    Unreachable(String),
    /// The connection broke after the request went out, or the reply was cut off.
    #[error("{0}")]
    ConnectionLost(String),
    /// The server (or a proxy before it) answered a non-2xx HTTP status. `retry_after` is the
    /// server's `Retry-After` on a 429/503, as it wrote it.
    #[error("{message}")]
    HttpStatus {
        status: u16,
        retry_after: Option<String>,
        message: String,
    },
    /// The server answered our request with a JSON-RPC error.
    #[error("{message}")]
    JsonRpc { code: i64, message: String },
    /// The upstream session is gone (expired, server restarted) and was not recovered.
    #[error("{0}")]
    SessionExpired(String),
    /// A 2xx reply that is neither JSON nor SSE (an HTML page, plain text…).
    #[error("{message}")]
    UnexpectedContentType {
        content_type: String,
        message: String,
    },
    /// A reply we cannot use: not JSON-RPC, over a size cap, an incompatible protocol
    /// version, a result of the wrong shape, no MCP server at the URL.
    #[error("{0}")]
    Protocol(String),
    /// Refused before anything was sent: input the client will not send (a header value that
    /// is not valid HTTP, a tool whose `inputSchema` has invalid `x-mcp-header` annotations).
    #[error("{0}")]
    Validation(String),
    /// The call's time budget ran out, or the HTTP client gave up waiting.
    #[error("{0}")]
    Timeout(String),
    /// A bug of ours; the detail is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = McpError> = std::result::Result<T, E>;

/// Phrases HTTP clients use for a connection that was never made (reqwest natively:
/// "could not connect to …"; workerd: "connect(): Connection refused"). workerd's "Network
/// connection lost" is *not* one of them: that one can happen after the body was sent.
const CONNECT_PHRASES: &[&str] = &[
    "could not connect to",
    "connection refused",
    "econnrefused",
    "dns lookup",
    "failed to lookup address",
    "no such host",
];

/// Phrases for a reply that broke off after the request went out.
const BROKEN_PHRASES: &[&str] = &[
    "closed the reply stream before answering",
    "reading the reply",
    "reading the server's reply",
    "connection reset",
    "connection closed",
    "network connection lost",
    "broken pipe",
    "unexpected eof",
    "error decoding response body",
];

fn says(message: &str, phrases: &[&str]) -> bool {
    let m = message.to_ascii_lowercase();
    phrases.iter().any(|p| m.contains(p))
}

/// The message field of an error, by reference (`&McpError`) or mutable reference: the one
/// list of where each variant keeps its message.
macro_rules! message_of {
    ($e:expr) => {
        match $e {
            McpError::Unreachable(m)
            | McpError::ConnectionLost(m)
            | McpError::SessionExpired(m)
            | McpError::Protocol(m)
            | McpError::Validation(m)
            | McpError::Timeout(m)
            | McpError::Internal(m) => m,
            McpError::HttpStatus { message, .. }
            | McpError::JsonRpc { message, .. }
            | McpError::UnexpectedContentType { message, .. } => message,
        }
    };
}

impl McpError {
    /// A failure of the HTTP client itself, classified from what the platform said (workerd
    /// reports fetch failures as text only): [`McpError::Unreachable`] when the connection was
    /// never made, else [`McpError::ConnectionLost`].
    pub fn transport(message: impl Into<String>) -> Self {
        let message = message.into();
        if says(&message, CONNECT_PHRASES) {
            McpError::Unreachable(message)
        } else {
            McpError::ConnectionLost(message)
        }
    }

    /// The message for a team admin (what `Display` shows, without the `internal error:`
    /// prefix for [`McpError::Internal`]).
    pub fn message(&self) -> &str {
        message_of!(self)
    }

    /// The same error with its message rewritten (scrubbing, prefixes, suffixes).
    pub fn map_message(mut self, f: impl FnOnce(String) -> String) -> Self {
        let message: &mut String = message_of!(&mut self);
        *message = f(std::mem::take(message));
        self
    }

    /// The error is about the upstream server (every variant but [`McpError::Timeout`] and
    /// [`McpError::Internal`]); core answers these as `upstream_error`.
    pub fn is_upstream(&self) -> bool {
        !matches!(self, McpError::Timeout(_) | McpError::Internal(_))
    }

    /// The connection was never made, so nothing reached the server.
    pub fn is_connect(&self) -> bool {
        match self {
            McpError::Unreachable(_) => true,
            McpError::ConnectionLost(_) => false,
            other => other.is_upstream() && says(other.message(), CONNECT_PHRASES),
        }
    }

    /// The connection broke after the request went out.
    pub fn is_broken(&self) -> bool {
        match self {
            McpError::ConnectionLost(_) => true,
            McpError::Unreachable(_) => false,
            other => other.is_upstream() && says(other.message(), BROKEN_PHRASES),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_classified_where_they_are_made() {
        assert!(matches!(
            McpError::transport("connect(): Connection refused"),
            McpError::Unreachable(_)
        ));
        assert!(matches!(
            McpError::transport("Network connection lost."),
            McpError::ConnectionLost(_)
        ));
        assert!(McpError::transport("could not connect to h: x").is_connect());
        assert!(McpError::transport("Network connection lost.").is_broken());
        assert!(!McpError::Timeout("could not connect to h".into()).is_connect());
    }

    #[test]
    fn display_is_the_message_and_map_message_keeps_the_variant() {
        let e = McpError::HttpStatus {
            status: 503,
            retry_after: Some("5".into()),
            message: "busy".into(),
        };
        assert_eq!(e.to_string(), "busy");
        let e = e.map_message(|m| format!("{m}!"));
        assert_eq!(
            e,
            McpError::HttpStatus {
                status: 503,
                retry_after: Some("5".into()),
                message: "busy!".into()
            }
        );
        assert_eq!(
            McpError::Internal("x".into()).to_string(),
            "internal error: x"
        );
    }
}
