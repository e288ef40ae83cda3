//! A `tools/call` answered as `text/event-stream` (pass-through during a call): the call runs
//! as a background execution (`call_tool` with `"mode": "async"`), and [`Relay`] turns that
//! execution's `watch_execution` stream into the MCP messages of the one request:
//! `progress` events become `notifications/progress` with the client's `progressToken`, `log`
//! events `notifications/message`, and the final event the request's JSON-RPC response.
//!
//! Invariants:
//! - A call is streamed only when the client accepts `text/event-stream` and, under the
//!   default [`StreamPolicy::Progress`], its request carries `params._meta.progressToken`
//!   ([`wants_stream`]); every other call keeps its JSON answer. [`StreamPolicy::Always`] (the
//!   gateway's `MCP_STREAM_CALLS = "always"`) streams every call of such a client, so log
//!   messages reach clients that asked for no progress (each call is then a background
//!   execution: one more hop, and it counts against the team's running cap). 2026-07-28
//!   (stateless) requests are never streamed. Progress is relayed only with a token.
//! - The stream carries exactly one response, last: the final event's, mapped as a JSON answer
//!   would be ([`super::dispatch::tool_result`]); after it nothing more is sent. A stream that
//!   ends without a final event ends with an error response naming the execution (so a client
//!   never waits for an answer that will not come).
//! - Cancellation is stateless in the gateway: the client's `notifications/cancelled` names
//!   only its request id, so the gateway keeps `(user, Mcp-Session-Id header, request id) →
//!   execution id` in KV ([`cancel_key`], for the call's time budget) and cancels through
//!   `cancel_execution`, whose own rule (the user who started it, or a team admin) still
//!   decides. A user's two clients that run calls with the same request id at once share a
//!   key: the later call's mapping wins.
//! - The watch's comments (its opening line, its keep-alive after 15 s without an event) are
//!   passed on as a comment, so an idle call's stream stays open through proxies.
//! - A server→client request journalled by the execution (`crate::background::ask`) is sent as
//!   a JSON-RPC request whose id is [`ANSWER_ID_PREFIX`]`<execution id>/<its random id>`; the
//!   client's response to that id ([`routed_answer`]) goes to `answer_execution` as the
//!   caller, whose own rule (who may act on the execution) decides. It is relayed whatever
//!   capabilities the client declared at `initialize` (a stateless gateway does not know them):
//!   a client without the capability answers an error, which the server gets as is.
//! - Log messages below the caller's level are dropped ([`Relay::with_min_level`]): a
//!   client's `logging/setLevel` is kept in KV under `(user, Mcp-Session-Id header)`
//!   ([`level_key`], [`LEVEL_TTL_SECS`]), not in an isolate, and read once per streamed call.
//!   Without one, every level the server sends is relayed (a 2026-07-28 upstream is asked for
//!   `info` and above). As with cancellation, a user's clients that send no session id share
//!   one level: the last `setLevel` wins. A level the server names that is not one of
//!   [`LOG_LEVELS`] is relayed.

use mcp_client::sse::{SseEvent, SseParser};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::dispatch::tool_result;
use super::message::{self, RpcFailure, SERVER_ERROR};
use crate::background::journal::EventKind;
use crate::background::stream;

/// The largest watch event the relay reads (a final result is capped for storage far below).
const MAX_EVENT_BYTES: usize = 4 << 20;
/// JSON-RPC code of a response to a call that was cancelled.
pub const REQUEST_CANCELLED: i64 = -32800;

/// The log levels of `logging/setLevel`, least severe first.
pub const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

crate::text_enum::text_enum! {
    /// Which calls of a client that accepts `text/event-stream` are streamed
    /// (`MCP_STREAM_CALLS`).
    pub enum StreamPolicy {
        /// Calls whose request carries a `progressToken` (the default).
        Progress = "progress",
        /// Every call (log messages reach every such client).
        Always = "always",
    }
}

