//! `notifications/tools/list_changed` on the standalone stream (`GET /mcp` with
//! `Accept: text/event-stream`, handshake era): what the stream says, free of I/O.
//!
//! The stream follows the team's catalogue version stamp, the one every change to the team's
//! servers, tools or credentials already moves (`/config-changed` on the team's object:
//! admin actions, syncs, and cron runs that moved a server's status or changed a catalogue;
//! `crate::actions::cron::Report::changed_teams`). The team's object pushes the stamp to
//! its catalogue watchers ([`version_frame`]); the gateway reads that stream and turns each
//! new stamp into one `notifications/tools/list_changed` ([`Listen`]). No isolate keeps a
//! table of streams or sessions: the object holds only its open watch streams, and the
//! stamp travels to the client as the SSE event id, so a client that reconnects with
//! `Last-Event-ID` learns of a change it missed while away.
//!
//! Invariants:
//! - The stream opens with a priming event (`id: <stamp>`, empty data, `retry:`), so a
//!   client has a resume point at once. A `Last-Event-ID` that is not the current stamp means
//!   the catalogue moved since: one `list_changed` follows at once.
//! - Each stamp different from the last one seen gives exactly one `list_changed` with
//!   `id: <stamp>`; a repeated stamp gives nothing. A change may leave the caller's list as it
//!   was (a credential, an admin sync that found nothing new, a server turning `error`): the
//!   client re-lists for nothing, never misses a change.
//! - Bounded: a comment every [`HEARTBEAT_MS`] while idle; after the policy's lifetime the
//!   stream ends with a `retry:` hint (SDK clients reconnect after it, from their last id).
//! - Stamps are opaque text of at most [`MAX_STAMP_LEN`] visible ASCII characters; anything
//!   else from the object is ignored (it cannot inject SSE lines).

use mcp_client::sse::{SseEvent, SseParser};
use serde_json::json;

use crate::error::{Error, Result};

/// The path of the team object's catalogue watch.
pub const WATCH_URL: &str = "https://team-gate/catalogue/watch";
/// The SSE event name of one stamp on the object's watch stream.
pub const VERSION_EVENT: &str = "version";
/// A comment this often while nothing else was sent.
pub const HEARTBEAT_MS: u64 = 15_000;
/// How long a client waits before reconnecting after the stream ends (the `retry:` field).
pub const RETRY_MS: u64 = 1_000;
/// Default lifetime of one stream (`MCP_LISTEN_SECS`).
pub const DEFAULT_LIFETIME_SECS: u64 = 300;
/// Longest lifetime a setting may ask for.
pub const MAX_LIFETIME_SECS: u64 = 3_600;
/// Longest stamp passed on.
pub const MAX_STAMP_LEN: usize = 128;
/// Largest event read from the object's stream.
const MAX_EVENT_BYTES: usize = 4 << 10;

/// The object's frame for stamp `version`.
pub fn version_frame(version: &str) -> String {
    format!("event: {VERSION_EVENT}\ndata: {version}\n\n")
}

/// How long one stream lives, from `MCP_LISTEN_SECS`: unset is [`DEFAULT_LIFETIME_SECS`];
/// anything but a whole number of seconds from 1 to [`MAX_LIFETIME_SECS`] is refused (a typo
/// must not make streams unbounded).
pub fn lifetime_ms(setting: Option<&str>) -> Result<u64> {
    match setting.map(str::trim) {
        None | Some("") => Ok(DEFAULT_LIFETIME_SECS * 1000),
        Some(text) => match text.parse::<u64>() {
            Ok(secs) if (1..=MAX_LIFETIME_SECS).contains(&secs) => Ok(secs * 1000),
            _ => Err(Error::internal(format!(
                "MCP_LISTEN_SECS must be a whole number of seconds from 1 to {MAX_LIFETIME_SECS}, not {text:?}"
            ))),
        },
    }
}

/// Whether a `GET` is for the standalone stream: it accepts `text/event-stream` and is not a
/// 2026-07-28 request (that generation has no standalone stream).
pub fn offered(accept: Option<&str>, protocol_version: Option<&str>) -> bool {
    let accepts = accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/event-stream"));
    accepts && protocol_version.map(str::trim) != Some(super::version::STATELESS)
}

