//! The 2026-07-28 stateless protocol: no handshake, no session; every request stands alone.
//!
//! Invariants:
//! - Every request carries `params._meta` with `io.modelcontextprotocol/protocolVersion`,
//!   `…/clientCapabilities` and `…/clientInfo` (keys the caller put in `_meta` are kept), and
//!   the headers `MCP-Protocol-Version`, `Mcp-Method` and, for `tools/call`, `prompts/get` and
//!   `resources/read`, `Mcp-Name` (the spec's `=?base64?…?=` form when the value is not plain
//!   printable ASCII). Header and body always agree, which servers check.
//! - A result with `resultType: "input_required"` is retried with the echoed `requestState`
//!   and our `inputResponses`, at most [`MAX_INPUT_ROUNDS`] times. Each input request goes
//!   first to the call's sink when it asks someone ([`crate::events::CallEvents::ask`]: a
//!   streamed `/mcp` call relays it to its client), as a server→client request would in the
//!   handshake era; its answer is the response. Otherwise, or when the one asked answers an
//!   error, we answer `roots/list` (no roots) and `elicitation/create` (the form's defaults,
//!   or decline: see [`super::elicit`]); any other input request (sampling…) is a
//!   [`crate::McpError::Protocol`] naming it, since nobody is there to answer.
//! - A `tools/call` made with the tool's schema also carries its `Mcp-Param-*` headers
//!   ([`super::param_headers`]), on every `input_required` round.
//! - Cancellation is closing the response stream (dropping the future); nothing is sent.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::detect::MODERN_VERSION;
use super::jsonrpc::{self, Incoming};
use super::reply::{check_status, Failure, Messages};
use super::wire::{CancelRoute, InFlight, Wire};
use super::CLIENT_NAME;
use crate::http::{Clock, HttpClient};

pub const MAX_INPUT_ROUNDS: u32 = 10;

pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";

