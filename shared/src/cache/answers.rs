//! The gateway isolate's memory of read-only answers (`list_tools`), served without a trip to
//! the action worker or KV while the team's configuration has not changed.
//!
//! A key names the team, the team's configuration version (from the team's object, on every
//! request: any change to the team's servers, tools or credentials moves it, and so does a
//! cron pass that moved a server's status or changed a catalogue; `crate::call_target`), the action and the request's fields in canonical
//! order. The gate has admitted the request and charged its rate limit before the memory is
//! asked, so a served answer costs what the action costs.
//!
//! Invariants:
//! - An answer is served only under the exact key it was stored under: same team, same
//!   version, same request. Another team's answer can never be served.
//! - An answer serves for at most [`ANSWER_MEMO_MS`] (the statistics in a tool list are a
//!   snapshot; KV's copy may be older: `LIST_TTL_SECS`).
//! - Memory is bounded: answers above [`MAX_ANSWER_BYTES`] are not kept, and the whole memory
//!   holds at most [`MAX_TOTAL_BYTES`] (it starts over beyond).
//! - Without a version (limits disabled, or the gate failed open) nothing is stored or served.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use serde_json::Value;

use crate::api::Action;

/// How long a remembered answer serves.
pub const ANSWER_MEMO_MS: u64 = 10_000;
/// The largest answer remembered.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// All remembered answers together at most.
pub const MAX_TOTAL_BYTES: usize = 8 * 1024 * 1024;

/// Whether `action`'s answers may be remembered: read-only, and the same for every member of
/// the team whatever their role.
pub fn memoizable(action: Action) -> bool {
    action == Action::ListTools
}

/// The key of a request's answer; `None` when it may not be remembered.
pub fn key(
    action: Action,
    team_id: &str,
    version: Option<&str>,
    request: &Value,
) -> Option<String> {
    let version = version?;
    memoizable(action).then(|| format!("{team_id}\u{1f}{version}\u{1f}{request}"))
}

#[derive(Debug, Default)]
pub struct AnswerMemo {
    entries: RefCell<HashMap<String, (Vec<u8>, u64)>>,
    bytes: Cell<usize>,
}

impl AnswerMemo {
    pub fn new() -> AnswerMemo {
        AnswerMemo::default()
    }

    /// The answer stored under `key` less than [`ANSWER_MEMO_MS`] ago.
    pub fn recall(&self, key: &str, now_ms: u64) -> Option<Vec<u8>> {
        let entries = self.entries.borrow();
        let (body, at) = entries.get(key)?;
        (now_ms >= *at && now_ms - at < ANSWER_MEMO_MS).then(|| body.clone())
    }

    /// Keeps a successful answer's body, marked `"cached": true` (what a later request is
    /// served). Answers that are not JSON objects, or too large, are not kept.
    pub fn remember(&self, key: &str, body: &[u8], now_ms: u64) {
        if body.len() > MAX_ANSWER_BYTES {
            return;
        }
        let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        answer.insert("cached".into(), Value::Bool(true));
        let Ok(body) = serde_json::to_vec(&answer) else {
            return;
        };
        let mut entries = self.entries.borrow_mut();
        let size = body.len() + key.len();
        let mut bytes = self.bytes.get();
        if bytes + size > MAX_TOTAL_BYTES {
            entries.clear();
            bytes = 0;
        }
        bytes += size;
        if let Some((old, _)) = entries.insert(key.to_string(), (body, now_ms)) {
            bytes -= old.len() + key.len();
        }
        self.bytes.set(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: u64 = 1_000_000;

    #[test]
    fn only_list_tools_with_a_version_gets_a_key() {
        let req = json!({"action": "list_tools"});
        assert!(key(Action::ListTools, "team-a", Some("e.1"), &req).is_some());
        assert_eq!(key(Action::ListTools, "team-a", None, &req), None);
        assert_eq!(key(Action::CallTool, "team-a", Some("e.1"), &req), None);
        assert_eq!(key(Action::ListServers, "team-a", Some("e.1"), &req), None);
    }

    #[test]
    fn an_answer_serves_its_own_team_version_and_request_only_and_not_for_long() {
        let memo = AnswerMemo::new();
        let req = json!({"action": "list_tools", "server_id": "s1"});
        let k = key(Action::ListTools, "team-a", Some("e.1"), &req).unwrap();
        memo.remember(&k, br#"{"tools":[1],"cached":false}"#, T0);
        let served: Value = serde_json::from_slice(&memo.recall(&k, T0 + 5).unwrap()).unwrap();
        assert_eq!(served, json!({"tools": [1], "cached": true}));
        for other in [
            key(Action::ListTools, "team-b", Some("e.1"), &req),
            key(Action::ListTools, "team-a", Some("e.2"), &req),
            key(
                Action::ListTools,
                "team-a",
                Some("e.1"),
                &json!({"action": "list_tools", "server_id": "s2"}),
            ),
        ] {
            assert_eq!(memo.recall(&other.unwrap(), T0 + 5), None);
        }
        assert_eq!(memo.recall(&k, T0 + ANSWER_MEMO_MS), None, "expired");
    }

    #[test]
    fn memory_stays_bounded_and_odd_answers_are_not_kept() {
        let memo = AnswerMemo::new();
        memo.remember("big", &vec![b' '; MAX_ANSWER_BYTES + 1], T0);
        memo.remember("array", b"[1,2]", T0);
        memo.remember("garbage", b"not json", T0);
        assert!(memo.entries.borrow().is_empty());
        let body = format!(r#"{{"tools":"{}"}}"#, "x".repeat(MAX_ANSWER_BYTES - 100));
        for i in 0..(2 * MAX_TOTAL_BYTES / MAX_ANSWER_BYTES) {
            memo.remember(&format!("k{i}"), body.as_bytes(), T0);
            assert!(memo.bytes.get() <= MAX_TOTAL_BYTES);
        }
        // The same key stored again replaces its bytes instead of adding to them.
        let fresh = AnswerMemo::new();
        fresh.remember("k", br#"{"tools":[]}"#, T0);
        fresh.remember("k", br#"{"tools":[]}"#, T0 + 1);
        let kept = fresh.recall("k", T0 + 1).unwrap().len();
        assert_eq!(fresh.bytes.get(), kept + "k".len());
    }
}
