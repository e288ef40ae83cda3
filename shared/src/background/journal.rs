//! A background execution's journal: its state and its events, as a pure state machine the
//! `Execution` Durable Object (`edge_cloudflare::execution`) stores and replays.
//!
//! Invariants:
//! - Event ids start at 1 and increase by exactly 1: a watcher that saw id `n` has seen every
//!   event up to `n`, and replay from `n` ([`after`]) returns exactly the rest.
//! - The journal is `running` until its one final event (`result`, `error` or `cancelled`);
//!   after it nothing is appended (a late progress notification or a result arriving after a
//!   cancellation is dropped, so a cancelled execution never stores a result).
//! - The final event carries the final status; [`Journal::end`] derives from it the ledger's
//!   [`End`] (the row's one final state).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ledger::End;
use crate::repo::executions::Status;

crate::text_enum::text_enum! {
    /// What an event says.
    pub enum EventKind {
        /// The server's `notifications/progress`: `{progress, total?, message?}`.
        Progress = "progress",
        /// The server's `notifications/message`: `{level, logger?, data}`.
        Log = "log",
        /// A server→client request relayed to a watcher (`/mcp`'s streamed call):
        /// `{request_id, method, params}`; answered with `answer_execution`.
        Request = "request",
        /// Final: the tool's result (`{status: success|error, result, duration_ms}`; a result
        /// with `isError` is `error` with the tool's own result).
        Result = "result",
        /// Final: no result (`{status: error|timeout, code, message, duration_ms}`).
        Error = "error",
        /// Final: a user cancelled it (`{status: cancelled, message, duration_ms}`).
        Cancelled = "cancelled",
    }
}

impl EventKind {
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            EventKind::Progress | EventKind::Log | EventKind::Request
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    pub kind: EventKind,
    pub data: Value,
    pub at_ms: u64,
}

/// How a call ended, as the journal takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The tool answered (redacted, capped for storage by the caller of [`Journal::end`]).
    Result(Value),
    /// No result: `status` is `error` or `timeout`; `code` the API error code.
    Failed {
        status: Status,
        code: &'static str,
        message: String,
    },
    Cancelled {
        message: String,
    },
}

/// The journal of one execution: started at `started_ms`, events numbered from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub started_ms: u64,
    pub last_id: u64,
    /// `pending` while running, then the final status.
    pub status: Status,
    pub ended_ms: Option<u64>,
}