/// `params` with our `_meta` envelope merged in.
pub fn with_meta(params: Value) -> Value {
    let mut params = jsonrpc::params_object(params);
    let mut meta = match params.remove("_meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.insert(META_PROTOCOL_VERSION.into(), json!(MODERN_VERSION));
    meta.insert(
        META_CLIENT_CAPABILITIES.into(),
        super::client_capabilities(),
    );
    meta.insert(
        META_CLIENT_INFO.into(),
        json!({ "name": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION") }),
    );
    params.insert("_meta".into(), Value::Object(meta));
    Value::Object(params)
}

/// The routing headers for `method` with `params`.
pub fn headers(method: &str, params: &Value) -> Vec<(String, String)> {
    let mut h = vec![
        (
            "mcp-protocol-version".to_string(),
            MODERN_VERSION.to_string(),
        ),
        ("mcp-method".to_string(), method.to_string()),
    ];
    let name_key = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(name) = name_key.and_then(|k| params.get(k)).and_then(Value::as_str) {
        h.push(("mcp-name".to_string(), encode_header_value(name)));
    }
    h
}

/// Plain printable ASCII without edge whitespace passes verbatim; anything else is sent as
/// `=?base64?<utf-8 bytes>?=`.
pub fn encode_header_value(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && value == value.trim()
        && !(value.starts_with("=?base64?") && value.ends_with("?="));
    if plain {
        value.to_string()
    } else {
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        )
    }
}

/// `server/discover`: one request.
pub async fn discover<H: HttpClient + Clock>(wire: &Wire<'_, H>) -> Result<Value, Failure> {
    once(wire, "server/discover", json!({}), &[]).await
}

/// One request, following `input_required` rounds to the final result.
pub async fn request<H: HttpClient + Clock>(
    wire: &Wire<'_, H>,
    method: &str,
    params: Value,
) -> Result<Value, Failure> {
    request_with(wire, method, params, &[]).await
}

/// [`request`] with more headers on every round (the `Mcp-Param-*` of a `tools/call`).
pub async fn request_with<H: HttpClient + Clock>(
    wire: &Wire<'_, H>,
    method: &str,
    params: Value,
    extra_headers: &[(String, String)],
) -> Result<Value, Failure> {
    let mut params = params;
    let mut backoff_ms = 50;
    for _ in 0..=MAX_INPUT_ROUNDS {
        let result = once(wire, method, params.clone(), extra_headers).await?;
        if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
            return Ok(result);
        }
        let responses = answer_input_requests(wire.events(), method, &result).await?;
        let mut next = jsonrpc::params_object(params);
        next.remove("inputResponses");
        next.remove("requestState");
        if let Some(state) = result.get("requestState") {
            next.insert("requestState".into(), state.clone());
        }
        if responses.is_empty() {
            // Only state: the server is still working; wait a little before asking again.
            wire.http.sleep_ms(backoff_ms).await;
            backoff_ms = (backoff_ms * 2).min(250);
        } else {
            next.insert("inputResponses".into(), Value::Object(responses));
            backoff_ms = 50;
        }
        params = Value::Object(next);
    }
    Err(Failure::upstream(format!(
        "{method}: the server kept asking for more input (over {MAX_INPUT_ROUNDS} rounds)"
    )))
}

async fn answer_input_requests(
    sink: Option<&dyn crate::events::CallEvents>,
    method: &str,
    result: &Value,
) -> Result<Map<String, Value>, Failure> {
    let mut responses = Map::new();
    if let Some(requests) = result.get("inputRequests").and_then(Value::as_object) {
        for (key, req) in requests {
            let asked = req.get("method").and_then(Value::as_str).unwrap_or("");
            let params = req.get("params").unwrap_or(&Value::Null);
            if let Some(answer) = sink.and_then(|s| s.ask(asked, params)) {
                if let Ok(response) = answer.await {
                    responses.insert(key.clone(), response);
                    continue;
                }
            }
            match asked {
                "roots/list" => {
                    responses.insert(key.clone(), json!({ "roots": [] }));
                }
                "elicitation/create" => {
                    responses.insert(key.clone(), super::elicit::answer(params));
                }
                other => {
                    return Err(Failure::upstream(format!(
                        "{method}: the tool needs interactive input ({}), which mcp-edge cannot provide",
                        super::text::clip(other, 60)
                    )))
                }
            }
        }
    }
    Ok(responses)
}

async fn once<H: HttpClient + Clock>(
    wire: &Wire<'_, H>,
    method: &str,
    params: Value,
    extra_headers: &[(String, String)],
) -> Result<Value, Failure> {
    let id = wire.next_id();
    let params = with_meta(params);
    let mut headers = headers(method, &params);
    headers.extend(extra_headers.iter().cloned());
    wire.set_in_flight(Some(InFlight {
        id,
        method: method.to_string(),
        route: CancelRoute::CloseStream,
    }));
    let body = jsonrpc::request(id, method, params);
    let resp = wire
        .send(wire.post(&wire.endpoint.url, &headers, &body))
        .await
        .map_err(Failure::Unreachable)?;
    let resp = check_status(resp, method, &wire.redactor).await?;
    let mut messages = Messages::open(resp, method, &wire.redactor).await?;
    while let Some(msg) = messages.next(method).await? {
        if msg.answers(id) {
            let Incoming::Response { outcome, .. } = msg else {
                unreachable!("answers() holds only for responses")
            };
            wire.set_in_flight(None);
            return outcome.map_err(|e| Failure::rpc_error(method, e, &wire.redactor));
        }
        // 2026-07-28 servers send no requests on a reply stream (input goes through
        // `input_required`); notifications are progress and logs.
        if let Incoming::Notification { method, params } = &msg {
            wire.notified(method, params);
        }
    }
    Err(Failure::upstream(format!(
        "{method}: the server closed the reply stream before answering"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_envelope_is_merged_into_params() {
        let p = with_meta(json!({"name": "echo", "_meta": {"progressToken": 1}}));
        assert_eq!(p["name"], "echo");
        assert_eq!(p["_meta"]["progressToken"], 1);
        assert_eq!(p["_meta"][META_PROTOCOL_VERSION], MODERN_VERSION);
        assert!(p["_meta"][META_CLIENT_CAPABILITIES]["elicitation"].is_object());
        assert_eq!(p["_meta"][META_CLIENT_INFO]["name"], CLIENT_NAME);
        assert!(with_meta(Value::Null)["_meta"].is_object());
    }

    #[test]
    fn routing_headers_mirror_the_body() {
        let h = headers("tools/call", &json!({"name": "echo"}));
        assert!(h.contains(&("mcp-method".into(), "tools/call".into())));
        assert!(h.contains(&("mcp-name".into(), "echo".into())));
        assert!(h.contains(&("mcp-protocol-version".into(), MODERN_VERSION.into())));
        let h = headers("resources/read", &json!({"uri": "file:///x"}));
        assert!(h.contains(&("mcp-name".into(), "file:///x".into())));
        let h = headers("tools/list", &json!({}));
        assert!(!h.iter().any(|(k, _)| k == "mcp-name"));
    }

    #[test]
    fn header_values_outside_printable_ascii_are_base64_wrapped() {
        assert_eq!(encode_header_value("echo"), "echo");
        assert_eq!(encode_header_value("héllo"), "=?base64?aMOpbGxv?=");
        assert_eq!(encode_header_value(" x"), "=?base64?IHg=?=");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn input_requests_we_can_answer_and_those_we_cannot() {
        let roots = json!({"resultType": "input_required",
            "inputRequests": {"r": {"method": "roots/list"}}, "requestState": "s"});
        let got = answer_input_requests(None, "tools/call", &roots)
            .await
            .unwrap();
        assert_eq!(got["r"], json!({"roots": []}));
        let got = answer_input_requests(None, "tools/call", &elicit_form())
            .await
            .unwrap();
        assert_eq!(got["e"], json!({"action": "accept", "content": {"n": 3}}));
        let sampling = json!({"resultType": "input_required",
            "inputRequests": {"s": {"method": "sampling/createMessage", "params": {}}}});
        let err = answer_input_requests(None, "tools/call", &sampling)
            .await
            .unwrap_err();
        assert!(err
            .into_error()
            .to_string()
            .contains("sampling/createMessage"));
    }

    fn elicit_form() -> Value {
        json!({"resultType": "input_required",
            "inputRequests": {"e": {"method": "elicitation/create", "params": {
                "message": "m",
                "requestedSchema": {"type": "object",
                    "properties": {"n": {"type": "integer", "default": 3}}}}}}})
    }

    /// Asks "someone": answers elicitations with `answer`, fails sampling.
    struct Asker {
        answer: Value,
        asked: std::cell::RefCell<Vec<(String, Value)>>,
    }

    impl crate::events::CallEvents for Asker {
        fn progress(&self, _: f64, _: Option<f64>, _: Option<&str>) {}
        fn log(&self, _: &str, _: Option<&str>, _: &Value) {}
        fn ask<'s>(&'s self, method: &str, params: &Value) -> Option<crate::events::Asked<'s>> {
            self.asked
                .borrow_mut()
                .push((method.to_string(), params.clone()));
            let answer = match method {
                "elicitation/create" => Ok(self.answer.clone()),
                _ => Err(json!({"code": -32601, "message": "no"})),
            };
            Some(Box::pin(async move { answer }))
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn input_requests_go_to_whoever_the_call_asks_first() {
        let asker = Asker {
            answer: json!({"action": "accept", "content": {"n": 7}}),
            asked: Default::default(),
        };
        let got = answer_input_requests(Some(&asker), "tools/call", &elicit_form())
            .await
            .unwrap();
        assert_eq!(got["e"], json!({"action": "accept", "content": {"n": 7}}));
        assert_eq!(asker.asked.borrow()[0].0, "elicitation/create");
        assert_eq!(asker.asked.borrow()[0].1["message"], "m");
        // The one asked failing: answered as without anyone (roots) or refused (sampling).
        let both = json!({"resultType": "input_required", "inputRequests": {
            "r": {"method": "roots/list"}, "s": {"method": "sampling/createMessage"}}});
        let err = answer_input_requests(Some(&asker), "tools/call", &both)
            .await
            .unwrap_err();
        assert!(err
            .into_error()
            .to_string()
            .contains("sampling/createMessage"));
    }
}
