//! Server→client requests during a background call (`elicitation/create`,
//! `sampling/createMessage`; from a 2026-07-28 upstream, the input requests of its
//! `input_required` rounds), put to whoever watches the execution and answered with
//! `answer_execution` (`/mcp`'s streamed calls relay them to the MCP client and route its
//! response back, `crate::mcp_server::relay`).
//!
//! Invariants:
//! - A request is put to watchers only when the call was started with `"ask_watchers": true`
//!   (`/mcp`'s streamed calls; the request is journalled, so a watcher that attaches later still
//!   sees it); otherwise it is answered at once as before
//!   (`mcp_client::jsonrpc::answer_server_request`: a form's defaults, sampling refused).
//! - Each request waits under a fresh random id (a journal `request` event carries it) for at
//!   most [`ASK_TIMEOUT_MS`], then is answered as with no watcher. The first answer wins; an
//!   answer for an id that waits no more is 404, like an execution one may not see.
//! - An answer is a JSON-RPC `result` object or an `error` object with an integer `code` and a
//!   string `message`; anything else is refused (400) and the request keeps waiting.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::identity::Identity;

/// The methods put to watchers; any other server request is answered at once.
pub const ASKED_METHODS: [&str; 2] = ["elicitation/create", "sampling/createMessage"];
/// How long a request waits for a watcher's answer.
pub const ASK_TIMEOUT_MS: u64 = 120_000;

/// An answer for the object (`/answer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answering {
    pub viewer: Identity,
    pub request_id: String,
    pub response: Value,
}

/// The answer a watcher sent (`{"result": …}` or `{"error": {code, message, data?}}`, as a
/// JSON-RPC response has them): the `result` (`Ok`) or the `error` (`Err`).
pub fn answer_of(response: &Value) -> Result<std::result::Result<Value, Value>> {
    let refuse = || {
        Error::validation_with(
            "response must be {\"result\": {…}} or {\"error\": {\"code\": <integer>, \"message\": \"…\"}}",
            serde_json::json!({ "field": "response" }),
        )
    };
    match (response.get("result"), response.get("error")) {
        (Some(result @ Value::Object(_)), None) => Ok(Ok(result.clone())),
        (None, Some(error)) if error["code"].is_i64() && error["message"].is_string() => {
            Ok(Err(error.clone()))
        }
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_result_or_a_well_formed_error_is_an_answer_and_nothing_else() {
        assert_eq!(
            answer_of(&json!({"result": {"action": "accept"}})).unwrap(),
            Ok(json!({"action": "accept"}))
        );
        let error = json!({"code": -32601, "message": "no sampling here"});
        assert_eq!(answer_of(&json!({"error": error})).unwrap(), Err(error));
        for bad in [
            json!({}),
            json!({"result": 3}),
            json!({"error": {"code": "x", "message": "m"}}),
            json!({"result": {}, "error": {"code": 1, "message": "m"}}),
        ] {
            assert_eq!(answer_of(&bad).unwrap_err().code(), "validation_error");
        }
    }
}
