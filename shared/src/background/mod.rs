//! Background executions (issue 17): `call_tool` with `"mode": "async"` (or a tool an admin
//! marked `long_running`; or a stated `wait_seconds` the call outlasts: [`wait`]) answers `202` at once and the call runs in a Durable Object of its
//! own (`edge_cloudflare::execution`, class `Execution`, hosted by the call_tool worker, named
//! by the execution id), which streams its progress to watchers and can be cancelled.
//!
//! The split: everything up to going upstream is `call_tool`'s synchronous path unchanged
//! (validation, membership, limits, confirmation, the breaker, the team ledger's `pending`
//! record); then the prepared call ([`Handoff`]) goes to the object, which holds it in memory
//! only (it carries the credential's headers: never written to storage) and runs it from its
//! alarm. The object's storage holds the [`journal::Journal`] and its events.
//!
//! Invariants:
//! - Every execution started here reaches exactly one final state in the team ledger (and so
//!   in D1): the object delivers its end (retried from its alarm until the ledger took it); if
//!   the object restarts mid-call it no longer holds the call, and its next alarm (a heartbeat
//!   every [`HEARTBEAT_MS`] while running) ends it as `error` with [`RESTARTED`], unless the
//!   server runs the call as an MCP task, whose stored id the alarm polls again; if the object
//!   is lost entirely the team ledger ends the record at its deadline (the async timeout plus
//!   `ledger::ABANDON_MARGIN_MS`).
//! - Who may see, watch and cancel ([`may_act`]): the user who started it, and the admins and
//!   owners of its team; anyone else gets the same 404 as for an id that does not exist.
//! - A team runs at most its cap of executions at once (`MAX_RUNNING_EXECUTIONS` on the
//!   call_tool worker, default [`DEFAULT_MAX_RUNNING`]), counted exactly in the team's object
//!   when the ledger record is taken: one over is 429 `rate_limit`, nothing recorded or sent.
//! - A background call's time budget is the tool's `async_timeout_seconds` (an admin setting,
//!   1..=[`MAX_ASYNC_TIMEOUT_SECS`]), else its `timeout_seconds`.

pub mod ask;
pub mod journal;
pub mod stream;
pub mod wait;
pub mod webhook;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::api::ActionRequest;
use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::ledger::Record;
use crate::time::iso_from_ms;
use journal::{Event, Journal};
use mcp_client::{ServerEndpoint, TransportPin};

/// The longest time budget an admin may give a tool in the background (one hour).
pub const MAX_ASYNC_TIMEOUT_SECS: u64 = 3600;
/// Executions a team may run at once when `MAX_RUNNING_EXECUTIONS` is not set.
pub const DEFAULT_MAX_RUNNING: u32 = 10;
/// While a call runs, its object re-arms an alarm this often: after a restart that alarm finds
/// the call gone from memory and ends it.
pub const HEARTBEAT_MS: u64 = 3_000;
/// After a failed delivery of the end to the team ledger, the object tries again this much
/// later (from its alarm).
pub const DELIVERY_RETRY_MS: u64 = 2_000;
/// The error of an execution whose object restarted mid-call.
pub const RESTARTED: &str = "the execution's runtime restarted while the tool was running; \
     mcp-edge no longer holds the call, so its outcome is unknown (the server may still have done the work)";

/// Where the `Execution` object takes each request (its stub's URLs).
pub const START_URL: &str = "https://execution.internal/start";
pub const STATE_URL: &str = "https://execution.internal/state";
pub const WATCH_URL: &str = "https://execution.internal/watch";
pub const CANCEL_URL: &str = "https://execution.internal/cancel";
pub const ANSWER_URL: &str = "https://execution.internal/answer";
pub const WAIT_URL: &str = "https://execution.internal/wait";

crate::text_enum::text_enum! {
    /// How `call_tool` runs a call (`"mode"`).
    pub enum Mode {
        /// Hold the request until the tool answers (the default).
        Sync = "sync",
        /// Answer 202 at once; the call runs in the background.
        Async = "async",
    }
}

/// The mode of a call: `mode` when given, else `async` for a `long_running` tool.
pub fn mode_of(req: &ActionRequest, long_running: bool) -> Result<Mode> {
    match req.optional_str("mode", 16)? {
        None if long_running => Ok(Mode::Async),
        None => Ok(Mode::Sync),
        Some(text) => Mode::parse(text).ok_or_else(|| {
            Error::validation_with(
                "mode must be \"sync\" or \"async\"",
                json!({ "field": "mode", "allowed": Mode::ALL }),
            )
        }),
    }
}

/// Whether `viewer` may see, watch and cancel an execution that `record` describes.
pub fn may_act(viewer: &Identity, record: &Record) -> bool {
    viewer.team_id == record.team_id && (viewer.user_id == record.user_id || viewer.role.is_admin())
}

/// The one answer for an execution the viewer may not see and one that does not exist.
pub fn not_found(execution_id: &str) -> Error {
    Error::NotFound(format!("execution '{execution_id}' not found in your team"))
}

/// A prepared call, as `call_tool` hands it to the execution's object. It carries the
/// server's credential (headers, `secrets` for the redactor): the object keeps it in memory
/// only. No `Debug`: nothing prints it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Handoff {
    pub record: Record,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub transport: TransportPin,
    pub arguments: Map<String, Value>,
    pub input_schema: Option<Value>,
    pub idempotent: bool,
    pub timeout_ms: u64,
    /// The values to scrub from whatever comes back.
    pub secrets: Vec<String>,
    /// `call_tool`'s `ask_watchers`: the server's requests during the call wait for a
    /// watcher's answer (`ask`).
    #[serde(default)]
    pub ask_watchers: bool,
}

