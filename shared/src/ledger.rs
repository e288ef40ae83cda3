//! The execution ledger: where `call_tool` records a call before it goes upstream and where it
//! records its end, and how finished records reach D1 (the system of record that history,
//! analytics and retention read).
//!
//! On Workers the ledger is the team's Durable Object (`edge_cloudflare::ledger`, in the same
//! object as the team's gate): a record is written to the object's SQLite storage, durable
//! before `start` answers, so the invariant "every started call is recorded" holds without a
//! D1 write on the call's path. Finished records are flushed to D1 in batches by the object's
//! alarm ([`flush_statements`]): one D1 transaction per batch whatever its size, so D1's write
//! rate follows the number of batches, not of calls. Without the object (unit tests, a worker
//! without the binding) the database itself is the ledger ([`DirectLedger`]). For an admitted
//! `call_tool` the team's gate writes the `pending` record itself, in the request that admits
//! the call ([`reservation`]): call_tool's `start` then costs no trip ([`Admit::Reserved`]).
//!
//! Invariants:
//! - A record is started at most once and ends at most once: `finish` only ends a `pending`
//!   record; a late or repeated end is a no-op.
//! - A record whose worker stopped mid-call is ended by the ledger itself once its deadline
//!   (the tool's timeout plus [`ABANDON_MARGIN_MS`]) has passed ([`abandoned`]), so every
//!   started call reaches exactly one final state.
//! - A batch reaches D1 exactly once: its first statement inserts the batch's id into
//!   `ledger_flushes`, so a batch replayed after a lost answer fails as a whole (nothing is
//!   counted twice), and [`applied`] tells the flusher that it can forget it. Rows use
//!   `INSERT OR IGNORE` on the execution id as a second guard.
//! - The analytics rollups are folded in the same transaction as the rows they count, so they
//!   never disagree with `mcp_tool_executions` (the batch marker makes both exactly once).
//! - Per-tool statistics are folded per batch (one statement per tool, not per call), with the
//!   same arithmetic as one call at a time; so is each credential's `last_used_at` (the latest
//!   start of a call that carried it).

use std::collections::BTreeMap;

use futures::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

use crate::breaker::{self, Breaker, Gate};
use crate::cache::Cache;
use crate::db::{Database, Statement};
use crate::error::{Error, Result};
use crate::repo::credentials;
use crate::repo::executions::{self, Finished, NewExecution, Status};
use crate::repo::rollups::{self, ExecutionFact};
use crate::stmt;
use crate::time::iso_from_ms;

pub mod reservation;

/// Where the team's object takes a [`StartRequest`], a [`FinishRequest`] and an
/// [`AdmitRequest`].
pub const START_URL: &str = "https://rate-limiter.internal/ledger/start";
pub const FINISH_URL: &str = "https://rate-limiter.internal/ledger/finish";
pub const ADMIT_URL: &str = "https://rate-limiter.internal/ledger/admit";
/// Where the team's object drops a reservation that never went upstream ([`DiscardRequest`]).
pub const DISCARD_URL: &str = "https://rate-limiter.internal/ledger/discard";
/// `start` of a background execution ([`BackgroundStart`]), counted against the team's cap.
pub const START_BACKGROUND_URL: &str = "https://rate-limiter.internal/ledger/start-background";
/// The team's object flushes finished records this long after the first of them ends
/// (`LEDGER_FLUSH_DELAY_MS`, [`flush_delay_ms`]), or as soon as [`MAX_BATCH`] have ended, so
/// that a team's calls share a D1 transaction: at the product's peak most teams call less than
/// once a second, and a short delay would cost D1 one transaction per call (docs/CAPACITY.md).
/// Readers of executions do not wait it out: the admin worker asks the object to flush before
/// every history or analytics read (`FLUSH_URL`).
pub const DEFAULT_FLUSH_DELAY_MS: u64 = 60_000;
/// The longest flush delay accepted (records wait in the team's object meanwhile).
pub const MAX_FLUSH_DELAY_MS: u64 = 600_000;
/// Where the team's object flushes its finished records to D1 at once (answers how many).
pub const FLUSH_URL: &str = "https://rate-limiter.internal/ledger/flush";

/// The flush delay from the setting `LEDGER_FLUSH_DELAY_MS` (absent or empty: the default);
/// a value that is not a whole number of milliseconds up to [`MAX_FLUSH_DELAY_MS`] is an error
/// naming the setting.
pub fn flush_delay_ms(setting: Option<&str>) -> Result<u64> {
    match setting.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_FLUSH_DELAY_MS),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms <= MAX_FLUSH_DELAY_MS)
            .ok_or_else(|| {
                Error::internal(format!(
                    "LEDGER_FLUSH_DELAY_MS must be a whole number of milliseconds from 0 to {MAX_FLUSH_DELAY_MS}, not {v:?}"
                ))
            }),
    }
}
/// After a failed flush, the object tries again this much later.
pub const FLUSH_RETRY_MS: u64 = 2_000;