impl Journal {
    pub fn new(started_ms: u64) -> Journal {
        Journal {
            started_ms,
            last_id: 0,
            status: Status::Pending,
            ended_ms: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.status == Status::Pending
    }

    fn next(&mut self, kind: EventKind, data: Value, at_ms: u64) -> Option<Event> {
        if !self.is_running() {
            return None;
        }
        self.last_id += 1;
        Some(Event {
            id: self.last_id,
            kind,
            data,
            at_ms,
        })
    }

    /// A progress notification; `None` once the journal is final.
    pub fn progress(
        &mut self,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
        at_ms: u64,
    ) -> Option<Event> {
        let mut data = json!({ "progress": progress });
        if let Some(total) = total {
            data["total"] = json!(total);
        }
        if let Some(message) = message {
            data["message"] = json!(message);
        }
        self.next(EventKind::Progress, data, at_ms)
    }

    /// A log notification; `None` once the journal is final.
    pub fn log(
        &mut self,
        level: &str,
        logger: Option<&str>,
        data: &Value,
        at_ms: u64,
    ) -> Option<Event> {
        let mut body = json!({ "level": level, "data": data });
        if let Some(logger) = logger {
            body["logger"] = json!(logger);
        }
        self.next(EventKind::Log, body, at_ms)
    }

    /// A server→client request waiting for a watcher's answer under `request_id`; `None`
    /// once the journal is final.
    pub fn request(
        &mut self,
        request_id: &str,
        method: &str,
        params: &Value,
        at_ms: u64,
    ) -> Option<Event> {
        let data = json!({ "request_id": request_id, "method": method, "params": params });
        self.next(EventKind::Request, data, at_ms)
    }

    /// The one final event; `None` when the journal already has one (the first end wins).
    pub fn finish(&mut self, outcome: &Outcome, at_ms: u64) -> Option<Event> {
        if !self.is_running() {
            return None;
        }
        let duration_ms = at_ms.saturating_sub(self.started_ms);
        let (kind, status, data) = match outcome {
            Outcome::Result(result) => {
                let is_error = result.get("isError").and_then(Value::as_bool) == Some(true);
                let status = if is_error {
                    Status::Error
                } else {
                    Status::Success
                };
                let data = json!({
                    "status": status,
                    "success": !is_error,
                    "result": result,
                    "duration_ms": duration_ms,
                });
                (EventKind::Result, status, data)
            }
            Outcome::Failed {
                status,
                code,
                message,
            } => (
                EventKind::Error,
                *status,
                json!({ "status": status, "code": code, "message": message, "duration_ms": duration_ms }),
            ),
            Outcome::Cancelled { message } => (
                EventKind::Cancelled,
                Status::Cancelled,
                json!({ "status": Status::Cancelled, "message": message, "duration_ms": duration_ms }),
            ),
        };
        let event = self.next(kind, data, at_ms)?;
        self.status = status;
        self.ended_ms = Some(at_ms);
        Some(event)
    }

    /// The ledger's end of this execution, from its final event (`None` while running).
    /// `output` is the stored result text (capped by the caller), `error` the error text.
    pub fn end(
        &self,
        id: &str,
        tool_id: &str,
        last: &Event,
        output: Option<String>,
    ) -> Option<End> {
        let ended_ms = self.ended_ms?;
        let error = match last.kind {
            EventKind::Result if self.status == Status::Error => {
                Some(error_text_of(&last.data["result"]))
            }
            EventKind::Error | EventKind::Cancelled => {
                last.data["message"].as_str().map(str::to_string)
            }
            _ => None,
        };
        Some(End {
            id: id.to_string(),
            tool_id: tool_id.to_string(),
            status: self.status,
            output: output.filter(|_| last.kind == EventKind::Result),
            error,
            duration_ms: ended_ms.saturating_sub(self.started_ms),
            ended_ms,
        })
    }
}

/// The events after `last_seen` (all of them for `None`), in order.
pub fn after(events: &[Event], last_seen: Option<u64>) -> &[Event] {
    let from = last_seen.unwrap_or(0);
    let start = events.partition_point(|e| e.id <= from);
    &events[start..]
}

/// The text of a tool's `isError` result (its text content), for the row's `error`.
fn error_text_of(result: &Value) -> String {
    let texts: Vec<&str> = result["content"]
        .as_array()
        .map(|items| items.iter().filter_map(|c| c["text"].as_str()).collect())
        .unwrap_or_default();
    if texts.is_empty() {
        "tool reported an error".to_string()
    } else {
        texts.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_to_end(outcome: Outcome) -> (Journal, Vec<Event>) {
        let mut j = Journal::new(1_000);
        let mut events = Vec::new();
        events.extend(j.progress(0.0, Some(3.0), Some("step 0"), 1_100));
        events.extend(j.log("info", Some("job"), &json!("hello"), 1_200));
        events.extend(j.progress(1.0, None, None, 1_300));
        events.extend(j.finish(&outcome, 4_000));
        (j, events)
    }

    #[test]
    fn ids_are_contiguous_from_one_and_the_final_event_carries_status_and_duration() {
        let (j, events) = run_to_end(Outcome::Result(
            json!({"content": [{"type": "text", "text": "ok"}]}),
        ));
        let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        assert_eq!(
            events[0].data,
            json!({"progress": 0.0, "total": 3.0, "message": "step 0"})
        );
        assert_eq!(
            events[1].data,
            json!({"level": "info", "logger": "job", "data": "hello"})
        );
        assert_eq!(events[2].data, json!({"progress": 1.0}));
        let last = &events[3];
        assert_eq!(last.kind, EventKind::Result);
        assert_eq!(last.data["status"], "success");
        assert_eq!(last.data["duration_ms"], 3_000);
        assert_eq!(j.status, Status::Success);
        let end = j.end("e1", "t1", last, Some("{}".into())).unwrap();
        assert_eq!(
            (end.status, end.duration_ms, end.ended_ms),
            (Status::Success, 3_000, 4_000)
        );
        assert_eq!(end.output.as_deref(), Some("{}"));
        assert_eq!(end.error, None);
    }

    #[test]
    fn nothing_is_appended_after_the_final_event_and_the_first_end_wins() {
        let (mut j, events) = run_to_end(Outcome::Cancelled {
            message: "cancelled by alice".into(),
        });
        assert_eq!(j.status, Status::Cancelled);
        assert_eq!(j.progress(2.0, None, None, 5_000), None);
        assert_eq!(j.log("info", None, &json!("late"), 5_000), None);
        // The result that arrives after a cancellation is never stored.
        assert_eq!(
            j.finish(&Outcome::Result(json!({"content": []})), 5_000),
            None
        );
        assert_eq!((j.last_id, j.status), (4, Status::Cancelled));
        let end = j
            .end("e1", "t1", &events[3], Some("ignored".into()))
            .unwrap();
        assert_eq!(end.status, Status::Cancelled);
        assert_eq!(end.output, None, "a cancelled execution stores no output");
        assert_eq!(end.error.as_deref(), Some("cancelled by alice"));
    }

    #[test]
    fn a_tool_error_and_a_timeout_end_as_error_and_timeout_with_their_texts() {
        let (j, events) = run_to_end(Outcome::Result(
            json!({"isError": true, "content": [{"type": "text", "text": "disk full"}]}),
        ));
        assert_eq!(j.status, Status::Error);
        assert_eq!(events[3].data["success"], false);
        let end = j.end("e", "t", &events[3], Some("{}".into())).unwrap();
        assert_eq!(end.error.as_deref(), Some("disk full"));

        let (j, events) = run_to_end(Outcome::Failed {
            status: Status::Timeout,
            code: "timeout",
            message: "no answer within 3600 s".into(),
        });
        assert_eq!(events[3].kind, EventKind::Error);
        assert_eq!(events[3].data["code"], "timeout");
        let end = j.end("e", "t", &events[3], None).unwrap();
        assert_eq!(
            (end.status, end.error.as_deref()),
            (Status::Timeout, Some("no answer within 3600 s"))
        );
    }

    #[test]
    fn replay_after_a_last_event_id_returns_exactly_the_rest() {
        let (_, events) = run_to_end(Outcome::Result(json!({})));
        assert_eq!(after(&events, None).len(), 4);
        assert_eq!(after(&events, Some(0)).len(), 4);
        let rest: Vec<u64> = after(&events, Some(2)).iter().map(|e| e.id).collect();
        assert_eq!(rest, vec![3, 4]);
        assert!(after(&events, Some(4)).is_empty());
        assert!(after(&events, Some(99)).is_empty());
    }
}