impl Handoff {
    pub fn endpoint(&self) -> ServerEndpoint {
        ServerEndpoint {
            server_id: self.record.server_id.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            transport: self.transport,
        }
    }
}

/// A viewer's request to the object (`/state`, `/watch`, `/cancel`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Viewing {
    pub viewer: Identity,
    #[serde(default)]
    pub last_event_id: Option<u64>,
    /// `/wait`: how long to wait for the final event.
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

impl Viewing {
    /// `viewer` asking for the execution's state, with no resume point and no wait.
    pub fn by(viewer: &Identity) -> Viewing {
        Viewing {
            viewer: viewer.clone(),
            last_event_id: None,
            wait_ms: None,
        }
    }
}

/// The execution as the API shows it: the record's public part and the journal's state;
/// `status` is `running` until the final event. `id` and `execution_id` are the same (`id` is
/// what the document's `Execution` and the D1 rows name it).
pub fn summary(record: &Record, journal: &Journal) -> Value {
    let status = if journal.is_running() {
        "running"
    } else {
        journal.status.as_str()
    };
    json!({
        "id": record.id,
        "execution_id": record.id,
        "status": status,
        "user_id": record.user_id,
        "server_id": record.server_id,
        "server_name": record.server_name,
        "tool_name": record.tool_name,
        "started_at": iso_from_ms(record.started_ms),
        "completed_at": journal.ended_ms.map(iso_from_ms),
        "duration_ms": journal.ended_ms.map(|e| e.saturating_sub(journal.started_ms)),
        "last_event_id": journal.last_id,
    })
}

/// How to follow an execution, in the 202 answer.
pub fn watch_hint(execution_id: &str) -> Value {
    json!({
        "stream": { "action": "watch_execution", "execution_id": execution_id,
                    "accept": stream::CONTENT_TYPE, "resume": "Last-Event-ID header or last_event_id" },
        "poll": { "action": "get_execution", "execution_id": execution_id },
        "cancel": { "action": "cancel_execution", "execution_id": execution_id },
    })
}

/// `get_execution`'s answer for an execution its object holds.
pub fn state_answer(record: &Record, journal: &Journal, events: &[Event]) -> Value {
    let mut execution = summary(record, journal);
    execution["input"] = serde_json::from_str(&record.input).unwrap_or(Value::Null);
    execution["events"] = serde_json::to_value(events).unwrap_or(Value::Null);
    json!({ "execution": execution })
}

/// Where `call_tool` hands a prepared call over (the `Execution` objects on Workers).
pub trait Background {
    /// Gives the call to its execution's object; answers once the object holds it and has
    /// scheduled it. An error means the object never took it (the caller ends the record).
    fn start<'a>(&'a self, handoff: &'a Handoff)
        -> futures::future::LocalBoxFuture<'a, Result<()>>;

    /// Waits up to `wait_ms` for the execution's final event (`None`: it is still running).
    fn wait<'a>(
        &'a self,
        execution_id: &'a str,
        viewer: &'a Identity,
        wait_ms: u64,
    ) -> futures::future::LocalBoxFuture<'a, Result<Option<Event>>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Role;

    fn record() -> Record {
        Record {
            id: "e1".into(),
            team_id: "team-a".into(),
            user_id: "alice".into(),
            server_id: "srv".into(),
            server_name: "s".into(),
            tool_id: "t".into(),
            tool_name: "slow".into(),
            request_id: "r".into(),
            input: "{}".into(),
            started_ms: 0,
            deadline_ms: 1,
            credential_id: None,
        }
    }

    fn who(user: &str, team: &str, role: Role) -> Identity {
        Identity {
            user_id: user.into(),
            team_id: team.into(),
            role,
        }
    }

    #[test]
    fn the_starter_and_the_teams_admins_may_act_and_nobody_else() {
        let r = record();
        assert!(may_act(&who("alice", "team-a", Role::Member), &r));
        assert!(may_act(&who("boss", "team-a", Role::Admin), &r));
        assert!(may_act(&who("own", "team-a", Role::Owner), &r));
        assert!(!may_act(&who("bob", "team-a", Role::Member), &r));
        // Another team's admin, even with the same user id.
        assert!(!may_act(&who("alice", "team-b", Role::Owner), &r));
    }

    #[test]
    fn mode_defaults_to_sync_and_to_async_for_long_running_tools() {
        let req = |body: Value| ActionRequest::parse(body.to_string().as_bytes()).unwrap();
        let plain = req(json!({"action": "call_tool"}));
        assert_eq!(mode_of(&plain, false).unwrap(), Mode::Sync);
        assert_eq!(mode_of(&plain, true).unwrap(), Mode::Async);
        assert_eq!(
            mode_of(&req(json!({"action": "call_tool", "mode": "sync"})), true).unwrap(),
            Mode::Sync
        );
        assert_eq!(
            mode_of(&req(json!({"action": "call_tool", "mode": "async"})), false).unwrap(),
            Mode::Async
        );
        let bad = mode_of(&req(json!({"action": "call_tool", "mode": "later"})), false);
        assert_eq!(bad.unwrap_err().code(), "validation_error");
    }
}
