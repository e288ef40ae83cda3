//! What a server says about a `tools/call` while it runs, surfaced to whoever holds the call
//! ([`CallEvents`]): `notifications/progress` for our request's `progressToken`, and
//! `notifications/message` (log lines). Without a sink (the synchronous path) they are read
//! and dropped, as before.
//!
//! Invariants:
//! - A sink sees only notifications that arrived on the call's own reply stream (or, on legacy
//!   HTTP+SSE, the session's stream) while the call was in flight; progress is passed on only
//!   for our token (another request's progress is not this call's).
//! - Numbers are passed as the server sent them; nothing is invented (a missing `total` stays
//!   `None`). Texts are clipped ([`MAX_TEXT`]) so one chatty server cannot grow a log without
//!   bound.

use serde_json::Value;

use crate::text;

/// The `_meta` key by which a 2026-07-28 request opts in to log lines, and the least level
/// asked for.
pub const LOG_LEVEL_META: &str = "io.modelcontextprotocol/logLevel";
pub const LOG_LEVEL: &str = "info";

/// Characters of a progress message or a log line's text passed on at most.
pub const MAX_TEXT: usize = 2000;

/// Receives a running call's notifications. Called synchronously from the read loop: keep it
/// cheap (append, push to a channel).
pub trait CallEvents {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>);
    /// `level` as the server wrote it (`debug` … `emergency`); `data` is any JSON.
    fn log(&self, level: &str, logger: Option<&str>, data: &Value);
    /// A server→client request during the call (`elicitation/create`,
    /// `sampling/createMessage`…) that the holder of the call may have someone answer: the
    /// answer's JSON-RPC `result` (`Ok`) or `error` object (`Err`). `None` (the default): it is
    /// answered at once, as without a holder (`crate::jsonrpc::answer_server_request`).
    fn ask<'s>(&'s self, _method: &str, _params: &Value) -> Option<Asked<'s>> {
        None
    }
}

/// What [`CallEvents::ask`] answers, later.
pub type Asked<'s> = futures::future::LocalBoxFuture<'s, Result<Value, Value>>;

/// Passes one notification to `sink` when it is one it wants.
pub fn dispatch(sink: &dyn CallEvents, token: Option<&str>, method: &str, params: &Value) {
    match method {
        "notifications/progress" => {
            let ours = match (token, params.get("progressToken")) {
                (Some(t), Some(Value::String(got))) => got == t,
                (None, _) => true,
                _ => false,
            };
            let Some(progress) = params.get("progress").and_then(Value::as_f64) else {
                return;
            };
            if ours {
                let message = params
                    .get("message")
                    .and_then(Value::as_str)
                    .map(|m| text::clip(m, MAX_TEXT));
                let total = params.get("total").and_then(Value::as_f64);
                sink.progress(progress, total, message.as_deref());
            }
        }
        "notifications/message" => {
            let level = params
                .get("level")
                .and_then(Value::as_str)
                .unwrap_or("info");
            let logger = params.get("logger").and_then(Value::as_str);
            let data = match params.get("data") {
                Some(Value::String(s)) => Value::String(text::clip(s, MAX_TEXT)),
                Some(other) if other.to_string().len() <= MAX_TEXT => other.clone(),
                Some(other) => Value::String(text::clip(&other.to_string(), MAX_TEXT)),
                None => Value::Null,
            };
            sink.log(level, logger, &data);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Seen(RefCell<Vec<String>>);

    impl CallEvents for Seen {
        fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
            self.0
                .borrow_mut()
                .push(format!("progress {progress} {total:?} {message:?}"));
        }
        fn log(&self, level: &str, logger: Option<&str>, data: &Value) {
            self.0
                .borrow_mut()
                .push(format!("log {level} {logger:?} {data}"));
        }
    }

    #[test]
    fn progress_of_our_token_and_log_lines_reach_the_sink_and_nothing_else() {
        let seen = Seen::default();
        let ours = Some("t1");
        dispatch(
            &seen,
            ours,
            "notifications/progress",
            &json!({"progressToken": "t1", "progress": 2, "total": 5, "message": "step 2"}),
        );
        dispatch(
            &seen,
            ours,
            "notifications/progress",
            &json!({"progressToken": "other", "progress": 9}),
        );
        dispatch(
            &seen,
            ours,
            "notifications/progress",
            &json!({"progressToken": "t1", "progress": 3}),
        );
        dispatch(
            &seen,
            ours,
            "notifications/progress",
            &json!({"progressToken": "t1"}),
        );
        dispatch(
            &seen,
            ours,
            "notifications/message",
            &json!({"level": "warning", "logger": "job", "data": "disk"}),
        );
        dispatch(
            &seen,
            ours,
            "notifications/resources/updated",
            &json!({"uri": "x"}),
        );
        assert_eq!(
            *seen.0.borrow(),
            vec![
                "progress 2 Some(5.0) Some(\"step 2\")".to_string(),
                "progress 3 None None".to_string(),
                "log warning Some(\"job\") \"disk\"".to_string(),
            ]
        );
    }

    #[test]
    fn long_log_data_is_clipped() {
        let seen = Seen::default();
        let big = "x".repeat(MAX_TEXT * 2);
        dispatch(
            &seen,
            None,
            "notifications/message",
            &json!({"level": "info", "data": {"blob": big}}),
        );
        let line = seen.0.borrow()[0].clone();
        assert!(line.len() < MAX_TEXT + 100, "{}", line.len());
    }
}
