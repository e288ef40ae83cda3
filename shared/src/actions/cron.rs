//! Cron on the `sync_tools` worker: keep every team's catalogue fresh, know every server's
//! health, close executions whose worker stopped mid-call, and delete executions older than
//! the retention window.
//!
//! Invariants:
//! - Fair across teams: a run takes at most [`Budget::per_team`] servers of any one team and
//!   [`Budget::total`] in all, every team's least recently checked (synced) servers first,
//!   round-robin across teams (`repo::servers::take_for_health_check`): a team with many
//!   servers never delays another team's checks, and its own servers rotate so that each is
//!   checked within ceil(servers / per_team) runs (while the total cap is not reached). The
//!   run starts the servers it took in round-robin order too, every team's first server
//!   before any team's second.
//! - Servers are handled with bounded concurrency, each isolated from the others' failures:
//!   one dead or hanging server costs at most its own time budget, never another's check.
//! - A check's outcome always lands on the server row (`connection_status`, `last_error`,
//!   `consecutive_failures`); a server marked `error` turns `connected` on its next success,
//!   and a successful check closes the server's circuit breaker (`crate::breaker`).
//! - A team moves to a new configuration version ([`Report::changed_teams`]) only when the run
//!   may have changed what is cached under it: one of its servers' connection status moved,
//!   or a sync changed its catalogue (`crate::repo::tools::SyncOutcome::changed`). A check of
//!   a healthy, unchanged server invalidates nothing and tells no `list_changed` stream.
//! - No execution stays `pending` past the longest tool timeout plus a margin: it is closed as
//!   `error` (and counted in the tool's statistics and the analytics rollups, in the same
//!   batch), so every call ends in a final state.
//! - Retention runs on every schedule (every 5 minutes by default) and deletes exactly the
//!   executions that started more than `EXECUTION_RETENTION_DAYS` × 24 h before the run, in
//!   statements of [`Retention::batch`] rows, at most [`Retention::max_batches`] per run (a
//!   backlog drains over runs; each statement stays small for D1). Its failure is logged and
//!   never stops the health checks. The analytics rollups of periods wholly before the same
//!   cutoff go too (`repo::rollups::delete_before`), in the same slices.

use std::collections::{BTreeSet, HashMap};

use futures::StreamExt;
use serde::Serialize;

use super::sync_tools::sync_server_tracked;
use super::{drop_team_caches, Services, Upstream};
use crate::actions::admin::MAX_TOOL_TIMEOUT_SECS;
use crate::cache::{Cache, CacheSessions};
use crate::db::Database;
use crate::error::Result;
use crate::ledger::ABANDONED;
use crate::repo::analytics;
use crate::repo::executions::{self, Finished, Status};
use crate::repo::rollups::{self, ExecutionFact};
use crate::repo::servers::{self, ConnectionStatus, Server};
use crate::time::iso_from_ms;
use crate::upstream::{self, authorized_endpoint, scrub_error};
use mcp_client::McpClient;

/// Servers checked at once.
pub const CONCURRENCY: usize = 4;
/// Time budget of one health check.
pub const HEALTH_TIMEOUT_MS: u64 = 10_000;
/// A pending execution older than the longest tool timeout plus this is abandoned.
pub const STALE_MARGIN_MS: u64 = crate::ledger::ABANDON_MARGIN_MS;
const STALE_BATCH: u32 = 100;

/// How long executions are kept, and how the sweep is sliced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days executions are kept; `None` keeps them forever.
    pub days: Option<u64>,
    /// Rows per DELETE statement.
    pub batch: u32,
    /// Statements per run.
    pub max_batches: u32,
}

impl Retention {
    pub const DEFAULT_DAYS: u64 = 90;
    pub const MAX_DAYS: u64 = 3650;
    pub const BATCH: u32 = 500;
    pub const MAX_BATCHES: u32 = 20;

    /// From the `EXECUTION_RETENTION_DAYS` setting: unset is the default (90), `0` or `off`
    /// keeps everything, `1`–`3650` days; anything else is the default plus a warning to log.
    pub fn from_setting(value: Option<&str>) -> (Retention, Option<String>) {
        let with = |days| Retention {
            days,
            batch: Self::BATCH,
            max_batches: Self::MAX_BATCHES,
        };
        match value.map(str::trim) {
            Some("0") | Some("off") => (with(None), None),
            value => match in_range(value, Self::MAX_DAYS) {
                Ok(days) => (with(Some(days.unwrap_or(Self::DEFAULT_DAYS))), None),
                Err(v) => (
                    with(Some(Self::DEFAULT_DAYS)),
                    Some(format!(
                        "EXECUTION_RETENTION_DAYS='{v}' is not 0, off or 1..={}; keeping {} days",
                        Self::MAX_DAYS,
                        Self::DEFAULT_DAYS
                    )),
                ),
            },
        }
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention::from_setting(None).0
    }
}

