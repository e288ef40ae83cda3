//! A synchronous call that states a wait (`call_tool` with `"wait_seconds": N`): the call is
//! started as a background execution (one execution, one `Execution` object, one final state),
//! then `call_tool` waits up to N seconds for its final event. Arrived in time: the usual
//! synchronous answer, built here from that event ([`reply_of_final`]); not yet: the async
//! mode's `202` while the call goes on.
//!
//! Invariants:
//! - `wait_seconds` is an integer in 1..=[`MAX_WAIT_SECS`], and only in synchronous mode (an
//!   explicit `"mode": "async"` with a wait is a validation error; a `long_running` tool's
//!   async default gives way to a stated wait).
//! - The answer of a finished call has the synchronous path's shape and statuses: a result
//!   (200, `success` false with `error` for a tool's `isError`), an error or timeout (its
//!   status, `details.execution_id`); a cancellation by someone else within the wait is 409.

use serde_json::{json, Map, Value};

use super::journal::{Event, EventKind};
use super::Mode;
use crate::actions::Reply;
use crate::api::ActionRequest;
use crate::error::{Error, Result};

/// The longest wait a caller may state (the synchronous path's longest tool timeout).
pub const MAX_WAIT_SECS: u64 = 300;

/// How `call_tool` runs a call: `mode` and `wait_seconds` together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Sync,
    Async,
    /// Start in the background, answer synchronously if it ends within this many seconds.
    Wait(u64),
}

/// The plan of a call (see the module's invariants).
pub fn plan_of(req: &ActionRequest, long_running: bool) -> Result<Plan> {
    let Some(wait) = req.optional_u64("wait_seconds", 1, MAX_WAIT_SECS)? else {
        return Ok(match super::mode_of(req, long_running)? {
            Mode::Sync => Plan::Sync,
            Mode::Async => Plan::Async,
        });
    };
    if req.optional_str("mode", 16)? == Some(Mode::Async.as_str()) {
        return Err(Error::validation_with(
            "wait_seconds is for synchronous calls; an async call answers at once",
            json!({ "field": "wait_seconds" }),
        ));
    }
    // An unknown mode is still refused.
    super::mode_of(req, false)?;
    Ok(Plan::Wait(wait))
}

/// The API error of a final `error` event (`{code, message}`); `message` is already public.
fn error_of(data: &Value) -> Error {
    let message = data["message"]
        .as_str()
        .unwrap_or("the call failed")
        .to_string();
    match data["code"].as_str() {
        Some("timeout") => Error::Timeout(message),
        Some("tool_error") => Error::Tool(message),
        Some("upstream_error") => Error::Upstream(message),
        Some("validation_error") => Error::validation(message),
        Some("rate_limit") => Error::RateLimit {
            message,
            retry_after_secs: 1,
        },
        _ => Error::Internal(message),
    }
}

/// The synchronous answer of an execution whose final event arrived within the wait.
pub fn reply_of_final(execution_id: &str, event: &Event, request_id: &str) -> Reply {
    let duration_ms = event.data["duration_ms"].clone();
    let mut extra = Map::new();
    extra.insert("execution_id".into(), execution_id.into());
    extra.insert("duration_ms".into(), duration_ms.clone());
    match event.kind {
        EventKind::Result => {
            let result = event.data["result"].clone();
            let success = event.data["success"].as_bool() == Some(true);
            let mut reply = Reply::ok(json!({
                "success": success,
                "result": result,
                "duration_ms": duration_ms,
                "execution_id": execution_id,
                "cached": false,
            }));
            if !success {
                reply.body["error"] = Value::String(crate::actions::call_tool::error_text_of(
                    &event.data["result"],
                ));
            }
            reply
        }
        EventKind::Cancelled => Reply::error(
            &Error::Conflict(format!(
                "execution {execution_id} was cancelled while the call waited: {}",
                event.data["message"].as_str().unwrap_or("cancelled")
            )),
            request_id,
            extra,
        ),
        _ => Reply::error(&error_of(&event.data), request_id, extra),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(mut body: Value) -> ActionRequest {
        body["action"] = json!("call_tool");
        ActionRequest::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_stated_wait_is_bounded_and_only_for_synchronous_calls() {
        let plan = |body: Value, long| plan_of(&req(body), long);
        assert_eq!(
            plan(json!({"wait_seconds": 5}), false).unwrap(),
            Plan::Wait(5)
        );
        // A long-running tool's async default gives way to a stated wait.
        assert_eq!(
            plan(json!({"wait_seconds": 5}), true).unwrap(),
            Plan::Wait(5)
        );
        assert_eq!(
            plan(json!({"wait_seconds": 300, "mode": "sync"}), false).unwrap(),
            Plan::Wait(300)
        );
        for bad in [
            json!({"wait_seconds": 0}),
            json!({"wait_seconds": 301}),
            json!({"wait_seconds": "5"}),
            json!({"wait_seconds": 5, "mode": "async"}),
            json!({"wait_seconds": 5, "mode": "later"}),
        ] {
            let err = plan(bad.clone(), false).unwrap_err();
            assert_eq!(err.code(), "validation_error", "{bad}");
        }
        assert_eq!(plan(json!({}), false).unwrap(), Plan::Sync);
        assert_eq!(plan(json!({}), true).unwrap(), Plan::Async);
    }

    fn event(kind: EventKind, data: Value) -> Event {
        Event {
            id: 3,
            kind,
            data,
            at_ms: 0,
        }
    }

    #[test]
    fn a_final_event_becomes_the_synchronous_answer() {
        let ok = reply_of_final(
            "e1",
            &event(
                EventKind::Result,
                json!({"status": "success", "success": true, "duration_ms": 12,
                       "result": {"content": [{"type": "text", "text": "hi"}]}}),
            ),
            "r",
        );
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body["success"], true);
        assert_eq!(ok.body["execution_id"], "e1");
        assert_eq!(ok.body["cached"], false);
        assert_eq!(ok.body["result"]["content"][0]["text"], "hi");

        let tool_error = reply_of_final(
            "e1",
            &event(
                EventKind::Result,
                json!({"status": "error", "success": false, "duration_ms": 12,
                       "result": {"isError": true, "content": [{"type": "text", "text": "nope"}]}}),
            ),
            "r",
        );
        assert_eq!(tool_error.status, 200);
        assert_eq!(tool_error.body["success"], false);
        assert!(tool_error.body["error"].as_str().unwrap().contains("nope"));

        let timeout = reply_of_final(
            "e1",
            &event(
                EventKind::Error,
                json!({"status": "timeout", "code": "timeout", "message": "too slow", "duration_ms": 9}),
            ),
            "r",
        );
        assert_eq!(timeout.status, 504);
        assert_eq!(timeout.body["details"]["execution_id"], "e1");

        let cancelled = reply_of_final(
            "e1",
            &event(
                EventKind::Cancelled,
                json!({"status": "cancelled", "message": "cancelled by bob", "duration_ms": 9}),
            ),
            "r",
        );
        assert_eq!(cancelled.status, 409);
        assert_eq!(cancelled.body["details"]["execution_id"], "e1");
    }
}
