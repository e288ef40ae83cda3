//! `watch_execution`'s wire format: Server-Sent Events, one per journal event, and where a
//! reconnecting watcher resumes.
//!
//! Invariants:
//! - Every event is framed as `id: <id>`, `event: <kind>`, one `data:` line of compact JSON
//!   (JSON text has no raw newlines), then a blank line: a standard `EventSource` or `fetch`
//!   reader sets its last event id from it.
//! - The resume point is the `Last-Event-ID` header (what browsers send on reconnect) or the
//!   body's `last_event_id` (a `fetch` client that builds its own request); when both are
//!   given they must agree. Anything but a non-negative integer is refused (400), never read
//!   as "from the start".

use serde_json::Value;

use super::journal::Event;
use crate::error::{Error, Result};

/// The `Content-Type` of a watch answer.
pub const CONTENT_TYPE: &str = "text/event-stream";
/// Sent every this often on an idle watch, so proxies keep the stream open.
pub const KEEPALIVE_MS: u64 = 15_000;

/// One event as SSE text.
pub fn frame(event: &Event) -> String {
    format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        event.id,
        event.kind.as_str(),
        event.data
    )
}

/// An SSE comment (ignored by readers): the stream's first bytes and its keep-alive.
pub fn comment(text: &str) -> String {
    format!(": {}\n\n", text.replace(['\r', '\n'], " "))
}

/// The event id a watcher resumes after, from the `Last-Event-ID` header and the body's
/// `last_event_id` (see the module's invariants).
pub fn resume_point(header: Option<&str>, body: Option<&Value>) -> Result<Option<u64>> {
    let from_header = match header.map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            Error::validation_with(
                "Last-Event-ID must be the id of an event of this execution (a non-negative integer)",
                serde_json::json!({ "field": "Last-Event-ID" }),
            )
        })?),
    };
    let from_body = match body {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| {
                    Error::validation_with(
                        "last_event_id must be the id of an event of this execution (a non-negative integer)",
                        serde_json::json!({ "field": "last_event_id" }),
                    )
                })?,
        ),
    };
    match (from_header, from_body) {
        (Some(h), Some(b)) if h != b => Err(Error::validation_with(
            "Last-Event-ID and last_event_id disagree; send one of them",
            serde_json::json!({ "field": "last_event_id" }),
        )),
        (h, b) => Ok(h.or(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::background::journal::{EventKind, Journal, Outcome};
    use mcp_client::sse::SseParser;
    use serde_json::json;

    #[test]
    fn frames_parse_back_with_their_ids_kinds_and_data() {
        let mut j = Journal::new(0);
        let events = [
            j.progress(1.0, Some(2.0), Some("line\nbreak"), 10).unwrap(),
            j.finish(&Outcome::Result(json!({"content": []})), 20)
                .unwrap(),
        ];
        let text: String = events.iter().map(frame).collect::<String>() + &comment("keep\nalive");
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        parser.feed(text.as_bytes(), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].id.as_deref(), out[0].event.as_str()),
            (Some("1"), "progress")
        );
        let data: Value = serde_json::from_str(&out[0].data).unwrap();
        assert_eq!(data["message"], "line\nbreak");
        assert_eq!(
            (out[1].id.as_deref(), out[1].event.as_str()),
            (Some("2"), EventKind::Result.as_str())
        );
        assert_eq!(parser.last_event_id(), Some("2"));
    }

    #[test]
    fn the_resume_point_comes_from_the_header_or_the_body_and_garbage_is_refused() {
        assert_eq!(resume_point(None, None).unwrap(), None);
        assert_eq!(resume_point(Some("7"), None).unwrap(), Some(7));
        assert_eq!(resume_point(None, Some(&json!(7))).unwrap(), Some(7));
        assert_eq!(resume_point(None, Some(&json!("7"))).unwrap(), Some(7));
        assert_eq!(resume_point(Some(" 7 "), Some(&json!(7))).unwrap(), Some(7));
        assert_eq!(resume_point(Some(""), None).unwrap(), None);
        for bad in [
            resume_point(Some("-1"), None),
            resume_point(Some("abc"), None),
            resume_point(None, Some(&json!(-3))),
            resume_point(None, Some(&json!({}))),
            resume_point(Some("3"), Some(&json!(4))),
        ] {
            assert_eq!(bad.unwrap_err().code(), "validation_error");
        }
    }
}