/// After a record's tool timeout, how long the ledger waits for its worker before ending it.
pub const ABANDON_MARGIN_MS: u64 = 60_000;
/// Finished records flushed to D1 in one transaction at most.
pub const MAX_BATCH: usize = 50;
/// The error text of a call whose worker stopped before recording its end.
pub const ABANDONED: &str =
    "the call never finished: the worker running it stopped; no result was received";

/// A started call, as the ledger keeps it until it reaches D1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub team_id: String,
    pub user_id: String,
    pub server_id: String,
    pub server_name: String,
    pub tool_id: String,
    pub tool_name: String,
    pub request_id: String,
    /// The arguments, redacted and capped.
    pub input: String,
    pub started_ms: u64,
    /// After this instant a record still pending is ended by the ledger ([`abandoned`]).
    pub deadline_ms: u64,
    /// The server's credential the call carried: its `last_used_at` is the call's start,
    /// written with the call's row.
    #[serde(default)]
    pub credential_id: Option<String>,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct End {
    pub id: String,
    /// The record's tool (its statistics are updated as the row is finished).
    pub tool_id: String,
    pub status: Status,
    pub output: Option<String>,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub ended_ms: u64,
}

/// A finished record: what one row of `mcp_tool_executions` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub record: Record,
    pub end: End,
}

/// Whether [`Ledger::start`] asks the server's circuit breaker before it stores the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admit {
    /// Ask it: a refusal stores nothing.
    AskBreaker,
    /// An earlier [`Ledger::admit`] let this call through (a call that redeems a confirmation
    /// between the verdict and the record).
    Admitted,
    /// The team's gate admitted this call and reserved its record under the record's id
    /// ([`reservation`]): nothing is asked or stored now; `finish` completes the record (a
    /// background start completes it at once).
    Reserved,
}

/// `start`, as it travels to the team's object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartRequest {
    pub record: Record,
    pub admit: Admit,
    /// The call's time budget (a probe's lease lasts that long plus a margin).
    pub budget_ms: u64,
}

/// `start` of a background execution, as it travels to the team's object: also counted
/// against `cap`, the team's running background executions at most (`crate::background`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackgroundStart {
    pub start: StartRequest,
    pub cap: u32,
}

/// The team object's answer to a [`BackgroundStart`]: the breaker's verdict, or `None` when
/// the team already runs `cap` background executions (nothing stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackgroundVerdict {
    pub verdict: Option<Gate>,
    pub running: u32,
    pub cap: u32,
}

impl BackgroundVerdict {
    /// The gate, or the 429 of a full team.
    pub fn into_gate(self) -> Result<Gate> {
        self.verdict.ok_or_else(|| crate::error::Error::RateLimit {
            message: format!(
                "your team already runs {} background executions, its limit ({}); wait for one to end or cancel one with cancel_execution",
                self.running, self.cap
            ),
            retry_after_secs: 10,
        })
    }
}

/// `admit`, as it travels to the team's object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdmitRequest {
    pub server_id: String,
    pub budget_ms: u64,
}

/// `finish`, as it travels to the team's object (which holds the record already).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinishRequest {
    pub end: End,
    /// The record as call_tool completed it, when the gate reserved it ([`reservation`]):
    /// stored with the end (the reservation lacked the input, tool and credential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    pub server_id: String,
    /// The server fault that ended the call, for its breaker; `None` when the server answered.
    pub fault: Option<String>,
}

/// Which reservation to drop: one still unfinished that the gate made ([`reservation`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiscardRequest {
    pub id: String,
}

