//! The `Execution` object's side of MCP tasks (2025-11-25; `mcp_client::tasks`): a tool the
//! server takes as a task is started with a task-augmented `tools/call`, its `Task` stored
//! (`meta` key [`META`], with the call's deadline), then polled with `tasks/get` at the task's
//! `pollInterval` until terminal, and its result fetched with `tasks/result`. A cancellation
//! sends `tasks/cancel`; a deadline that passes cancels it too and ends `timeout`.
//!
//! Invariants:
//! - The stored task holds no secret: after a restart the object resumes polling with the
//!   server's endpoint and credential read again from D1 (`shared::upstream`), for the same
//!   team and server as the record; a server or credential that can no longer be had ends the
//!   execution `error`, saying so.
//! - Status changes reach watchers as `log` events (logger `tasks`: `{task_id, status,
//!   message?}`), so a watcher sees the task's id and progress of its state.
//! - [`MAX_POLL_FAILURES`] `tasks/get` failures in a row end the execution `error`; fewer are
//!   retried at the next poll (the task lives on the server meanwhile).

use std::future::Future;

use futures::future::{select, Either};
use mcp_client::http::{Clock, HttpClient};
use mcp_client::tasks::{Started, TaskMethod, TaskState, TaskStatus, TASK_TTL_MS};
use mcp_client::{McpClient, McpError, SessionStore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shared::actions::Services;
use shared::background::Handoff;
use shared::cache::CacheSessions;
use shared::redact::Redactor;
use shared::Error;
use worker::Date;

use super::{Execution, Sink, WORKER};
use crate::bindings::Bindings;
use crate::log::log;

/// Where the task is stored in `meta`.
pub const META: &str = "task";
/// The time budget of one `tools/list`, `tasks/get`, `tasks/result` or `tasks/cancel`.
pub const REQUEST_MS: u64 = 30_000;
/// `tasks/get` failures in a row before the execution ends `error`.
pub const MAX_POLL_FAILURES: u32 = 5;

/// The stored task.
#[derive(Serialize, Deserialize)]
pub struct Stored {
    pub task: TaskState,
    pub deadline_ms: u64,
}

/// How a call ended, for `Execution::end_with` (`None`: cancelled).
type Ended = Option<(Result<Value, McpError>, bool)>;

/// Whether a failure says the server is unwell (for its breaker): not a JSON-RPC error, not a
/// 4xx other than 429, not a refusal of ours.
fn server_fault(err: &McpError) -> bool {
    match err.last() {
        McpError::JsonRpc { .. } | McpError::Validation(_) => false,
        McpError::HttpStatus { status, .. } => *status >= 500 || *status == 429,
        _ => true,
    }
}

impl Execution {
    /// Starts the call as a task and drives it to its end (or answers a server that answered
    /// the call directly).
    pub(super) async fn task_call<H: HttpClient + Clock, S: SessionStore>(
        &self,
        client: &McpClient<'_, H, S>,
        handoff: &Handoff,
        deadline_ms: u64,
        cancelled: impl Future<Output = String>,
    ) -> Ended {
        let budget = deadline_ms
            .saturating_sub(Date::now().as_millis())
            .min(REQUEST_MS);
        let started = client
            .start_tool_task(
                &handoff.record.tool_name,
                handoff.arguments.clone(),
                TASK_TTL_MS,
                budget.max(1),
            )
            .await;
        let task = match started {
            Err(e) => {
                let fault = server_fault(&e);
                return Some((Err(e), fault));
            }
            Ok(Started::Answered(result)) => return Some((Ok(result), false)),
            Ok(Started::Task(task)) => task,
        };
        self.task_changed(None, &task);
        let stored = Stored { task, deadline_ms };
        if let Err(err) = self.put_meta(META, &stored) {
            log("error", WORKER, "-", &format!("storing the task: {err}"));
        }
        self.poll_task(client, stored, cancelled).await
    }

    /// Polls the task until it is terminal, then fetches its result; a cancellation (or the
    /// deadline) cancels it on the server.
    pub(super) async fn poll_task<H: HttpClient + Clock, S: SessionStore>(
        &self,
        client: &McpClient<'_, H, S>,
        stored: Stored,
        cancelled: impl Future<Output = String>,
    ) -> Ended {
        let Stored {
            mut task,
            deadline_ms,
        } = stored;
        let task_id = task.task_id.clone();
        let polling = async {
            let mut failures = 0u32;
            while !task.status.is_terminal() {
                let now = Date::now().as_millis();
                if now >= deadline_ms {
                    return Err(McpError::Timeout(format!(
                        "the task {task_id} did not end within the tool's time budget"
                    )));
                }
                let pause = task.poll_delay_ms().min(deadline_ms - now);
                worker::Delay::from(std::time::Duration::from_millis(pause)).await;
                match client
                    .task_request(TaskMethod::Get, &task_id, REQUEST_MS)
                    .await
                    .and_then(|v| TaskState::parse(&v).map_err(McpError::Protocol))
                {
                    Ok(next) => {
                        failures = 0;
                        self.task_changed(Some(&task), &next);
                        task = next;
                        let stored = Stored {
                            task: task.clone(),
                            deadline_ms,
                        };
                        let _ = self.put_meta(META, &stored);
                    }
                    Err(e) => {
                        failures += 1;
                        if failures >= MAX_POLL_FAILURES {
                            return Err(e);
                        }
                    }
                }
            }
            match task.status {
                TaskStatus::Cancelled => Err(McpError::JsonRpc {
                    code: 0,
                    message: format!(
                        "the server cancelled the task {task_id}: {}",
                        task.status_message.as_deref().unwrap_or("no reason given")
                    ),
                }),
                _ => {
                    client
                        .task_request(TaskMethod::Result, &task_id, REQUEST_MS)
                        .await
                }
            }
        };
        let raced = select(Box::pin(polling), Box::pin(cancelled)).await;
        match raced {
            Either::Left((Err(McpError::Timeout(message)), _)) => {
                self.cancel_task(client, &task_id).await;
                Some((Err(McpError::Timeout(message)), true))
            }
            Either::Left((result, _)) => {
                let fault = result.as_ref().err().is_some_and(server_fault);
                Some((result, fault))
            }
            Either::Right((_, polling)) => {
                drop(polling);
                self.cancel_task(client, &task_id).await;
                None
            }
        }
    }

    async fn cancel_task<H: HttpClient + Clock, S: SessionStore>(
        &self,
        client: &McpClient<'_, H, S>,
        task_id: &str,
    ) {
        if let Err(e) = client
            .task_request(TaskMethod::Cancel, task_id, REQUEST_MS)
            .await
        {
            log(
                "warn",
                WORKER,
                "-",
                &format!("tasks/cancel of {task_id}: {e}"),
            );
        }
    }

    /// A `log` event (logger `tasks`) when the task's status or message changed.
    fn task_changed(&self, before: Option<&TaskState>, now: &TaskState) {
        let same = before
            .is_some_and(|b| b.status == now.status && b.status_message == now.status_message);
        if same {
            return;
        }
        let mut data = json!({ "task_id": now.task_id, "status": now.status });
        if let Some(message) = &now.status_message {
            data["message"] = json!(self.redactor.borrow().text(message));
        }
        let recorded = self.record_event(|j, at| j.log("info", Some("tasks"), &data, at));
        if let Err(err) = recorded {
            log(
                "error",
                WORKER,
                "-",
                &format!("journalling a task change: {err}"),
            );
        }
    }

    /// After a restart: the endpoint and credential read again, then polling resumes.
    pub(super) async fn resume_task(&self, stored: Stored) -> Result<(), Error> {
        let Some((record, _)) = self.loaded()? else {
            return Ok(());
        };
        self.arm(shared::background::HEARTBEAT_MS).await?;
        let bindings = Bindings::new(&self.env);
        let db = bindings.db()?;
        let cache = bindings.cache()?;
        let http = bindings.http();
        let settings = bindings.settings();
        let log_line = |message: &str| log("info", WORKER, &record.request_id, message);
        let services = Services {
            db: &db,
            cache: &cache,
            http: &http,
            settings,
            log: &log_line,
        };
        let upstream =
            match shared::repo::servers::get(&db, &record.team_id, &record.server_id).await {
                Ok(server) => shared::upstream::authorized_endpoint(&services, &server).await,
                Err(e) => Err(e),
            };
        let upstream = match upstream {
            Ok(upstream) => upstream,
            Err(e) => {
                let message = format!(
                    "the execution's runtime restarted while its task {} ran on the server, and polling it could not resume: {}",
                    stored.task.task_id,
                    e.public_message()
                );
                return self
                    .end_with(Some((Err(McpError::Protocol(message)), false)))
                    .await;
            }
        };
        *self.redactor.borrow_mut() = Redactor::new(upstream.secrets.clone());
        let sink = Sink { object: self };
        let client =
            McpClient::new(&http, CacheSessions(&cache), upstream.endpoint).with_events(&sink);
        let cancelled = self.cancellation();
        let ended = self
            .with_heartbeat(self.poll_task(&client, stored, cancelled))
            .await;
        self.end_with(ended).await
    }
}
