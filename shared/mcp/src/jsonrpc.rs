//! JSON-RPC 2.0 messages as MCP uses them: building what we send, classifying what we receive.
//!
//! Invariants:
//! - Parsing never panics: anything that is not a JSON-RPC message is an `Err(String)` naming
//!   what was wrong, written for a team admin (it ends up in an [`crate::McpError`], usually `Protocol`).
//! - Our request ids are JSON numbers below 2^53 (safe for JavaScript servers); a reply matches
//!   when its id is the same number, or a string of the same digits (some servers echo strings).
//! - An error reply with a `null` id is a server-level rejection (parse error, bad session) and
//!   is accepted as the answer to the request in flight: see [`Incoming::answers`].

use serde_json::{json, Map, Value};

pub use crate::model::{
    Incoming, RpcError, METHOD_NOT_FOUND, UNSUPPORTED_PROTOCOL_VERSION,
    UNSUPPORTED_PROTOCOL_VERSION_DRAFT,
};

impl RpcError {
    /// One line for an admin: the message trimmed, then the code.
    pub fn describe(&self) -> String {
        format!(
            "{} (JSON-RPC error {})",
            super::text::clip(&self.message, 300),
            self.code
        )
    }
}

impl Incoming {
    /// Whether this message is the reply to our request `want`.
    pub fn answers(&self, want: u64) -> bool {
        match self {
            Incoming::Response { id, outcome } => {
                id_matches(id, want) || (id.is_null() && outcome.is_err())
            }
            _ => false,
        }
    }
}

pub fn id_matches(id: &Value, want: u64) -> bool {
    match id {
        Value::Number(n) => n.as_u64() == Some(want),
        Value::String(s) => s.parse::<u64>().ok() == Some(want),
        _ => false,
    }
}

pub fn request(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

pub fn notification(method: &str, params: Value) -> Value {
    if params.is_null() {
        json!({ "jsonrpc": "2.0", "method": method })
    } else {
        json!({ "jsonrpc": "2.0", "method": method, "params": params })
    }
}

pub fn response_ok(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

pub fn response_err(id: &Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// Our answer to a server→client request, given at once so the server never waits on us:
/// `ping`, an empty `roots/list`, and `elicitation/create` answered from the schema's defaults
/// (see [`super::elicit`]); anything else (sampling…) is refused.
pub fn answer_server_request(id: &Value, method: &str, params: &Value) -> Value {
    match method {
        "ping" => response_ok(id, json!({})),
        "roots/list" => response_ok(id, json!({ "roots": [] })),
        "elicitation/create" => response_ok(id, super::elicit::answer(params)),
        other => response_err(
            id,
            METHOD_NOT_FOUND,
            &format!("mcp-edge does not support {other}"),
        ),
    }
}

/// The answer to a server→client request: the call's sink's when it asks someone
/// ([`crate::events::CallEvents::ask`]), else [`answer_server_request`]'s.
pub async fn answer_asking(
    sink: Option<&dyn crate::events::CallEvents>,
    id: &Value,
    method: &str,
    params: &Value,
) -> Value {
    match sink.and_then(|s| s.ask(method, params)) {
        Some(asked) => match asked.await {
            Ok(result) => response_ok(id, result),
            Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": error }),
        },
        None => answer_server_request(id, method, params),
    }
}

/// Parses one body: a single message or a batch (array) of messages.
pub fn parse_body(bytes: &[u8]) -> Result<Vec<Incoming>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            "the reply was empty".to_string()
        } else {
            format!("the reply is not valid JSON ({e})")
        }
    })?;
    match value {
        Value::Array(items) if items.is_empty() => Err("the reply was an empty JSON array".into()),
        Value::Array(items) => items.into_iter().map(parse_message).collect(),
        other => Ok(vec![parse_message(other)?]),
    }
}

