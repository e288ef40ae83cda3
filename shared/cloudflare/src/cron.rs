//! The `#[event(scheduled)]` side of the sync_tools worker: builds the services from the
//! bindings and runs the cron job the schedule names, then tells each team it checked
//! (`crate::team_gate`): the circuit breakers of the servers that answered close, and the team
//! moves to a new configuration version only if the run changed something cached under it
//! (`Report::changed_teams`: a server's connection status moved, or a sync changed the
//! catalogue). A team with neither is not contacted. Never panics; failures are logged.

use worker::Env;

use shared::actions::cron::{run, Budget, Job, Report, Retention};
use shared::actions::Services;
use shared::error::Result;
use shared::ratelimit::ConfigChanged;

use crate::bindings::Bindings;
use crate::log::log;
use crate::team_gate::config_changed_with;

/// The schedule that re-syncs every catalogue; any other schedule runs health checks.
pub const SYNC_SCHEDULE_VAR: &str = "SYNC_SCHEDULE";
pub const DEFAULT_SYNC_SCHEDULE: &str = "0 * * * *";
/// Days executions are kept (default 90; `0` or `off` keeps them); applied on every schedule.
pub const RETENTION_VAR: &str = "EXECUTION_RETENTION_DAYS";
/// Servers of one team handled per run (default 25); see [`Budget`].
pub const PER_TEAM_VAR: &str = "CRON_MAX_SERVERS_PER_TEAM_PER_RUN";
/// Servers handled per run in all (default 100); see [`Budget`].
pub const TOTAL_VAR: &str = "CRON_MAX_SERVERS_PER_RUN";

pub async fn run_scheduled(env: &Env, cron: &str) -> Result<Report> {
    let run_id = format!("cron-{}", shared::repo::new_id());
    let sync_schedule = env
        .var(SYNC_SCHEDULE_VAR)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| DEFAULT_SYNC_SCHEDULE.to_string());
    let job = Job::for_schedule(cron, &sync_schedule);
    let bindings = Bindings::new(env);
    let db = bindings.db()?;
    let cache = bindings.cache()?;
    let http = bindings.http();
    let settings = bindings.settings();
    let log_line = |message: &str| log("info", "sync_tools", &run_id, message);
    let services = Services {
        db: &db,
        cache: &cache,
        http: &http,
        settings,
        log: &log_line,
    };
    let (retention, warning) = Retention::from_setting(
        env.var(RETENTION_VAR)
            .ok()
            .map(|v| v.to_string())
            .as_deref(),
    );
    if let Some(warning) = warning {
        log("warn", "sync_tools", &run_id, &warning);
    }
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let (budget, warnings) =
        Budget::from_settings(var(PER_TEAM_VAR).as_deref(), var(TOTAL_VAR).as_deref());
    for warning in warnings {
        log("warn", "sync_tools", &run_id, &warning);
    }
    let outcome = run(&services, job, retention, budget).await;
    if let Ok(report) = &outcome {
        for team in &report.team_ids {
            let changed = ConfigChanged {
                healthy_servers: report.answered.get(team).cloned().unwrap_or_default(),
                bump: report.changed_teams.contains(team),
            };
            if !changed.bump && changed.healthy_servers.is_empty() {
                continue;
            }
            if let Err(e) = config_changed_with(env, team, &changed).await {
                log(
                    "error",
                    "sync_tools",
                    &run_id,
                    &format!("telling team {team}'s gate that its configuration changed: {e}"),
                );
            }
        }
    }
    if let Err(e) = &outcome {
        log(
            "error",
            "sync_tools",
            &run_id,
            &format!("cron '{cron}' failed: {e}"),
        );
    }
    outcome
}