/// Where `call_tool` records its calls and where its server's circuit breaker
/// (`crate::breaker`) decides. `start` answers once the record is durable.
pub trait Ledger {
    /// The breaker's verdict (unless `admit` says it was taken), then, when the call may go,
    /// the record stored. A refused call ([`Gate::Reject`]) stores nothing.
    fn start<'a>(
        &'a self,
        record: &'a Record,
        admit: Admit,
        budget_ms: u64,
    ) -> LocalBoxFuture<'a, Result<Gate>>;
    /// The breaker's verdict alone (nothing stored).
    fn admit<'a>(&'a self, server_id: &'a str, budget_ms: u64) -> LocalBoxFuture<'a, Result<Gate>>;
    /// Ends `record` (the one `start` took) as `end` says, and feeds its server's breaker:
    /// `fault` is the server fault's text, `None` when the server answered. A ledger may
    /// deliver the end after the reply (the team's object does, through `waitUntil`): the
    /// record is durable already, and a record whose end never arrives is ended at its
    /// deadline ([`abandoned`]).
    fn finish<'a>(
        &'a self,
        record: &'a Record,
        end: &'a End,
        fault: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<()>>;
    /// The record the team's gate reserved for this request ([`reservation`]): its id is the
    /// call's execution id, and starting it is [`Admit::Reserved`]. `None`: nothing reserved.
    fn reserved(&self) -> Option<&str> {
        None
    }
    /// Drops the reservation `id` (a call that never went upstream); a reservation that was
    /// started, finished or ended meanwhile stays. A ledger may deliver it after the reply.
    fn discard<'a>(&'a self, _id: &'a str) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// [`Ledger::start`] of a background execution, counted against the team's `cap` of
    /// running ones (full: 429 `rate_limit`, nothing stored). Only the team's object counts
    /// them; other ledgers refuse background executions.
    fn start_background<'a>(
        &'a self,
        _record: &'a Record,
        _admit: Admit,
        _budget_ms: u64,
        _cap: u32,
    ) -> LocalBoxFuture<'a, Result<Gate>> {
        Box::pin(async {
            Err(crate::error::Error::Conflict(
                "background executions need the team's Durable Object (binding TEAM_GATE on the call_tool worker)".into(),
            ))
        })
    }
}

/// The database as the ledger: a `pending` row at start, finished (with the tool's statistics)
/// at the end, one D1 write each; the breaker in KV (`crate::breaker::Breaker`).
pub struct DirectLedger<'d, D, C> {
    pub db: &'d D,
    pub cache: &'d C,
    pub team_id: &'d str,
    /// When the ledger was taken: the breaker's clock for [`Ledger::admit`].
    pub now_ms: u64,
}

impl<D: Database, C: Cache> DirectLedger<'_, D, C> {
    async fn verdict(&self, server_id: &str, budget_ms: u64, now_ms: u64) -> Gate {
        Breaker::new(self.cache, self.team_id, server_id)
            .admit(now_ms, budget_ms, &crate::repo::new_id())
            .await
    }
}

impl<D: Database, C: Cache> Ledger for DirectLedger<'_, D, C> {
    fn start<'a>(
        &'a self,
        r: &'a Record,
        admit: Admit,
        budget_ms: u64,
    ) -> LocalBoxFuture<'a, Result<Gate>> {
        Box::pin(async move {
            let gate = match admit {
                Admit::AskBreaker => self.verdict(&r.server_id, budget_ms, r.started_ms).await,
                // The database holds no reservation (only the team's object makes them):
                // the row is inserted now.
                Admit::Admitted | Admit::Reserved => Gate::Allow,
            };
            if matches!(gate, Gate::Reject { .. }) {
                return Ok(gate);
            }
            let started_at = iso_from_ms(r.started_ms);
            executions::start(
                self.db,
                NewExecution {
                    id: &r.id,
                    team_id: &r.team_id,
                    user_id: &r.user_id,
                    server_id: &r.server_id,
                    server_name: &r.server_name,
                    tool_id: &r.tool_id,
                    tool_name: &r.tool_name,
                    request_id: &r.request_id,
                    input: &r.input,
                    started_at: &started_at,
                },
            )
            .await?;
            if let Some(id) = &r.credential_id {
                credentials::touch(self.db, &r.team_id, id, &started_at).await?;
            }
            Ok(gate)
        })
    }

    fn admit<'a>(&'a self, server_id: &'a str, budget_ms: u64) -> LocalBoxFuture<'a, Result<Gate>> {
        Box::pin(async move { Ok(self.verdict(server_id, budget_ms, self.now_ms).await) })
    }

    fn finish<'a>(
        &'a self,
        record: &'a Record,
        end: &'a End,
        fault: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // The breaker learns the outcome whether or not the row can be written.
            breaker::record_outcome(
                self.cache,
                self.team_id,
                &record.server_id,
                end.ended_ms,
                fault,
            )
            .await;
            let completed_at = iso_from_ms(end.ended_ms);
            let done = Done {
                record: record.clone(),
                end: end.clone(),
            };
            executions::finish(
                self.db,
                Finished {
                    id: &end.id,
                    tool_id: &end.tool_id,
                    status: end.status,
                    output: end.output.as_deref(),
                    error: end.error.as_deref(),
                    duration_ms: end.duration_ms,
                    completed_at: &completed_at,
                },
                &done.fact(),
            )
            .await
        })
    }
}

impl Done {
    /// What the analytics rollups keep of this call (`crate::repo::rollups`).
    pub fn fact(&self) -> ExecutionFact {
        let (r, e) = (&self.record, &self.end);
        ExecutionFact {
            execution_id: r.id.clone(),
            team_id: r.team_id.clone(),
            user_id: r.user_id.clone(),
            server_id: r.server_id.clone(),
            tool_name: r.tool_name.clone(),
            status: e.status,
            duration_ms: Some(e.duration_ms),
            started_at: iso_from_ms(r.started_ms),
            error: e.error.clone(),
        }
    }
}

