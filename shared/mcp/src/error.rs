//! The MCP client's own error: what went wrong with an upstream server, typed, so callers (the
//! retry policy here, circuit breakers and HTTP mapping in core) decide on the variant instead of
//! parsing the message.
//!
//! Invariants:
//! - Every variant carries the whole message for a team admin; `Display` is exactly that
//!   message (core maps it to its API error without rewording: `shared::error`).
//! - Messages are scrubbed with the endpoint's redactor before they leave the client
//!   ([`McpError::map_message`]); no header value ever appears in one.
//! - A call that was tried more than once, or stopped before another try for a stated reason,
//!   fails as [`McpError::GaveUp`]: the number of attempts and the last attempt's own error,
//!   typed, beside the message that says both; every question about the failure
//!   ([`McpError::is_upstream`], [`McpError::is_connect`]…) is answered by that last error.
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
    /// The call failed after `attempts` attempts (retried, or not retried for a reason the
    /// message states): `last` is the last attempt's error, `message` is its message followed
    /// by the attempts and why no more were made ("… (gave up after 4 attempts)").
    #[error("{message}")]
    GaveUp {
        attempts: u32,
        last: Box<McpError>,
        message: String,
    },
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
            | McpError::UnexpectedContentType { message, .. }
            | McpError::GaveUp { message, .. } => message,
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

    /// The same error with its message rewritten (scrubbing, prefixes, suffixes); for
    /// [`McpError::GaveUp`], the last attempt's message too.
    pub fn map_message(self, f: impl Fn(String) -> String) -> Self {
        self.map_each_message(&f)
    }

    fn map_each_message(mut self, f: &dyn Fn(String) -> String) -> Self {
        if let McpError::GaveUp { last, .. } = &mut self {
            let inner = std::mem::replace(last.as_mut(), McpError::Internal(String::new()));
            **last = inner.map_each_message(f);
        }
        let message: &mut String = message_of!(&mut self);
        *message = f(std::mem::take(message));
        self
    }

    /// The call's failure after `attempts` attempts: `last` with `suffix` (how many attempts,
    /// why no more) appended to its message, as [`McpError::GaveUp`]; `last` itself when there
    /// is nothing to add (one attempt, no reason to state) or it is [`McpError::Internal`] (a
    /// bug of ours, not a server's failure to answer).
    pub fn gave_up(last: McpError, attempts: u32, suffix: &str) -> Self {
        if suffix.is_empty() || matches!(last, McpError::Internal(_)) {
            return last;
        }
        McpError::GaveUp {
            attempts,
            message: format!("{}{suffix}", last.message()),
            last: Box::new(last),
        }
    }

    /// The error of the last attempt: itself, unless it is [`McpError::GaveUp`].
    pub fn last(&self) -> &McpError {
        match self {
            McpError::GaveUp { last, .. } => last.last(),
            other => other,
        }
    }

    /// Attempts the failed call made (1 unless it is [`McpError::GaveUp`]).
    pub fn attempts(&self) -> u32 {
        match self {
            McpError::GaveUp { attempts, .. } => *attempts,
            _ => 1,
        }
    }

    /// The error is about the upstream server (every variant but [`McpError::Timeout`] and
    /// [`McpError::Internal`]); core answers these as `upstream_error`.
    pub fn is_upstream(&self) -> bool {
        !matches!(self.last(), McpError::Timeout(_) | McpError::Internal(_))
    }

    /// The connection was never made, so nothing reached the server.
    pub fn is_connect(&self) -> bool {
        match self.last() {
            McpError::Unreachable(_) => true,
            McpError::ConnectionLost(_) => false,
            other => other.is_upstream() && says(other.message(), CONNECT_PHRASES),
        }
    }

    /// The connection broke after the request went out.
    pub fn is_broken(&self) -> bool {
        match self.last() {
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

    #[test]
    fn a_call_that_gave_up_carries_its_attempts_and_answers_as_its_last_error() {
        let last = McpError::transport("connect(): Connection refused");
        let e = McpError::gave_up(last.clone(), 4, " (gave up after 4 attempts)");
        assert_eq!(e.attempts(), 4);
        assert_eq!(e.last(), &last);
        assert_eq!(
            e.to_string(),
            "connect(): Connection refused (gave up after 4 attempts)"
        );
        assert!(e.is_connect() && e.is_upstream() && !e.is_broken());
        let scrubbed = e.map_message(|m| m.replace("refused", "[x]"));
        assert_eq!(
            scrubbed.message(),
            "connect(): Connection [x] (gave up after 4 attempts)"
        );
        assert_eq!(
            scrubbed.last().message(),
            "connect(): Connection [x]",
            "the last error is scrubbed too"
        );
        assert!(
            !McpError::gave_up(McpError::Timeout("t".into()), 2, " (2 attempts)").is_upstream()
        );
        // Nothing to add, or a bug of ours: the error as it was.
        assert_eq!(McpError::gave_up(last.clone(), 1, ""), last);
        let bug = McpError::Internal("bug".into());
        assert_eq!(
            McpError::gave_up(bug.clone(), 3, " (gave up after 3 attempts)"),
            bug
        );
        assert_eq!(bug.attempts(), 1);
    }
}