impl StreamPolicy {
    /// The policy a setting names; unset is [`StreamPolicy::Progress`], anything unknown is
    /// refused (a typo must not silently change every call).
    pub fn from_setting(setting: Option<&str>) -> crate::error::Result<StreamPolicy> {
        match setting.map(str::trim) {
            None | Some("") => Ok(StreamPolicy::Progress),
            Some(text) => StreamPolicy::parse(text).ok_or_else(|| {
                crate::error::Error::internal(format!(
                    "MCP_STREAM_CALLS must be \"progress\" or \"always\", not {text:?}"
                ))
            }),
        }
    }
}

/// Whether a `tools/call` is answered as an event stream (see the module's invariants).
pub fn wants_stream(
    policy: StreamPolicy,
    accept: Option<&str>,
    params: &Value,
    stateless: bool,
) -> bool {
    let accepts = accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/event-stream"));
    accepts && !stateless && (policy == StreamPolicy::Always || progress_token(params).is_some())
}

/// The client's `progressToken` (a string or a number).
pub fn progress_token(params: &Value) -> Option<&Value> {
    params
        .pointer("/_meta/progressToken")
        .filter(|t| t.is_string() || t.is_number())
}

/// How long a client's `logging/setLevel` is kept (renewed by each `setLevel`).
pub const LEVEL_TTL_SECS: u64 = 24 * 3600;