/// The end of a record whose worker stopped mid-call (its deadline passed, still pending).
pub fn abandoned(record: &Record, now_ms: u64) -> End {
    End {
        id: record.id.clone(),
        tool_id: record.tool_id.clone(),
        status: Status::Error,
        output: None,
        error: Some(ABANDONED.to_string()),
        duration_ms: now_ms.saturating_sub(record.started_ms),
        ended_ms: now_ms,
    }
}

/// The D1 transaction that writes one batch of finished records of `team_id`: the batch's
/// marker (`ledger_flushes`, which fails the whole transaction if the batch was applied
/// before), one row per call, one statistics update per tool, the analytics rollups folded
/// per group (`crate::repo::rollups::fold`) and each credential's latest use.
pub fn flush_statements(
    batch_id: &str,
    team_id: &str,
    done: &[Done],
    now_ms: u64,
) -> Vec<Statement> {
    let mut stmts = Vec::with_capacity(done.len() + 4);
    stmts.push(stmt!(
        "INSERT INTO ledger_flushes (id, team_id, executions, flushed_at) VALUES (?1, ?2, ?3, ?4)",
        batch_id,
        team_id,
        done.len() as u64,
        iso_from_ms(now_ms)
    ));
    for Done { record: r, end: e } in done {
        stmts.push(stmt!(
            "INSERT OR IGNORE INTO mcp_tool_executions (id, team_id, user_id, server_id, server_name, \
             tool_id, tool_name, request_id, input, status, output, error, duration_ms, started_at, \
             completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            r.id.as_str(),
            r.team_id.as_str(),
            r.user_id.as_str(),
            r.server_id.as_str(),
            r.server_name.as_str(),
            r.tool_id.as_str(),
            r.tool_name.as_str(),
            r.request_id.as_str(),
            r.input.as_str(),
            e.status.as_str(),
            e.output.as_deref(),
            e.error.as_deref(),
            e.duration_ms,
            iso_from_ms(r.started_ms),
            iso_from_ms(e.ended_ms)
        ));
    }
    for (tool_id, s) in tool_totals(done) {
        stmts.push(stmt!(
            "UPDATE mcp_tools SET \
             avg_duration_ms = (avg_duration_ms * execution_count + ?3) / (execution_count + ?2), \
             execution_count = execution_count + ?2, success_count = success_count + ?4, \
             error_count = error_count + (?2 - ?4), \
             last_executed_at = max(coalesce(last_executed_at, ''), ?5) WHERE id = ?1",
            tool_id,
            s.calls,
            s.duration_ms,
            s.successes,
            iso_from_ms(s.last_ms)
        ));
    }
    let facts: Vec<ExecutionFact> = done.iter().map(Done::fact).collect();
    stmts.extend(rollups::fold(&facts));
    for (credential_id, (team_id, last_ms)) in credential_uses(done) {
        stmts.push(stmt!(
            "UPDATE mcp_server_credentials SET last_used_at = max(coalesce(last_used_at, ''), ?3) \
             WHERE team_id = ?1 AND id = ?2",
            team_id,
            credential_id,
            iso_from_ms(last_ms)
        ));
    }
    stmts
}

/// Per credential used in the batch: its team and the latest start of a call that carried it.
fn credential_uses(done: &[Done]) -> BTreeMap<&str, (&str, u64)> {
    let mut uses: BTreeMap<&str, (&str, u64)> = BTreeMap::new();
    for d in done {
        if let Some(id) = &d.record.credential_id {
            let at = uses.entry(id).or_insert((&d.record.team_id, 0));
            at.1 = at.1.max(d.record.started_ms);
        }
    }
    uses
}

/// Whether the batch `batch_id` reached D1 (asked after a flush whose answer was lost).
pub async fn applied<D: Database>(db: &D, batch_id: &str) -> Result<bool> {
    let rows = db
        .query(stmt!(
            "SELECT 1 AS applied FROM ledger_flushes WHERE id = ?1",
            batch_id
        ))
        .await?;
    Ok(!rows.is_empty())
}

#[derive(Default)]
struct ToolTotals {
    calls: u64,
    successes: u64,
    duration_ms: u64,
    last_ms: u64,
}

fn tool_totals(done: &[Done]) -> BTreeMap<&str, ToolTotals> {
    let mut totals: BTreeMap<&str, ToolTotals> = BTreeMap::new();
    for d in done {
        let t = totals.entry(d.record.tool_id.as_str()).or_default();
        t.calls += 1;
        t.successes += u64::from(d.end.status == Status::Success);
        t.duration_ms += d.end.duration_ms;
        t.last_ms = t.last_ms.max(d.end.ended_ms);
    }
    totals
}

#[cfg(test)]
mod tests;