/// How many servers one run takes on (settings `CRON_MAX_SERVERS_PER_TEAM_PER_RUN` and
/// `CRON_MAX_SERVERS_PER_RUN`); the rest wait for the next runs, least recently checked first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// At most this many servers of one team per run.
    pub per_team: u32,
    /// At most this many servers per run in all.
    pub total: u32,
}

impl Budget {
    pub const PER_TEAM: u32 = 25;
    /// Sized to one Worker invocation. A server costs up to about 10 subrequests (credential
    /// read, MCP session in KV, the MCP requests, the D1 writes, cache drops): 100 servers stay
    /// within the 1,000 subrequests per invocation of Workers Paid. With [`CONCURRENCY`] 4,
    /// 100 servers that all hang cost 100 / 4 × 10 s = 250 s of health checks, less than the
    /// 5-minute schedule, and 100 / 4 × 30 s = 12.5 min of syncs, less than the 15 minutes a
    /// Cron Trigger may run.
    pub const TOTAL: u32 = 100;
    /// Highest value either setting accepts.
    pub const MAX: u32 = 10_000;

    /// From the settings: unset or empty is the default; anything but 1..=[`Budget::MAX`] is
    /// the default plus a warning to log.
    pub fn from_settings(per_team: Option<&str>, total: Option<&str>) -> (Budget, Vec<String>) {
        let mut warnings = Vec::new();
        let mut read = |name: &str, value: Option<&str>, default: u32| match in_range(
            value.map(str::trim),
            Self::MAX,
        ) {
            Ok(n) => n.unwrap_or(default),
            Err(v) => {
                warnings.push(format!(
                    "{name}='{v}' is not 1..={}; using {default}",
                    Self::MAX
                ));
                default
            }
        };
        let budget = Budget {
            per_team: read(
                "CRON_MAX_SERVERS_PER_TEAM_PER_RUN",
                per_team,
                Self::PER_TEAM,
            ),
            total: read("CRON_MAX_SERVERS_PER_RUN", total, Self::TOTAL),
        };
        (budget, warnings)
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            per_team: Self::PER_TEAM,
            total: Self::TOTAL,
        }
    }
}

/// A whole-number setting, already trimmed: `Ok(None)` when unset or empty, `Ok(Some(n))` for
/// `1..=max`, `Err(text)` for anything else (the caller warns and keeps its default).
fn in_range<T>(value: Option<&str>, max: T) -> std::result::Result<Option<T>, &str>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
{
    match value {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<T>() {
            Ok(n) if (T::from(1)..=max).contains(&n) => Ok(Some(n)),
            _ => Err(v),
        },
    }
}

/// The order a run starts the servers it took: every team's first server, then every team's
/// second, and so on (teams by id, a team's servers by id), so that a run cut short has still
/// reached every team it took.
pub fn round_robin(mut servers: Vec<Server>) -> Vec<Server> {
    servers.sort_by(|a, b| (&a.team_id, &a.id).cmp(&(&b.team_id, &b.id)));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut turns: Vec<(usize, Server)> = servers
        .into_iter()
        .map(|server| {
            let turn = seen.entry(server.team_id.clone()).or_default();
            *turn += 1;
            (*turn, server)
        })
        .collect();
    // Stable: within a turn, teams stay in id order.
    turns.sort_by_key(|(turn, _)| *turn);
    turns.into_iter().map(|(_, server)| server).collect()
}

/// What cron does on a given schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Ping every active server.
    HealthCheck,
    /// Re-list every active server's tools (also a health check).
    SyncTools,
}