/// The KV key of a client's `logging/setLevel` (see the module's invariants).
pub fn level_key(user_id: &str, session: Option<&str>) -> String {
    let digest = Sha256::digest(session.unwrap_or_default().as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("mcp:level:{user_id}:{hex}")
}

/// The rank of a log level in [`LOG_LEVELS`] (`debug` is 0).
pub fn level_rank(level: &str) -> Option<usize> {
    LOG_LEVELS.iter().position(|l| *l == level)
}

/// The KV key under which a streamed call's execution id waits for a cancellation.
pub fn cancel_key(user_id: &str, session: Option<&str>, request_id: &Value) -> String {
    let material = format!("{}\n{}", session.unwrap_or_default(), request_id);
    let digest = Sha256::digest(material.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("mcp:call:{user_id}:{hex}")
}

/// The request id a `notifications/cancelled` body names, if the body is one.
pub fn cancelled_request(body: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(body).ok()?;
    if value["method"] != "notifications/cancelled" || value.get("id").is_some() {
        return None;
    }
    value
        .pointer("/params/requestId")
        .filter(|id| id.is_string() || id.is_number())
        .cloned()
}

/// How the id of a relayed server→client request begins.
pub const ANSWER_ID_PREFIX: &str = "mcp-edge/ask/";

/// A client's JSON-RPC response to a relayed request: the execution id, the request's own id
/// in that execution, and `{"result"}` or `{"error"}` as the client sent it.
pub fn routed_answer(body: &[u8]) -> Option<(String, String, Value)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    if value.get("method").is_some() {
        return None;
    }
    let id = value.get("id")?.as_str()?.strip_prefix(ANSWER_ID_PREFIX)?;
    let (execution_id, request_id) = id.split_once('/')?;
    let mut response = serde_json::Map::new();
    for field in ["result", "error"] {
        if let Some(v) = value.get(field) {
            response.insert(field.into(), v.clone());
        }
    }
    Some((
        execution_id.to_string(),
        request_id.to_string(),
        Value::Object(response),
    ))
}

/// One SSE message event carrying `message`.
pub fn frame(message: &Value) -> String {
    format!("event: message\ndata: {message}\n\n")
}

/// Turns one execution's watch stream into one request's MCP messages.
pub struct Relay {
    parser: SseParser,
    id: Value,
    token: Option<Value>,
    name: String,
    execution_id: String,
    request_id: String,
    done: bool,
    /// Log messages of a lower rank are dropped.
    min_level: usize,
}

impl Relay {
    /// For JSON-RPC request `id` calling tool `name` (as the client named it), with the
    /// client's `progressToken` (`None`: progress is not relayed); `request_id` is the
    /// gateway's (for error data).
    pub fn new(
        id: Value,
        token: Option<Value>,
        name: &str,
        execution_id: &str,
        request_id: &str,
    ) -> Self {
        Relay {
            parser: SseParser::new(MAX_EVENT_BYTES),
            id,
            token,
            name: name.to_string(),
            execution_id: execution_id.to_string(),
            request_id: request_id.to_string(),
            done: false,
            min_level: 0,
        }
    }

    /// Drops log messages below `level` (the client's `logging/setLevel`; `None` or a name
    /// that is not a level: none dropped).
    pub fn with_min_level(mut self, level: Option<&str>) -> Self {
        self.min_level = level.and_then(level_rank).unwrap_or(0);
        self
    }

    /// Whether the response was sent.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The SSE text to send for the next bytes of the watch stream.
    pub fn feed(&mut self, chunk: &[u8]) -> String {
        if self.done {
            return String::new();
        }
        let mut events = Vec::new();
        if self.parser.feed(chunk, &mut events).is_err() {
            return self.fail("the execution's event stream could not be read");
        }
        let mut out = String::new();
        if events.is_empty() && chunk.first() == Some(&b':') {
            // The watch's opening comment or keep-alive: passed on, so proxies keep an idle
            // call's stream open too.
            out.push_str(&stream::comment("keep-alive"));
        }
        for event in events {
            if self.done {
                break;
            }
            if let Some(message) = self.message_of(&event) {
                out.push_str(&frame(&message));
            }
        }
        out
    }

    /// The SSE text to send when the watch stream ended: the error response if no final
    /// event came.
    pub fn end(&mut self) -> String {
        if self.done {
            return String::new();
        }
        self.fail("the execution's event stream ended before its result")
    }

    fn fail(&mut self, why: &str) -> String {
        self.done = true;
        let failure = RpcFailure::new(
            200,
            SERVER_ERROR,
            format!(
                "{why}; get_execution '{}' shows its outcome",
                self.execution_id
            ),
        )
        .with_data(
            json!({ "code": "internal_error", "details": {"execution_id": self.execution_id},
                           "request_id": self.request_id }),
        );
        frame(&failure.to_body(&self.id))
    }

    fn message_of(&mut self, event: &SseEvent) -> Option<Value> {
        let kind = EventKind::parse(&event.event)?;
        let data: Value = serde_json::from_str(&event.data).ok()?;
        let meta = json!({ super::dispatch::META_EXECUTION_ID: self.execution_id });
        let message = match kind {
            EventKind::Progress => {
                let token = self.token.clone()?;
                let mut params = json!({ "progressToken": token, "progress": data["progress"],
                                         "_meta": meta });
                for field in ["total", "message"] {
                    if let Some(v) = data.get(field).filter(|v| !v.is_null()) {
                        params[field] = v.clone();
                    }
                }
                json!({ "jsonrpc": "2.0", "method": "notifications/progress", "params": params })
            }
            EventKind::Request => {
                let id = format!(
                    "{ANSWER_ID_PREFIX}{}/{}",
                    self.execution_id,
                    data["request_id"].as_str()?
                );
                json!({ "jsonrpc": "2.0", "id": id, "method": data["method"],
                        "params": data["params"] })
            }
            EventKind::Log => {
                let rank = data["level"].as_str().and_then(level_rank);
                if rank.is_some_and(|r| r < self.min_level) {
                    return None;
                }
                json!({ "jsonrpc": "2.0", "method": "notifications/message", "params": data })
            }
            EventKind::Result => {
                self.done = true;
                let answer = json!({ "success": data["success"], "result": data["result"],
                                     "execution_id": self.execution_id });
                self.response(tool_result(200, &answer, &self.name, &self.request_id))
            }
            EventKind::Error => {
                self.done = true;
                let status = if data["status"] == "timeout" {
                    504
                } else {
                    502
                };
                let answer = json!({ "code": data["code"], "message": data["message"],
                                     "details": {"execution_id": self.execution_id} });
                self.response(tool_result(status, &answer, &self.name, &self.request_id))
            }
            EventKind::Cancelled => {
                self.done = true;
                let text = data["message"].as_str().unwrap_or("cancelled");
                RpcFailure::new(
                    200,
                    REQUEST_CANCELLED,
                    format!("the call was cancelled: {text}"),
                )
                .with_data(json!({ "details": {"execution_id": self.execution_id} }))
                .to_body(&self.id)
            }
        };
        Some(message)
    }

    fn response(&self, outcome: Result<Value, RpcFailure>) -> Value {
        match outcome {
            Ok(result) => message::result(&self.id, result),
            Err(failure) => failure.to_body(&self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::background::journal::{Journal, Outcome};

    fn messages(text: &str) -> Vec<Value> {
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        parser.feed(text.as_bytes(), &mut out).unwrap();
        out.iter()
            .map(|e| {
                assert_eq!(e.event, "message");
                serde_json::from_str(&e.data).unwrap()
            })
            .collect()
    }

    fn journal_text(outcome: Outcome) -> String {
        let mut j = Journal::new(0);
        let events = [
            j.progress(1.0, Some(3.0), Some("one"), 1).unwrap(),
            j.log("info", None, &json!("hello"), 2).unwrap(),
            j.progress(2.0, None, None, 3).unwrap(),
            j.finish(&outcome, 4).unwrap(),
        ];
        stream::comment("watching") + &events.iter().map(stream::frame).collect::<String>()
    }

    #[test]
    fn progress_and_logs_become_notifications_then_the_result_is_the_last_message() {
        let text = journal_text(Outcome::Result(
            json!({"content": [{"type": "text", "text": "done"}]}),
        ));
        let mut relay = Relay::new(json!(7), Some(json!("tok")), "slow", "ex-1", "req-1");
        // Fed in two arbitrary pieces: events split across chunks come out whole.
        let (a, b) = text.as_bytes().split_at(text.len() / 2);
        let out = relay.feed(a) + &relay.feed(b) + &relay.end();
        let m = messages(&out);
        assert_eq!(m.len(), 4, "{out}");
        assert_eq!(m[0]["method"], "notifications/progress");
        assert_eq!(m[0]["params"]["progressToken"], "tok");
        assert_eq!(
            (&m[0]["params"]["progress"], &m[0]["params"]["total"]),
            (&json!(1.0), &json!(3.0))
        );
        assert_eq!(
            m[0]["params"]["_meta"][super::super::dispatch::META_EXECUTION_ID],
            "ex-1"
        );
        assert_eq!(m[1]["method"], "notifications/message");
        assert_eq!(m[1]["params"], json!({"level": "info", "data": "hello"}));
        assert!(m[2]["params"].get("total").is_none());
        assert_eq!(m[3]["id"], 7);
        assert_eq!(m[3]["result"]["content"][0]["text"], "done");
        assert!(relay.is_done());
        assert_eq!(
            relay.feed(b"event: log\ndata: {}\n\n"),
            "",
            "nothing after the response"
        );
    }

    #[test]
    fn log_messages_below_the_clients_level_are_dropped() {
        let mut j = Journal::new(1_000);
        let mut events = Vec::new();
        for level in ["debug", "info", "warning", "error", "loud"] {
            events.extend(j.log(level, None, &json!(level), 1_100));
        }
        events.extend(j.finish(&Outcome::Result(json!({"content": []})), 1_200));
        let text = events.iter().map(stream::frame).collect::<String>();
        let levels = |min: Option<&str>| {
            let mut relay = Relay::new(json!(1), None, "t", "ex", "req").with_min_level(min);
            messages(&relay.feed(text.as_bytes()))
                .into_iter()
                .filter(|m| m["method"] == "notifications/message")
                .map(|m| m["params"]["level"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(levels(None), ["debug", "info", "warning", "error", "loud"]);
        assert_eq!(levels(Some("warning")), ["warning", "error", "loud"]);
        assert_eq!(levels(Some("debug")), levels(None));
        assert_eq!(levels(Some("nonsense")), levels(None));
        assert_ne!(level_key("u", None), level_key("u", Some("s")));
        assert_ne!(level_key("u", None), level_key("v", None));
    }

    #[test]
    fn failures_and_cancellation_end_with_one_response_for_the_request() {
        let failed = journal_text(Outcome::Failed {
            status: crate::repo::executions::Status::Timeout,
            code: "timeout",
            message: "too slow".into(),
        });
        let mut relay = Relay::new(json!("a"), Some(json!(1)), "slow", "ex-2", "req-2");
        let last = messages(&relay.feed(failed.as_bytes())).pop().unwrap();
        assert_eq!(last["id"], "a");
        assert_eq!(last["result"]["isError"], true);
        assert!(last["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("timeout: too slow"));

        let cancelled = journal_text(Outcome::Cancelled {
            message: "cancelled by alice".into(),
        });
        let mut relay = Relay::new(json!("b"), Some(json!(1)), "slow", "ex-3", "req-3");
        let last = messages(&relay.feed(cancelled.as_bytes())).pop().unwrap();
        assert_eq!(last["error"]["code"], REQUEST_CANCELLED);

        let mut relay = Relay::new(json!("c"), Some(json!(1)), "slow", "ex-4", "req-4");
        let kept = relay.feed(b": only a comment\n\n");
        assert_eq!(kept, ": keep-alive\n\n", "a keep-alive is passed on");
        assert_eq!(messages(&kept).len(), 0);
        let last = messages(&relay.end()).pop().unwrap();
        assert_eq!(last["id"], "c");
        assert!(last["error"]["message"].as_str().unwrap().contains("ex-4"));
        assert_eq!(relay.end(), "", "one response only");
    }

    #[test]
    fn by_default_only_a_call_with_a_progress_token_from_an_sse_client_streams() {
        let p = StreamPolicy::from_setting(None).unwrap();
        let with = json!({"name": "t", "_meta": {"progressToken": "p"}});
        let without = json!({"name": "t"});
        let sse = Some("application/json, text/event-stream");
        assert!(wants_stream(p, sse, &with, false));
        assert!(!wants_stream(p, Some("application/json"), &with, false));
        assert!(
            !wants_stream(p, sse, &with, true),
            "stateless requests answer JSON"
        );
        assert!(!wants_stream(p, sse, &without, false));
        assert!(!wants_stream(
            p,
            sse,
            &json!({"_meta": {"progressToken": {}}}),
            false
        ));
        let always = StreamPolicy::from_setting(Some("always")).unwrap();
        assert!(wants_stream(always, sse, &without, false));
        assert!(!wants_stream(
            always,
            Some("application/json"),
            &without,
            false
        ));
        assert!(!wants_stream(always, sse, &without, true));
        assert!(StreamPolicy::from_setting(Some("sometimes")).is_err());
    }

    #[test]
    fn without_a_token_progress_is_not_relayed_but_logs_and_the_result_are() {
        let text = journal_text(Outcome::Result(json!({"content": []})));
        let mut relay = Relay::new(json!(1), None, "slow", "ex-5", "req-5");
        let m = messages(&relay.feed(text.as_bytes()));
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0]["method"], "notifications/message");
        assert_eq!(m[1]["id"], 1);
    }

    #[test]
    fn a_journalled_server_request_is_relayed_and_its_answer_routes_back() {
        let mut j = Journal::new(0);
        let asked = j
            .request("n1", "elicitation/create", &json!({"message": "name?"}), 1)
            .unwrap();
        let mut relay = Relay::new(json!(5), None, "ask", "ex-6", "req-6");
        let m = messages(&relay.feed(stream::frame(&asked).as_bytes()));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0]["method"], "elicitation/create");
        assert_eq!(m[0]["params"]["message"], "name?");
        let id = m[0]["id"].as_str().unwrap();
        assert!(!relay.is_done(), "the call goes on");
        let answer = json!({"jsonrpc": "2.0", "id": id, "result": {"action": "decline"}});
        assert_eq!(
            routed_answer(answer.to_string().as_bytes()),
            Some((
                "ex-6".into(),
                "n1".into(),
                json!({"result": {"action": "decline"}})
            ))
        );
        let other = json!({"jsonrpc": "2.0", "id": 3, "result": {}});
        assert_eq!(routed_answer(other.to_string().as_bytes()), None);
    }

    #[test]
    fn cancellations_are_read_and_keyed_per_user_session_and_request() {
        let body =
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#;
        assert_eq!(cancelled_request(body), Some(json!(3)));
        assert_eq!(
            cancelled_request(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            None
        );
        let k = cancel_key("u1", None, &json!(3));
        assert_eq!(k, cancel_key("u1", None, &json!(3)));
        assert_ne!(k, cancel_key("u2", None, &json!(3)));
        assert_ne!(k, cancel_key("u1", Some("s"), &json!(3)));
        assert_ne!(k, cancel_key("u1", None, &json!("3")));
    }
}
