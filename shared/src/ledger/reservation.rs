//! The `pending` record reserved by the team's gate: admission and the ledger's start in one
//! request to the team's object (issue 15, docs/CAPACITY.md).
//!
//! The gateway asks the team's object whether a `call_tool` request may go (membership, role,
//! limits). When the object admits it, and the server's circuit breaker is closed, it also
//! writes the call's `pending` record into its ledger before it answers, from what the request
//! alone says ([`record`]: execution id, team, user, `server_id`, `tool_name`, request id, and
//! a deadline from the longest tool timeout), and answers its id ([`Reservation`]), which
//! travels to call_tool in the signed envelope. call_tool then stores nothing before going
//! upstream: the record is already durable. Its `finish` carries the completed record
//! (redacted input, tool id, server name, credential) with the end; a call that never goes
//! upstream (a validation error, a cached result, a confirmation asked) discards the
//! reservation after its reply (`super::Ledger::discard`).
//!
//! Invariants:
//! - Only an admitted call is reserved: a refusal of the gate (not a member, a role too low, a
//!   rate limit) or an open or half-open breaker reserves nothing; then call_tool starts the
//!   record itself as before ([`super::Admit::AskBreaker`]), so a failing server keeps the
//!   breaker's exact order of checks and its probe.
//! - A reservation is a `pending` record like any other: if its worker stops, the ledger ends
//!   it at its deadline ([`super::abandoned`]), so every started call reaches exactly one
//!   final state; only a reservation still unfinished can be completed or discarded.
//! - What a reservation lacks (input, tool id, server name, credential) is filled in by its
//!   `finish`; a reservation ended at its deadline keeps them empty.

use serde::{Deserialize, Serialize};

use super::{Record, ABANDON_MARGIN_MS};
use crate::api::{Action, ActionRequest, MAX_ID_LEN, MAX_NAME_LEN};

/// The longest tool timeout (`mcp_tools.timeout_seconds` is at most 300): a reservation's
/// deadline is this plus [`ABANDON_MARGIN_MS`] after the gate admitted it, since the gate
/// does not know the tool's own timeout.
pub const MAX_TOOL_TIMEOUT_MS: u64 = 300_000;

/// What the gateway asks the team's object to reserve along with its admission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveRequest {
    pub server_id: String,
    pub tool_name: String,
}

/// A `pending` record the team's object holds for this request (durable before it answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub execution_id: String,
}

/// What the gateway asks to reserve for `request`: a `call_tool` naming a server and a tool
/// (malformed fields reserve nothing: call_tool refuses them before anything would start).
pub fn wanted(action: Action, request: &ActionRequest) -> Option<ReserveRequest> {
    if action != Action::CallTool {
        return None;
    }
    let server_id = request.required_str("server_id", MAX_ID_LEN).ok()?;
    let tool_name = request.required_str("tool_name", MAX_NAME_LEN).ok()?;
    Some(ReserveRequest {
        server_id: server_id.to_string(),
        tool_name: tool_name.to_string(),
    })
}

/// The record the gate writes for an admitted call: what the request says, empty where only
/// call_tool knows (completed by its `finish`).
pub fn record(
    id: &str,
    team_id: &str,
    user_id: &str,
    request_id: &str,
    reserve: &ReserveRequest,
    now_ms: u64,
) -> Record {
    Record {
        id: id.to_string(),
        team_id: team_id.to_string(),
        user_id: user_id.to_string(),
        server_id: reserve.server_id.clone(),
        server_name: String::new(),
        tool_id: String::new(),
        tool_name: reserve.tool_name.clone(),
        request_id: request_id.to_string(),
        input: "{}".to_string(),
        started_ms: now_ms,
        deadline_ms: now_ms + MAX_TOOL_TIMEOUT_MS + ABANDON_MARGIN_MS,
        credential_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: serde_json::Value) -> ActionRequest {
        ActionRequest::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn only_a_call_tool_naming_its_server_and_tool_is_reserved() {
        let call = request(json!({"action": "call_tool", "server_id": "s1", "tool_name": "echo"}));
        assert_eq!(
            wanted(Action::CallTool, &call),
            Some(ReserveRequest {
                server_id: "s1".into(),
                tool_name: "echo".into()
            })
        );
        let no_tool = request(json!({"action": "call_tool", "server_id": "s1"}));
        assert_eq!(wanted(Action::CallTool, &no_tool), None);
        let no_server = request(json!({"action": "call_tool", "tool_name": "echo"}));
        assert_eq!(wanted(Action::CallTool, &no_server), None);
        let list = request(json!({"action": "list_tools", "server_id": "s1"}));
        assert_eq!(wanted(Action::ListTools, &list), None);
    }

    #[test]
    fn a_reserved_record_outlives_the_longest_tool_timeout() {
        let reserve = ReserveRequest {
            server_id: "s1".into(),
            tool_name: "echo".into(),
        };
        let r = record("e1", "t1", "u1", "req-1", &reserve, 1_000);
        assert_eq!((r.id.as_str(), r.server_id.as_str()), ("e1", "s1"));
        assert_eq!(
            (r.tool_name.as_str(), r.request_id.as_str()),
            ("echo", "req-1")
        );
        assert_eq!(r.deadline_ms, 1_000 + 300_000 + ABANDON_MARGIN_MS);
        // The stored input must be valid JSON (mcp_tool_executions checks json_valid).
        assert!(serde_json::from_str::<serde_json::Value>(&r.input).is_ok());
        assert!(r.tool_id.is_empty() && r.credential_id.is_none());
    }
}