impl Job {
    /// The job for a cron expression: the hourly schedule syncs, any other checks health.
    pub fn for_schedule(cron: &str, sync_schedule: &str) -> Job {
        if cron.trim() == sync_schedule.trim() {
            Job::SyncTools
        } else {
            Job::HealthCheck
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub servers: usize,
    /// Teams whose servers this run took.
    pub teams: usize,
    pub healthy: usize,
    pub failed: usize,
    pub tools_synced: usize,
    pub tools_removed: u64,
    pub stale_executions_closed: usize,
    pub executions_deleted: u64,
    /// The teams whose servers this run took.
    #[serde(skip)]
    pub team_ids: Vec<String>,
    /// The teams for which this run may have changed what is cached under their
    /// configuration version (see [`check_once`]); only these move to a new version.
    #[serde(skip)]
    pub changed_teams: BTreeSet<String>,
    /// Per team, the servers that answered (their circuit breakers close: the worker tells
    /// each team's object with its configuration change, `crate::breaker::book`).
    #[serde(skip)]
    pub answered: HashMap<String, Vec<String>>,
    /// Analytics rollup rows whose whole period is past retention.
    pub rollup_rows_deleted: u64,
}

pub async fn run<D: Database, C: Cache, H: Upstream>(
    services: &Services<'_, D, C, H>,
    job: Job,
    retention: Retention,
    budget: Budget,
) -> Result<Report> {
    let mut report = Report {
        stale_executions_closed: close_stale_executions(services).await?,
        ..Report::default()
    };
    match apply_retention(services, retention).await {
        Ok(n) => report.executions_deleted = n,
        Err(e) => (services.log)(&format!("execution retention failed: {e}")),
    }
    match apply_rollup_retention(services, retention).await {
        Ok(n) => report.rollup_rows_deleted = n,
        Err(e) => (services.log)(&format!("rollup retention failed: {e}")),
    }
    let now = iso_from_ms(services.http.now_ms());
    let taken = match job {
        Job::HealthCheck => {
            servers::take_for_health_check(services.db, budget.per_team, budget.total, &now).await?
        }
        Job::SyncTools => {
            servers::take_for_sync(services.db, budget.per_team, budget.total, &now).await?
        }
    };
    let all = round_robin(taken);
    report.servers = all.len();
    report.team_ids = all
        .iter()
        .map(|s| s.team_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    report.teams = report.team_ids.len();
    let outcomes: Vec<(&Server, Checked)> = futures::stream::iter(all.iter())
        .map(|server| async move { (server, check_once(services, server, job).await) })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (server, checked) in outcomes {
        if checked.changed {
            report.changed_teams.insert(server.team_id.clone());
        }
        match checked.outcome {
            Ok((synced, removed)) => {
                report
                    .answered
                    .entry(server.team_id.clone())
                    .or_default()
                    .push(server.id.clone());
                report.healthy += 1;
                report.tools_synced += synced;
                report.tools_removed += removed;
            }
            Err(_) => report.failed += 1,
        }
    }
    (services.log)(&format!(
        "cron {job:?}: {} servers of {} teams ({} changed), {} healthy, {} failed, {} tools synced, {} removed, {} stale executions closed, {} old executions deleted",
        report.servers, report.teams, report.changed_teams.len(), report.healthy, report.failed, report.tools_synced, report.tools_removed, report.stale_executions_closed, report.executions_deleted
    ));
    Ok(report)
}

/// One server's check: its outcome (tools synced and removed; an error when the server did
/// not answer) and whether it may have changed what is cached under the team's configuration
/// version.
struct Checked {
    outcome: Result<(usize, u64)>,
    changed: bool,
}

/// One server's check; its outcome is recorded on the server row either way.
///
/// It changes the team's cached views exactly when the server's connection status moves
/// (`connected` after an answer from any other status, `error` on the failure that reaches
/// `ERROR_AFTER_FAILURES`), or, for a sync, when the catalogue changed
/// (`crate::repo::tools::SyncOutcome::changed`). An answer from a server already `connected`,
/// or another failure of one that stays `pending`/`error`, changes nothing a cached view
/// relies on (the failure count and last error of a server in `error`, shown in `call_tool`'s
/// refusal, may lag by `crate::call_target::TARGET_CACHE_MS`).
async fn check_once<D: Database, C: Cache, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
    job: Job,
) -> Checked {
    match job {
        Job::SyncTools => {
            let (outcome, changed) = sync_server_tracked(services, server).await;
            Checked {
                outcome: outcome.map(|o| (o.tools_synced, o.tools_removed)),
                changed,
            }
        }
        Job::HealthCheck => {
            let pinged = async {
                // With the server's credential: a server that needs one would refuse the ping.
                // Its values are scrubbed from the error before it is logged or stored.
                let upstream = authorized_endpoint(services, server).await?;
                McpClient::new(
                    services.http,
                    CacheSessions(services.cache),
                    upstream.endpoint,
                )
                .ping(HEALTH_TIMEOUT_MS)
                .await
                .map_err(|e| scrub_error(&upstream.redactor, e.into()))
            }
            .await;
            let now = iso_from_ms(services.http.now_ms());
            match pinged {
                Ok(()) => {
                    let changed = server.connection_status != ConnectionStatus::Connected;
                    let marked = upstream::mark_connected(services, server, &now).await;
                    if changed {
                        drop_team_caches(services.cache, &server.team_id, None).await;
                    }
                    Checked {
                        outcome: marked.map(|()| (0, 0)),
                        changed,
                    }
                }
                Err(e) => {
                    let marked =
                        upstream::mark_failed(services, server, "health check", &e, &now).await;
                    drop_team_caches(services.cache, &server.team_id, None).await;
                    Checked {
                        changed: upstream::status_moved(server, &marked),
                        outcome: Err(marked.err().unwrap_or(e)),
                    }
                }
            }
        }
    }
}

/// Deletes executions that started more than `retention.days` × 24 h ago (all teams).
pub async fn apply_retention<D: Database, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    retention: Retention,
) -> Result<u64> {
    let Some(cutoff) = retention_cutoff(services, retention) else {
        return Ok(0);
    };
    analytics::delete_started_before(services.db, &cutoff, retention.batch, retention.max_batches)
        .await
}

/// Deletes the analytics rollups (all teams) of periods wholly before the retention cutoff, so
/// that they never outlive the executions they summarise.
pub async fn apply_rollup_retention<D: Database, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    retention: Retention,
) -> Result<u64> {
    let Some(cutoff) = retention_cutoff(services, retention) else {
        return Ok(0);
    };
    rollups::delete_before(services.db, &cutoff, retention.batch, retention.max_batches).await
}

