//! A tool that requires confirmation, asked through elicitation where the protocol lets a
//! stateless server do it: a 2026-07-28 client that declares `elicitation` gets
//! `resultType: "input_required"` with one `elicitation/create` request (a yes/no form,
//! default no) and the confirmation token as `requestState`; its retry carries the answer in
//! `inputResponses` and the token back, and runs the call only on an explicit yes.
//!
//! Invariants:
//! - The token is `call_tool`'s own (HMAC-bound to the user, team, server, tool and exact
//!   arguments, single use, short-lived): a forged or altered `requestState` is refused by
//!   `call_tool`, never trusted here.
//! - Only `action: "accept"` with `confirm: true` confirms; decline, cancel, a missing answer
//!   or the default answers a tool error and runs nothing.
//! - Handshake-era clients (no `input_required`) get the tool error that says how to confirm
//!   (`super::dispatch`): eliciting there needs a server-to-client request on a held stream.

use serde_json::{json, Value};

use super::version::META_CLIENT_CAPABILITIES;

/// The key of the one input request.
pub const INPUT_KEY: &str = "confirm";

/// Whether this request's client can be asked (2026-07-28 with `elicitation`).
pub fn can_elicit(params: &Value, stateless: bool) -> bool {
    stateless
        && params
            .get("_meta")
            .and_then(|m| m.get(META_CLIENT_CAPABILITIES))
            .and_then(|c| c.get("elicitation"))
            .is_some_and(Value::is_object)
}

/// The `input_required` result asking to confirm `name` with `arguments`.
pub fn ask(name: &str, arguments: &Value, token: &str) -> Value {
    let shown = arguments.to_string();
    let shown: String = shown.chars().take(500).collect();
    json!({
        "resultType": "input_required",
        "inputRequests": {
            INPUT_KEY: {
                "method": "elicitation/create",
                "params": {
                    "mode": "form",
                    "message": format!("An admin requires confirmation before tool '{name}' runs with {shown}. Run it?"),
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "confirm": {"type": "boolean", "title": "Run the tool", "default": false}
                        },
                        "required": ["confirm"]
                    }
                }
            }
        },
        "requestState": token,
    })
}

/// What a retry says: `Some(token)` to run with, `None` when it is not a retry of ours, or
/// `Err` text when the user did not confirm.
pub fn answer(params: &Value) -> Option<Result<String, String>> {
    let state = params.get("requestState")?.as_str()?;
    let response = params.get("inputResponses").and_then(|r| r.get(INPUT_KEY));
    let confirmed = response.is_some_and(|r| {
        r.get("action").and_then(Value::as_str) == Some("accept")
            && r.pointer("/content/confirm") == Some(&Value::Bool(true))
    });
    Some(if confirmed {
        Ok(state.to_string())
    } else {
        Err("The user did not confirm this call; it did not run.".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stateless_clients_with_elicitation_are_asked() {
        let with = json!({"_meta": {META_CLIENT_CAPABILITIES: {"elicitation": {}}}});
        assert!(can_elicit(&with, true));
        assert!(!can_elicit(&with, false));
        assert!(!can_elicit(
            &json!({"_meta": {META_CLIENT_CAPABILITIES: {}}}),
            true
        ));
    }

    #[test]
    fn the_question_carries_the_token_and_defaults_to_no() {
        let q = ask("demo__rm", &json!({"path": "/"}), "v1.tok");
        assert_eq!(q["requestState"], "v1.tok");
        let params = &q["inputRequests"][INPUT_KEY]["params"];
        assert_eq!(
            params["requestedSchema"]["properties"]["confirm"]["default"],
            false
        );
        assert!(params["message"].as_str().unwrap().contains("demo__rm"));
    }

    #[test]
    fn only_an_explicit_yes_confirms() {
        let retry = |response: Value| json!({"requestState": "v1.tok", "inputResponses": {INPUT_KEY: response}});
        assert_eq!(
            answer(&retry(
                json!({"action": "accept", "content": {"confirm": true}})
            )),
            Some(Ok("v1.tok".into()))
        );
        for no in [
            json!({"action": "accept", "content": {"confirm": false}}),
            json!({"action": "decline"}),
            json!({"action": "cancel"}),
            json!({"action": "accept"}),
        ] {
            assert!(matches!(answer(&retry(no)), Some(Err(_))));
        }
        assert_eq!(answer(&json!({"name": "x"})), None, "not a retry");
    }
}
