//! JSON-RPC for the MCP endpoint: what a POST carries, the answers, and the one mapping from
//! [`Error`] to a JSON-RPC error and HTTP status.
//!
//! Invariants:
//! - A body is one message (JSON-RPC batches are not part of MCP since 2025-06-18): a
//!   request, a notification or a response; anything else is refused with 400 (`-32600`), and
//!   unparsable JSON with 400 (`-32700`).
//! - [`rpc_error`] never puts more in an error than [`Error::public_message`] and
//!   [`Error::details`] (so never an internal detail or a secret).

use serde_json::{json, Value};

use crate::error::Error;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// Implementation-defined server error (auth, membership, limits…); `data.code` says which.
pub const SERVER_ERROR: i64 = -32000;
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = mcp_client::model::UNSUPPORTED_PROTOCOL_VERSION;

/// One message a client POSTed.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification, or the client's answer to a request (we send none): accepted, 202.
    Accepted,
}

/// A refusal: the HTTP status and the JSON-RPC error.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcFailure {
    pub status: u16,
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcFailure {
    pub fn new(status: u16, code: i64, message: impl Into<String>) -> RpcFailure {
        RpcFailure {
            status,
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> RpcFailure {
        self.data = Some(data);
        self
    }

    /// The error response for request `id` (`null` when unknown).
    pub fn to_body(&self, id: &Value) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        json!({ "jsonrpc": "2.0", "id": id, "error": error })
    }
}

/// The one mapping from the API's errors: the status the action API would answer, `-32602`
/// for validation and not-found, `-32603` for internal errors, `-32000` otherwise, with the
/// contract code, details and request id in `data`.
pub fn rpc_error(err: &Error, request_id: &str) -> RpcFailure {
    let code = match err {
        Error::Validation { .. } | Error::NotFound(_) => INVALID_PARAMS,
        Error::Internal(_) => INTERNAL_ERROR,
        _ => SERVER_ERROR,
    };
    RpcFailure::new(err.status(), code, err.public_message()).with_data(json!({
        "code": err.code(),
        "details": err.details(),
        "request_id": request_id,
    }))
}

/// An action worker's error answer (the contract body, `status`) as the [`Error`] it reports.
pub fn error_of_answer(status: u16, body: &Value) -> Error {
    let message = body["message"]
        .as_str()
        .unwrap_or("the action failed")
        .to_string();
    match body["code"].as_str().unwrap_or_default() {
        "auth_error" => Error::Auth(message),
        "authorization_error" => Error::Authorization(message),
        "validation_error" => Error::validation_with(message, body["details"].clone()),
        "not_found" => Error::NotFound(message),
        "conflict" => Error::Conflict(message),
        "payload_too_large" => Error::PayloadTooLarge(message),
        "rate_limit" => Error::RateLimit {
            message,
            retry_after_secs: body["details"]["retry_after_seconds"].as_u64().unwrap_or(1),
        },
        "tool_error" => Error::Tool(message),
        "upstream_error" => Error::Upstream(message),
        "timeout" => Error::Timeout(message),
        _ => Error::internal(format!("an action answered {status}: {message}")),
    }
}

/// A success response.
pub fn result(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// Reads one POSTed message.
pub fn parse(body: &[u8]) -> Result<Incoming, RpcFailure> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| RpcFailure::new(400, PARSE_ERROR, "the body is not valid JSON"))?;
    let invalid = |why: &str| Err(RpcFailure::new(400, INVALID_REQUEST, why.to_string()));
    let Value::Object(mut obj) = value else {
        return invalid("the body must be one JSON-RPC message (batches are not supported)");
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid("'jsonrpc' must be \"2.0\"");
    }
    let id = obj.remove("id");
    match (obj.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) if id.is_string() || id.is_number() => {
            let params = match obj.remove("params") {
                None | Some(Value::Null) => json!({}),
                Some(p @ Value::Object(_)) => p,
                Some(_) => return invalid("'params' must be an object"),
            };
            Ok(Incoming::Request { id, method, params })
        }
        (Some(Value::String(_)), None) => Ok(Incoming::Accepted),
        (None, Some(_)) if obj.contains_key("result") || obj.contains_key("error") => {
            Ok(Incoming::Accepted)
        }
        _ => invalid("not a JSON-RPC request, notification or response"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        let r = parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#).unwrap();
        assert_eq!(
            r,
            Incoming::Request {
                id: json!(7),
                method: "tools/list".into(),
                params: json!({})
            }
        );
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap(),
            Incoming::Accepted
        );
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap(),
            Incoming::Accepted
        );
    }

    #[test]
    fn garbage_batches_and_bad_params_are_400s() {
        assert_eq!(parse(b"{").unwrap_err().code, PARSE_ERROR);
        for body in [
            &br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#[..],
            br#"{"id":1,"method":"ping"}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
            br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!((err.status, err.code), (400, INVALID_REQUEST));
        }
    }

    #[test]
    fn api_errors_keep_their_status_and_never_internal_detail() {
        let e = rpc_error(&Error::internal("SELECT secret FROM x"), "req-1");
        assert_eq!((e.status, e.code), (500, INTERNAL_ERROR));
        assert!(!e.to_body(&json!(1)).to_string().contains("secret"));
        let e = rpc_error(
            &Error::RateLimit {
                message: "slow down".into(),
                retry_after_secs: 9,
            },
            "req-2",
        );
        assert_eq!((e.status, e.code), (429, SERVER_ERROR));
        let data = e.data.unwrap();
        assert_eq!(data["code"], "rate_limit");
        assert_eq!(data["details"]["retry_after_seconds"], 9);
        assert_eq!(rpc_error(&Error::Auth("no".into()), "r").status, 401);
    }

    #[test]
    fn an_action_error_answer_reads_back_as_the_same_error() {
        for err in [
            Error::Auth("a".into()),
            Error::NotFound("n".into()),
            Error::validation("v"),
            Error::RateLimit {
                message: "r".into(),
                retry_after_secs: 7,
            },
            Error::Timeout("t".into()),
        ] {
            let back = error_of_answer(err.status(), &err.to_body("id"));
            assert_eq!((back.code(), back.status()), (err.code(), err.status()));
            assert_eq!(back.details(), err.details());
        }
    }
}