/// Classifies one decoded JSON value as a JSON-RPC message.
pub fn parse_message(value: Value) -> Result<Incoming, String> {
    let Value::Object(mut obj) = value else {
        return Err(format!(
            "expected a JSON-RPC object, got {}",
            kind_of(&value)
        ));
    };
    if let Some(method) = obj.get("method") {
        let Some(method) = method.as_str().map(str::to_string) else {
            return Err("a JSON-RPC message has a non-string \"method\"".into());
        };
        let params = obj.remove("params").unwrap_or(Value::Null);
        return Ok(match obj.remove("id") {
            Some(id) if !id.is_null() => Incoming::Request { id, method, params },
            _ => Incoming::Notification { method, params },
        });
    }
    let Some(id) = obj.remove("id") else {
        return Err("a JSON-RPC message has neither \"method\" nor \"id\"".into());
    };
    if let Some(result) = obj.remove("result") {
        return Ok(Incoming::Response {
            id,
            outcome: Ok(result),
        });
    }
    if let Some(error) = obj.remove("error") {
        return Ok(Incoming::Response {
            id,
            outcome: Err(parse_error_object(error)),
        });
    }
    Err("a JSON-RPC response has neither \"result\" nor \"error\"".into())
}

fn parse_error_object(error: Value) -> RpcError {
    let mut obj = match error {
        Value::Object(obj) => obj,
        other => {
            return RpcError {
                code: 0,
                message: format!("malformed error object: {}", kind_of(&other)),
                data: None,
            }
        }
    };
    RpcError {
        code: obj.get("code").and_then(Value::as_i64).unwrap_or(0),
        message: obj
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .to_string(),
        data: obj.remove("data"),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `params` as an object map (a `null` becomes an empty map).
pub fn params_object(params: Value) -> Map<String, Value> {
    match params {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_four_message_kinds() {
        let got = parse_body(
            br#"[
            {"jsonrpc":"2.0","id":7,"result":{"ok":true}},
            {"jsonrpc":"2.0","id":"8","error":{"code":-32601,"message":"nope","data":{"x":1}}},
            {"jsonrpc":"2.0","id":1,"method":"ping"},
            {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}
        ]"#,
        )
        .unwrap();
        assert!(got[0].answers(7));
        assert!(got[1].answers(8), "string ids of the same digits match");
        assert!(
            matches!(&got[1], Incoming::Response { outcome: Err(e), .. } if e.code == -32601 && e.data.is_some())
        );
        assert!(matches!(&got[2], Incoming::Request { method, .. } if method == "ping"));
        assert!(
            matches!(&got[3], Incoming::Notification { method, .. } if method == "notifications/progress")
        );
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for body in [
            &b""[..],
            b"   ",
            b"<html>nope</html>",
            b"{\"jsonrpc\":\"2.0\"}",
            b"[]",
            b"42",
            b"{\"id\":1}",
            b"{\"method\":5}",
            b"\xff\xfe",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":",
        ] {
            assert!(
                parse_body(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn malformed_error_objects_still_parse() {
        let got = parse_body(br#"{"jsonrpc":"2.0","id":3,"error":"boom"}"#).unwrap();
        assert!(matches!(&got[0], Incoming::Response { outcome: Err(e), .. } if e.code == 0));
    }

    #[test]
    fn null_id_errors_answer_the_request_in_flight_but_results_do_not() {
        let err =
            parse_body(br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"bad"}}"#)
                .unwrap();
        assert!(err[0].answers(99));
        let ok = parse_body(br#"{"jsonrpc":"2.0","id":null,"result":{}}"#).unwrap();
        assert!(!ok[0].answers(99));
        let other = parse_body(br#"{"jsonrpc":"2.0","id":98,"result":{}}"#).unwrap();
        assert!(!other[0].answers(99));
    }

    #[test]
    fn server_requests_get_an_answer_that_unblocks_the_server() {
        let id = json!(5);
        let none = Value::Null;
        assert_eq!(
            answer_server_request(&id, "ping", &none)["result"],
            json!({})
        );
        assert_eq!(
            answer_server_request(&id, "roots/list", &none)["result"]["roots"],
            json!([])
        );
        let elicited = answer_server_request(&id, "elicitation/create", &none);
        assert_eq!(
            elicited["result"]["action"], "decline",
            "no schema: nothing to accept"
        );
        let refused = answer_server_request(&id, "sampling/createMessage", &none);
        assert_eq!(refused["error"]["code"], METHOD_NOT_FOUND);
        assert_eq!(refused["id"], 5);
    }

    #[test]
    fn unsupported_version_data_is_read() {
        let e = RpcError {
            code: UNSUPPORTED_PROTOCOL_VERSION,
            message: "Unsupported protocol version".into(),
            data: Some(json!({"supported": ["2026-07-28"], "requested": "x"})),
        };
        assert!(e.is_unsupported_version());
        assert_eq!(e.supported_versions().unwrap(), vec!["2026-07-28"]);
    }
}
