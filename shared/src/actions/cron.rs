//! Cron on the `sync_tools` worker: keep every team's catalogue fresh, know every server's
//! health, and close executions whose worker stopped mid-call.
//!
//! Invariants:
//! - Servers are handled with bounded concurrency, each isolated from the others' failures:
//!   one dead or hanging server costs at most its own time budget, never another's check.
//! - A check's outcome always lands on the server row (`connection_status`, `last_error`,
//!   `consecutive_failures`); a server marked `error` turns `connected` on its next success.
//! - No execution stays `pending` past the longest tool timeout plus a margin: it is closed as
//!   `error` (and counted in the tool's statistics), so every call ends in a final state.

use futures::StreamExt;
use serde::Serialize;

use super::sync_tools::{authorized_endpoint, sync_server};
use super::{drop_team_caches, Services, Upstream};
use crate::actions::admin::MAX_TOOL_TIMEOUT_SECS;
use crate::cache::Cache;
use crate::db::Database;
use crate::error::Result;
use crate::mcp::McpClient;
use crate::repo::executions::{self, Finished, Status};
use crate::repo::servers::{self, Server};
use crate::time::iso_from_ms;

/// Servers checked at once.
pub const CONCURRENCY: usize = 4;
/// Servers handled per run (cron runs again soon; a huge deployment is covered over runs).
pub const MAX_SERVERS_PER_RUN: u32 = 500;
/// Time budget of one health check.
pub const HEALTH_TIMEOUT_MS: u64 = 10_000;
/// A pending execution older than the longest tool timeout plus this is abandoned.
pub const STALE_MARGIN_MS: u64 = 60_000;
const STALE_BATCH: u32 = 100;

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
    pub healthy: usize,
    pub failed: usize,
    pub tools_synced: usize,
    pub tools_removed: u64,
    pub stale_executions_closed: usize,
}

pub async fn run<D: Database, C: Cache, H: Upstream>(
    services: &Services<'_, D, C, H>,
    job: Job,
) -> Result<Report> {
    let mut report = Report {
        stale_executions_closed: close_stale_executions(services).await?,
        ..Report::default()
    };
    let all = servers::list_all_active(services.db, MAX_SERVERS_PER_RUN).await?;
    report.servers = all.len();
    let outcomes: Vec<Result<(usize, u64)>> = futures::stream::iter(all.iter())
        .map(|server| check(services, server, job))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            Ok((synced, removed)) => {
                report.healthy += 1;
                report.tools_synced += synced;
                report.tools_removed += removed;
            }
            Err(_) => report.failed += 1,
        }
    }
    (services.log)(&format!(
        "cron {job:?}: {} servers, {} healthy, {} failed, {} tools synced, {} removed, {} stale executions closed",
        report.servers, report.healthy, report.failed, report.tools_synced, report.tools_removed, report.stale_executions_closed
    ));
    Ok(report)
}

/// One server's check; its outcome is recorded on the server row either way.
async fn check<D: Database, C: Cache, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
    job: Job,
) -> Result<(usize, u64)> {
    match job {
        Job::SyncTools => sync_server(services, server)
            .await
            .map(|o| (o.tools_synced, o.tools_removed)),
        Job::HealthCheck => {
            let pinged = async {
                // With the server's credential: a server that needs one would refuse the ping.
                let endpoint = authorized_endpoint(services, server).await?.endpoint;
                McpClient::new(services.http, services.cache, endpoint)
                    .ping(HEALTH_TIMEOUT_MS)
                    .await
            }
            .await;
            let now = iso_from_ms(services.http.now_ms());
            match pinged {
                Ok(()) => {
                    servers::mark_connected(services.db, &server.team_id, &server.id, &now).await?;
                    if server.connection_status != "connected" {
                        drop_team_caches(services.cache, &server.team_id, None).await;
                    }
                    Ok((0, 0))
                }
                Err(e) => {
                    (services.log)(&format!("health check of server {} failed: {e}", server.id));
                    servers::mark_failed(
                        services.db,
                        &server.team_id,
                        &server.id,
                        &e.public_message(),
                        services.settings.error_after_failures,
                        &now,
                    )
                    .await?;
                    drop_team_caches(services.cache, &server.team_id, None).await;
                    Err(e)
                }
            }
        }
    }
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
        executions::finish(
            services.db,
            Finished {
                id: &row.id,
                tool_id: row.tool_id.as_deref().unwrap_or_default(),
                status: Status::Error,
                output: None,
                error: Some("the call never finished: the worker running it stopped; no result was received"),
                duration_ms: row.age_ms.max(0) as u64,
                completed_at: &now,
            },
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
        let log = |_: &str| {};
        let services = Services {
            db: &db,
            cache: &cache,
            http: &net,
            settings: &settings,
            log: &log,
        };
        for run_no in 1..=3 {
            let report = run(&services, Job::HealthCheck).await.unwrap();
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
        let log = |_: &str| {};
        let services = Services {
            db: &db,
            cache: &cache,
            http: &net,
            settings: &settings,
            log: &log,
        };
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
    }
}