/// `retention.days` × 24 h before now (`None`: executions are kept).
fn retention_cutoff<D, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    retention: Retention,
) -> Option<String> {
    let days = retention.days?;
    let now = services.http.now_ms();
    Some(iso_from_ms(
        now.saturating_sub(days.saturating_mul(86_400_000)),
    ))
}

/// Closes executions left `pending` by a worker that stopped mid-call.
pub async fn close_stale_executions<D: Database, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
) -> Result<usize> {
    let now_ms = services.http.now_ms();
    let cutoff_ms = now_ms.saturating_sub(MAX_TOOL_TIMEOUT_SECS * 1000 + STALE_MARGIN_MS);
    let now = iso_from_ms(now_ms);
    let stale =
        executions::stale_pending(services.db, &iso_from_ms(cutoff_ms), &now, STALE_BATCH).await?;
    for row in &stale {
        let duration_ms = row.age_ms.max(0) as u64;
        let fact = ExecutionFact {
            execution_id: row.id.clone(),
            team_id: row.team_id.clone(),
            user_id: row.user_id.clone(),
            server_id: row.server_id.clone(),
            tool_name: row.tool_name.clone(),
            status: Status::Error,
            duration_ms: Some(duration_ms),
            started_at: row.started_at.clone(),
            error: Some(ABANDONED.to_string()),
        };
        executions::finish(
            services.db,
            Finished {
                id: &row.id,
                tool_id: row.tool_id.as_deref().unwrap_or_default(),
                status: Status::Error,
                output: None,
                error: Some(ABANDONED),
                duration_ms,
                completed_at: &now,
            },
            &fact,
        )
        .await?;
    }
    Ok(stale.len())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::actions::testing::{NoNetwork, SqliteDb, TWO_TEAMS};
    use crate::actions::Settings;
    use crate::cache::MemoryCache;

    const NOW_MS: u64 = 1_795_292_256_000;

    fn world() -> (SqliteDb, MemoryCache, NoNetwork, Settings) {
        let db = SqliteDb::migrated();
        db.exec(TWO_TEAMS);
        let net = NoNetwork::default();
        net.now.set(NOW_MS);
        let settings = Settings {
            allow_private_upstreams: true,
            error_after_failures: 3,
            ..Settings::default()
        };
        (db, MemoryCache::new(), net, settings)
    }

    fn quiet(_: &str) {}

    fn services<'a>(
        db: &'a SqliteDb,
        cache: &'a MemoryCache,
        net: &'a NoNetwork,
        settings: &'a Settings,
    ) -> Services<'a, SqliteDb, MemoryCache, NoNetwork> {
        Services {
            db,
            cache,
            http: net,
            settings,
            log: &quiet,
        }
    }

    /// A health-check run with the default retention and budget.
    async fn default_health_check(
        services: &Services<'_, SqliteDb, MemoryCache, NoNetwork>,
    ) -> Report {
        run(
            services,
            Job::HealthCheck,
            Retention::default(),
            Budget::default(),
        )
        .await
        .unwrap()
    }

    /// An MCP server per URL, in memory: answers `initialize`, `ping` and `tools/list` (its
    /// current tools) in JSON while `up`, refuses every connection while down.
    #[derive(Default)]
    struct Upstreams {
        now: std::cell::Cell<u64>,
        down: std::cell::RefCell<std::collections::HashSet<String>>,
        tools: std::cell::RefCell<HashMap<String, Vec<serde_json::Value>>>,
    }

    const URL_A: &str = "http://127.0.0.1:9/mcp";
    const URL_B: &str = "http://127.0.0.1:10/mcp";

    impl Upstreams {
        fn serving(&self, url: &str, tools: serde_json::Value) {
            let tools = tools.as_array().unwrap().clone();
            self.tools.borrow_mut().insert(url.into(), tools);
        }
    }

    impl mcp_client::http::HttpClient for Upstreams {
        async fn send(
            &self,
            request: mcp_client::http::HttpRequest,
        ) -> std::result::Result<mcp_client::http::HttpResponse, mcp_client::McpError> {
            if self.down.borrow().contains(&request.url) {
                return Err(mcp_client::McpError::transport(format!(
                    "connect(): Connection refused ({})",
                    request.url
                )));
            }
            let message: serde_json::Value =
                serde_json::from_slice(request.body.as_deref().unwrap_or_default())
                    .unwrap_or_default();
            let result = match message["method"].as_str().unwrap_or_default() {
                "initialize" => json!({"protocolVersion": "2025-06-18",
                    "capabilities": {"tools": {}}, "serverInfo": {"name": "fake", "version": "1"}}),
                "ping" => json!({}),
                "tools/list" => {
                    json!({"tools": self.tools.borrow().get(&request.url).cloned().unwrap_or_default()})
                }
                _ => serde_json::Value::Null,
            };
            let (status, body) = if message.get("id").is_none() {
                (202, Vec::new())
            } else if result.is_null() {
                let error = json!({"jsonrpc": "2.0", "id": message["id"],
                    "error": {"code": -32601, "message": "Method not found"}});
                (200, error.to_string().into_bytes())
            } else {
                let answer = json!({"jsonrpc": "2.0", "id": message["id"], "result": result});
                (200, answer.to_string().into_bytes())
            };
            let chunks: Vec<std::result::Result<Vec<u8>, mcp_client::McpError>> = vec![Ok(body)];
            Ok(mcp_client::http::HttpResponse {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: Box::pin(futures::stream::iter(chunks)),
            })
        }
    }

    impl mcp_client::http::Clock for Upstreams {
        fn now_ms(&self) -> u64 {
            self.now.get()
        }
        async fn sleep_ms(&self, ms: u64) {
            self.now.set(self.now.get() + ms);
        }
    }

    /// Team A's `srv-a` at [`URL_A`] and team B's `srv-b` at [`URL_B`], both answering and
    /// listing the tools the seed holds (`srv-a`: echo and the disabled secret; `srv-b`: echo
    /// and add).
    fn answering_world() -> (SqliteDb, MemoryCache, Upstreams, Settings) {
        let (db, cache, _, settings) = world();
        db.exec(&format!(
            "UPDATE mcp_servers SET config = '{{\"url\":\"{URL_B}\"}}' WHERE id = 'srv-b'"
        ));
        let net = Upstreams::default();
        net.now.set(NOW_MS);
        let schema = json!({"type": "object"});
        net.serving(
            URL_A,
            json!([{"name": "echo", "description": "Echo", "inputSchema": schema},
                   {"name": "secret", "description": "Disabled", "inputSchema": schema}]),
        );
        net.serving(
            URL_B,
            json!([{"name": "echo", "description": "Echo", "inputSchema": schema},
                   {"name": "add", "description": "Add", "inputSchema": schema}]),
        );
        (db, cache, net, settings)
    }

    async fn run_job(
        db: &SqliteDb,
        cache: &MemoryCache,
        net: &Upstreams,
        settings: &Settings,
        job: Job,
    ) -> Report {
        let services = Services {
            db,
            cache,
            http: net,
            settings,
            log: &quiet,
        };
        run(&services, job, Retention::default(), Budget::default())
            .await
            .unwrap()
    }

    fn teams(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_health_check_of_connected_servers_that_answer_changes_no_team() {
        let (db, cache, net, settings) = answering_world();
        db.exec("UPDATE mcp_servers SET connection_status = 'connected'");
        let report = run_job(&db, &cache, &net, &settings, Job::HealthCheck).await;
        assert_eq!((report.servers, report.healthy), (2, 2), "{report:?}");
        assert_eq!(report.changed_teams, teams(&[]), "{report:?}");
        assert_eq!(
            report.answered.values().flatten().count(),
            2,
            "their breakers still close"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_health_check_changes_exactly_the_teams_whose_server_status_moved() {
        let (db, cache, net, settings) = answering_world();
        // srv-a answers after a failure (pending -> connected); srv-b is connected and answers.
        db.exec("UPDATE mcp_servers SET connection_status = 'connected' WHERE id = 'srv-b'");
        let report = run_job(&db, &cache, &net, &settings, Job::HealthCheck).await;
        assert_eq!(report.changed_teams, teams(&["team-a"]), "{report:?}");
        assert_eq!(report.healthy, 2);

        // Both stop answering: srv-b's first failure leaves it connected (no change); srv-a's
        // third reaches ERROR_AFTER_FAILURES (3) and turns it error.
        net.down
            .borrow_mut()
            .extend([URL_A.to_string(), URL_B.to_string()]);
        db.exec("UPDATE mcp_servers SET consecutive_failures = 2 WHERE id = 'srv-a'");
        let report = run_job(&db, &cache, &net, &settings, Job::HealthCheck).await;
        assert_eq!(report.failed, 2);
        assert_eq!(report.changed_teams, teams(&["team-a"]), "{report:?}");
        assert_eq!(
            db.scalar("SELECT group_concat(connection_status) FROM (SELECT connection_status FROM mcp_servers WHERE id IN ('srv-a', 'srv-b') ORDER BY id)"),
            json!("error,connected")
        );

        // Failing again changes nothing: srv-a stays error, srv-b's second failure of three.
        let report = run_job(&db, &cache, &net, &settings, Job::HealthCheck).await;
        assert_eq!(report.changed_teams, teams(&[]), "{report:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_sync_listing_the_same_tools_changes_no_team() {
        let (db, cache, net, settings) = answering_world();
        // The seed's rows predate pinning (no hash): the first sync pins them, a change.
        let first = run_job(&db, &cache, &net, &settings, Job::SyncTools).await;
        assert_eq!(
            first.changed_teams,
            teams(&["team-a", "team-b"]),
            "{first:?}"
        );
        net.now.set(NOW_MS + 3_600_000);
        let again = run_job(&db, &cache, &net, &settings, Job::SyncTools).await;
        assert_eq!((again.servers, again.healthy), (2, 2), "{again:?}");
        assert_eq!(again.tools_synced, 4);
        assert_eq!(again.changed_teams, teams(&[]), "{again:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_sync_that_changes_a_tool_changes_its_team_only() {
        let (db, cache, net, settings) = answering_world();
        run_job(&db, &cache, &net, &settings, Job::SyncTools).await;
        let schema = json!({"type": "object"});
        let mut hour = 0;
        let mut sync = |listed: serde_json::Value| {
            net.serving(URL_A, listed);
            hour += 1;
            net.now.set(NOW_MS + hour * 3_600_000);
            run_job(&db, &cache, &net, &settings, Job::SyncTools)
        };
        // A changed definition (pending approval), then the same changed one (nothing new).
        let changed = json!([{"name": "echo", "description": "Echo, louder", "inputSchema": schema},
                             {"name": "secret", "description": "Disabled", "inputSchema": schema}]);
        assert_eq!(
            sync(changed.clone()).await.changed_teams,
            teams(&["team-a"])
        );
        assert_eq!(
            db.scalar("SELECT approval_state FROM mcp_tools WHERE id = 'tool-a1'"),
            json!("pending_approval")
        );
        assert_eq!(sync(changed).await.changed_teams, teams(&[]));
        // Back to the approved definition: approved again, a change.
        let approved = json!([{"name": "echo", "description": "Echo", "inputSchema": schema},
                              {"name": "secret", "description": "Disabled", "inputSchema": schema}]);
        assert_eq!(sync(approved).await.changed_teams, teams(&["team-a"]));
        // A tool removed, then one added.
        let removed = json!([{"name": "echo", "description": "Echo", "inputSchema": schema}]);
        assert_eq!(sync(removed).await.changed_teams, teams(&["team-a"]));
        let added = json!([{"name": "echo", "description": "Echo", "inputSchema": schema},
                           {"name": "new", "description": "New", "inputSchema": schema}]);
        assert_eq!(sync(added).await.changed_teams, teams(&["team-a"]));
    }

    #[test]
    fn the_sync_schedule_syncs_and_every_other_schedule_checks_health() {
        assert_eq!(Job::for_schedule("0 * * * *", "0 * * * *"), Job::SyncTools);
        assert_eq!(
            Job::for_schedule("*/5 * * * *", "0 * * * *"),
            Job::HealthCheck
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failing_checks_mark_a_server_error_after_n_and_every_server_is_checked() {
        let (db, cache, net, settings) = world();
        let services = services(&db, &cache, &net, &settings);
        for run_no in 1..=3 {
            let report = default_health_check(&services).await;
            assert_eq!(
                (report.servers, report.failed),
                (2, 2),
                "both active servers, inactive skipped"
            );
            let status = db.scalar("SELECT connection_status || '/' || consecutive_failures FROM mcp_servers WHERE id = 'srv-a'");
            let expected = if run_no < 3 {
                format!("pending/{run_no}")
            } else {
                "error/3".to_string()
            };
            assert_eq!(status, json!(expected));
        }
        assert!(db
            .scalar("SELECT last_error FROM mcp_servers WHERE id = 'srv-b'")
            .as_str()
            .unwrap()
            .contains("refuses"));
        assert_eq!(
            db.scalar("SELECT consecutive_failures FROM mcp_servers WHERE id = 'srv-a-off'"),
            json!(0)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn executions_pending_past_the_longest_timeout_are_closed_once_and_counted() {
        let (db, cache, net, settings) = world();
        let old = iso_from_ms(NOW_MS - (MAX_TOOL_TIMEOUT_SECS * 1000 + STALE_MARGIN_MS) - 1_000);
        let recent = iso_from_ms(NOW_MS - 5_000);
        db.exec(&format!(
            "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_id, tool_name, status, started_at) VALUES \
             ('old', 'team-a', 'u', 'srv-a', 'tool-a1', 'echo', 'pending', '{old}'), \
             ('recent', 'team-a', 'u', 'srv-a', 'tool-a1', 'echo', 'pending', '{recent}')"
        ));
        let services = services(&db, &cache, &net, &settings);
        assert_eq!(close_stale_executions(&services).await.unwrap(), 1);
        assert_eq!(
            close_stale_executions(&services).await.unwrap(),
            0,
            "already final"
        );
        assert_eq!(
            db.scalar("SELECT status FROM mcp_tool_executions WHERE id = 'old'"),
            json!("error")
        );
        assert_eq!(
            db.scalar("SELECT status FROM mcp_tool_executions WHERE id = 'recent'"),
            json!("pending")
        );
        assert_eq!(
            db.scalar("SELECT duration_ms >= 361000 FROM mcp_tool_executions WHERE id = 'old'"),
            json!(1)
        );
        assert_eq!(
            db.scalar("SELECT error_count FROM mcp_tools WHERE id = 'tool-a1'"),
            json!(1)
        );
        assert_eq!(
            db.scalar("SELECT group_concat(errors || '/' || timed || '/' || (duration_min >= 361000)) FROM execution_rollup_tools"),
            json!("1/1/1,1/1/1"),
            "rolled up once (its day and its block)"
        );
        assert_eq!(
            db.scalar("SELECT message || ' ' || last_execution_id FROM execution_rollup_errors WHERE span = 1"),
            json!("the call never finished: the worker running it stopped; no result was received old")
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_run_deletes_the_rollups_of_periods_past_retention() {
        let (db, cache, net, settings) = world();
        let day = 86_400_000;
        let fact = |id: &str, ago: u64| ExecutionFact {
            execution_id: id.into(),
            team_id: "team-a".into(),
            user_id: "u".into(),
            server_id: "srv-a".into(),
            tool_name: "echo".into(),
            status: Status::Success,
            duration_ms: Some(5),
            started_at: iso_from_ms(NOW_MS - ago),
            error: None,
        };
        db.batch(rollups::fold(&[fact("old", 120 * day), fact("new", day)]))
            .await
            .unwrap();
        let log = |_: &str| {};
        let services = Services {
            db: &db,
            cache: &cache,
            http: &net,
            settings: &settings,
            log: &log,
        };
        let report = run(
            &services,
            Job::HealthCheck,
            Retention::default(),
            Budget::default(),
        )
        .await
        .unwrap();
        // The old call's day, block, user-day and user-tool rows; the user-tool row is shared
        // with the new call's (last use: new), so it stays.
        assert_eq!(report.rollup_rows_deleted, 3);
        assert_eq!(
            db.scalar("SELECT group_concat(span || ' ' || start_day) FROM execution_rollup_tools"),
            json!("1 2026-11-20,8 2026-11-19"),
            "the new call's day and block (epoch days 20776–20783)"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_run_checks_every_small_teams_servers_despite_a_team_with_many() {
        let (db, cache, net, settings) = world();
        // Team "a-big" sorts first and has 60 active servers; team-a and team-b one each.
        db.exec(
            "INSERT INTO teams (id, name) VALUES ('a-big', 'Big'); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) \
             INSERT INTO mcp_servers (id, team_id, name, server_type, config) \
             SELECT printf('big-%02d', i), 'a-big', printf('s%02d', i), 'http', \
                    '{\"url\":\"http://127.0.0.1:9/mcp\"}' FROM n;",
        );
        let services = services(&db, &cache, &net, &settings);
        let budget = Budget {
            per_team: 5,
            total: 8,
        };
        for run_no in 1..=12u64 {
            net.now.set(NOW_MS + run_no * 300_000);
            let report = run(&services, Job::HealthCheck, Retention::default(), budget)
                .await
                .unwrap();
            assert_eq!((report.servers, report.teams), (7, 3), "run {run_no}");
            assert_eq!(
                db.scalar("SELECT group_concat(consecutive_failures) FROM (SELECT consecutive_failures FROM mcp_servers WHERE id IN ('srv-a', 'srv-b') ORDER BY id)"),
                json!(format!("{run_no},{run_no}")),
                "both small teams' servers checked in run {run_no}"
            );
        }
        // 60 servers, 5 per run: 12 runs checked each exactly once.
        assert_eq!(
            db.scalar("SELECT count(*) FROM mcp_servers WHERE team_id = 'a-big' AND consecutive_failures = 1"),
            json!(60)
        );
    }

    fn server(team: &str, id: &str) -> Server {
        Server {
            id: id.into(),
            team_id: team.into(),
            name: id.into(),
            description: None,
            server_type: crate::server_config::ServerType::Http,
            config: "{}".into(),
            is_active: true,
            connection_status: ConnectionStatus::Pending,
            last_connected_at: None,
            last_error: None,
            consecutive_failures: 0,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_run_starts_every_teams_first_server_before_any_teams_second() {
        let taken = vec![
            server("big", "b3"),
            server("big", "b1"),
            server("small", "s2"),
            server("big", "b2"),
            server("other", "o1"),
            server("small", "s1"),
        ];
        let order: Vec<String> = round_robin(taken).into_iter().map(|s| s.id).collect();
        assert_eq!(order, ["b1", "o1", "s1", "b2", "s2", "b3"]);
    }

    #[test]
    fn budget_settings_default_accept_and_reject() {
        assert_eq!(
            Budget::from_settings(None, None),
            (
                Budget {
                    per_team: 25,
                    total: 100
                },
                vec![]
            )
        );
        assert_eq!(
            Budget::from_settings(Some(" 3 "), Some("40")).0,
            Budget {
                per_team: 3,
                total: 40
            }
        );
        for bad in ["0", "-1", "many", "10001"] {
            let (budget, warnings) = Budget::from_settings(Some(bad), Some(bad));
            assert_eq!(budget, Budget::default(), "{bad}");
            assert_eq!(warnings.len(), 2);
            assert!(
                warnings[0].contains("CRON_MAX_SERVERS_PER_TEAM_PER_RUN")
                    && warnings[0].contains(bad)
            );
            assert!(warnings[1].contains("CRON_MAX_SERVERS_PER_RUN"));
        }
    }

    #[test]
    fn retention_setting_defaults_disables_and_rejects() {
        assert_eq!(Retention::from_setting(None).0.days, Some(90));
        assert_eq!(Retention::from_setting(Some("7")).0.days, Some(7));
        assert_eq!(Retention::from_setting(Some("0")).0.days, None);
        assert_eq!(Retention::from_setting(Some("off")).0.days, None);
        for bad in ["-1", "abc", "99999"] {
            let (r, warning) = Retention::from_setting(Some(bad));
            assert_eq!(r.days, Some(90), "{bad}");
            assert!(warning.unwrap().contains(bad));
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retention_deletes_exactly_what_started_before_the_window_in_capped_batches() {
        let (db, cache, net, settings) = world();
        let day = 86_400_000;
        // 7 rows just outside a 30-day window (both teams, every status), 3 just inside.
        let mut values = Vec::new();
        for (i, (team, status)) in [
            ("team-a", "success"),
            ("team-a", "error"),
            ("team-a", "timeout"),
            ("team-a", "pending"),
            ("team-b", "success"),
            ("team-b", "success"),
            ("team-b", "error"),
        ]
        .iter()
        .enumerate()
        {
            let at = iso_from_ms(NOW_MS - 30 * day - 1 - i as u64 * 1000);
            values.push(format!(
                "('old{i}', '{team}', 'u', 's', 'echo', '{status}', '{at}')"
            ));
        }
        for (i, offset) in [30 * day - 1, day, 0].iter().enumerate() {
            let at = iso_from_ms(NOW_MS - offset);
            values.push(format!(
                "('new{i}', 'team-a', 'u', 's', 'echo', 'success', '{at}')"
            ));
        }
        db.exec(&format!(
            "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_name, status, started_at) VALUES {}",
            values.join(", ")
        ));
        let services = services(&db, &cache, &net, &settings);
        let small = Retention {
            days: Some(30),
            batch: 2,
            max_batches: 2,
        };
        assert_eq!(
            apply_retention(&services, small).await.unwrap(),
            4,
            "capped at 2 × 2"
        );
        assert_eq!(
            apply_retention(&services, small).await.unwrap(),
            3,
            "the rest next run"
        );
        assert_eq!(apply_retention(&services, small).await.unwrap(), 0);
        assert_eq!(
            db.scalar("SELECT group_concat(id, ',') FROM (SELECT id FROM mcp_tool_executions ORDER BY id)"),
            json!("new0,new1,new2")
        );
        let keep_all = Retention {
            days: None,
            ..small
        };
        net.now.set(NOW_MS + 365 * day);
        assert_eq!(apply_retention(&services, keep_all).await.unwrap(), 0);
        assert_eq!(
            db.scalar("SELECT count(*) FROM mcp_tool_executions"),
            json!(3)
        );
        let report = default_health_check(&services).await;
        assert_eq!(
            report.executions_deleted, 3,
            "a year later the default 90 days drops them"
        );
    }
}