fn valid_stamp(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_STAMP_LEN && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// One standalone stream: reads the object's stamps, writes the client's SSE text.
pub struct Listen {
    parser: SseParser,
    /// The client's `Last-Event-ID`, until the first stamp is read.
    resumed_from: Option<String>,
    /// The last stamp the client was told of.
    seen: Option<String>,
}

impl Listen {
    /// A stream for a client that resumes from `last_event_id` (its `Last-Event-ID`), if any.
    pub fn new(last_event_id: Option<&str>) -> Self {
        Listen {
            parser: SseParser::new(MAX_EVENT_BYTES),
            resumed_from: last_event_id
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            seen: None,
        }
    }

    /// The SSE text to send for the next bytes of the object's stream.
    pub fn feed(&mut self, chunk: &[u8]) -> String {
        let mut events = Vec::new();
        // An unreadable event is skipped: the next stamp still tells of the change.
        let _ = self.parser.feed(chunk, &mut events);
        events.iter().map(|e| self.stamp(e)).collect()
    }

    fn stamp(&mut self, event: &SseEvent) -> String {
        let stamp = event.data.trim();
        if event.event != VERSION_EVENT || !valid_stamp(stamp) {
            return String::new();
        }
        match self.seen.replace(stamp.to_string()) {
            None => {
                let priming = format!("retry: {RETRY_MS}\nid: {stamp}\ndata:\n\n");
                match self.resumed_from.take() {
                    Some(from) if from != stamp => priming + &changed(stamp),
                    _ => priming,
                }
            }
            Some(previous) if previous == stamp => String::new(),
            Some(_) => changed(stamp),
        }
    }

    /// The keep-alive comment.
    pub fn heartbeat(&self) -> String {
        ": keep-alive\n\n".to_string()
    }

    /// The last text: when to reconnect.
    pub fn end(&self) -> String {
        format!("retry: {RETRY_MS}\n\n")
    }
}

/// One `notifications/tools/list_changed`, its id the new stamp.
fn changed(stamp: &str) -> String {
    let message = json!({ "jsonrpc": "2.0", "method": "notifications/tools/list_changed" });
    format!("id: {stamp}\nevent: message\ndata: {message}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Vec<SseEvent> {
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        parser.feed(text.as_bytes(), &mut out).unwrap();
        out
    }

    fn list_changed(text: &str) -> Vec<String> {
        events(text)
            .into_iter()
            .filter(|e| e.event == "message" && !e.data.is_empty())
            .map(|e| {
                let m: serde_json::Value = serde_json::from_str(&e.data).unwrap();
                assert_eq!(m["method"], "notifications/tools/list_changed");
                e.id.unwrap()
            })
            .collect()
    }

    #[test]
    fn the_first_stamp_primes_and_each_new_one_is_one_list_changed() {
        let mut l = Listen::new(None);
        let first = l.feed(version_frame("e.0").as_bytes());
        assert!(first.starts_with("retry: 1000\nid: e.0\n"), "{first}");
        assert!(list_changed(&first).is_empty());
        assert_eq!(l.feed(version_frame("e.0").as_bytes()), "", "repeated");
        let text = l.feed(format!("{}{}", version_frame("e.1"), version_frame("e.2")).as_bytes());
        assert_eq!(list_changed(&text), ["e.1", "e.2"]);
    }

    #[test]
    fn a_stamp_split_across_chunks_is_read_once() {
        let mut l = Listen::new(None);
        l.feed(version_frame("e.0").as_bytes());
        let frame = version_frame("e.1");
        let (a, b) = frame.split_at(7);
        assert_eq!(l.feed(a.as_bytes()), "");
        assert_eq!(list_changed(&l.feed(b.as_bytes())), ["e.1"]);
    }

    #[test]
    fn a_client_resuming_from_an_old_stamp_is_told_at_once() {
        let mut l = Listen::new(Some("e.3"));
        assert_eq!(
            list_changed(&l.feed(version_frame("e.5").as_bytes())),
            ["e.5"]
        );
        let mut same = Listen::new(Some("e.5"));
        assert!(list_changed(&same.feed(version_frame("e.5").as_bytes())).is_empty());
    }

    #[test]
    fn other_events_and_unsafe_stamps_are_ignored() {
        let mut l = Listen::new(None);
        assert_eq!(l.feed(b"event: other\ndata: x\n\n"), "");
        assert_eq!(l.feed(b": comment\n\n"), "");
        assert_eq!(l.feed(version_frame("has space").as_bytes()), "");
        let long = "x".repeat(MAX_STAMP_LEN + 1);
        assert_eq!(l.feed(version_frame(&long).as_bytes()), "");
        assert!(l.feed(version_frame("ok").as_bytes()).contains("id: ok"));
    }

    #[test]
    fn only_an_event_stream_get_of_the_handshake_era_is_offered() {
        assert!(offered(Some("text/event-stream"), None));
        assert!(offered(Some("Text/Event-Stream"), Some("2025-11-25")));
        assert!(!offered(Some("application/json"), None));
        assert!(!offered(None, None));
        assert!(!offered(Some("text/event-stream"), Some("2026-07-28")));
    }

    #[test]
    fn the_lifetime_setting_is_bounded() {
        assert_eq!(lifetime_ms(None).unwrap(), 300_000);
        assert_eq!(lifetime_ms(Some(" 2 ")).unwrap(), 2_000);
        for bad in ["0", "-1", "3601", "5m", "1.5"] {
            assert!(lifetime_ms(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_stream_ends_with_a_retry_hint_and_idles_with_comments() {
        let l = Listen::new(None);
        assert_eq!(l.end(), "retry: 1000\n\n");
        assert!(events(&l.heartbeat()).is_empty());
    }
}
