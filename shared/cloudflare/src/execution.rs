//! The `Execution` Durable Object: one instance per background execution (named by its id),
//! hosted by the call_tool worker (feature `execution`). It owns the upstream call, journals
//! its events in its SQLite storage, streams them to watchers, takes cancellations, and
//! delivers the end to the team's ledger. Every rule is in `shared::background`; this file
//! loads, asks and stores.
//!
//! Storage: `meta(k, v)` (`record`: the ledger record; `journal`: the state; `delivered`:
//! present once the team ledger took the end) and `events(id, kind, data, at_ms)`.
//!
//! Invariants:
//! - The prepared call (it carries the credential) lives in this instance's memory only.
//!   `/start` stores the record and journal, keeps the call and sets the alarm to now; the
//!   alarm runs it (an alarm may run long; a fetch should not hold minutes). While it runs, the
//!   alarm is re-armed every `HEARTBEAT_MS`: an alarm that finds the journal running but the
//!   call not in memory (the instance restarted) ends it as `error` (`RESTARTED`).
//! - Appending an event (journal update, `events` row, push to every watcher) has no await, and
//!   so has a watcher's registration after its replay: a watcher misses nothing and sees
//!   nothing twice, and the ids it sees are contiguous.
//! - The final event closes every watch stream. The end reaches the team ledger once: after
//!   the final event, delivered at once and retried from the alarm until it is taken.
//! - The team's webhook (if any) gets the final event from the alarm, retried with backoff
//!   (`meta` key `webhook`: attempts, done), after the end went to the ledger.
//! - `/wait` (a stated wait of `call_tool`) answers the final event when it is appended, or
//!   `null` after the wait; it never changes the execution.
//! - A tool its server takes as a task (MCP 2025-11-25 tasks) runs there: the object stores
//!   the task id (`meta` key `task`), polls `tasks/get` at the task's `pollInterval`, fetches
//!   `tasks/result` once it is terminal, and cancels with `tasks/cancel`. After a restart the
//!   alarm resumes polling from the stored id, the credential read again from D1 (it is never
//!   stored here); only a call without a task ends as `RESTARTED`. See `execution_tasks.rs`.
//! - A server→client request during the call is journalled and waits for a watcher's
//!   `/answer` only for a call started with `ask_watchers` (`shared::background::ask`); the
//!   waiting senders live in memory (a restart ends the call anyway).
//! - `/cancel` makes the journal final (`cancelled`) before anything else, so the call's
//!   result, arriving later or never, is dropped; then the running call sends
//!   `notifications/cancelled` upstream.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use futures::channel::{mpsc, oneshot};
use mcp_client::events::CallEvents;
use mcp_client::http::{HttpClient, HttpRequest, Method as HttpMethod};
use mcp_client::retry::RetryPolicy;
use mcp_client::{CallOptions, McpClient};
use serde::Deserialize;
use serde_json::{json, Value};
use shared::actions::call_tool::{capped_json, truncate, MAX_STORED_ERROR, MAX_STORED_OUTPUT};
use shared::background::ask::{self, Answering};
use shared::background::journal::{self, Event, EventKind, Journal, Outcome};
use shared::background::{
    self, may_act, stream, webhook, Handoff, Viewing, DELIVERY_RETRY_MS, HEARTBEAT_MS, RESTARTED,
};
use shared::cache::CacheSessions;
use shared::ledger::{FinishRequest, Record, FINISH_URL};
use shared::redact::Redactor;
use shared::repo::executions::Status;
use shared::repo::webhooks;
use shared::Error;
use worker::{
    durable_object, Date, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State,
};

#[path = "execution_tasks.rs"]
mod tasks;

use crate::bindings::Bindings;
use crate::error::WorkerResultExt;
use crate::log::log;
use crate::team_gate::{post_json, stub, BINDING as TEAM_GATE};

const WORKER: &str = "execution";
const STORAGE: &str = "execution storage";

type Chunk = Result<Vec<u8>, worker::Error>;

#[durable_object]
pub struct Execution {
    state: State,
    env: Env,
    /// The prepared call, from `/start` until the alarm takes it (memory only).
    held: RefCell<Option<Handoff>>,
    /// This instance is running the call now.
    running: Cell<bool>,
    /// Fires the running call's cancellation (with the reason sent upstream).
    cancel: RefCell<Option<oneshot::Sender<String>>>,
    /// Open watch streams.
    watchers: RefCell<Vec<mpsc::UnboundedSender<Chunk>>>,
    /// `/wait` requests waiting for the final event.
    finals: RefCell<Vec<oneshot::Sender<Event>>>,
    /// Scrubs the credential from what the server says (set while running).
    redactor: RefCell<Redactor>,
    schema_ready: Cell<bool>,
    /// When watchers were last sent anything (for the keep-alive comments).
    last_push: Cell<u64>,
    /// A webhook attempt is in flight (one at a time, whatever alarms overlap).
    webhook_busy: Cell<bool>,
    /// Server→client requests waiting for a watcher's answer, by their random id
    /// (`shared::background::ask`).
    asking: RefCell<HashMap<String, oneshot::Sender<Asked>>>,
    /// The running call's `ask_watchers`.
    ask_watchers: Cell<bool>,
}

/// A watcher's answer to a server→client request: JSON-RPC `result` or `error`.
type Asked = Result<Value, Value>;

/// The webhook delivery's state (`meta` key `webhook`).
#[derive(Default, serde::Serialize, Deserialize)]
struct Hook {
    done: bool,
    attempts: u32,
}

/// One webhook attempt waits this long for an answer.
const WEBHOOK_TIMEOUT_MS: u64 = 10_000;

#[derive(Deserialize)]
struct Value1 {
    v: String,
}

#[derive(Deserialize)]
struct EventRow {
    id: f64,
    kind: String,
    data: String,
    at_ms: f64,
}

impl DurableObject for Execution {
    fn new(state: State, env: Env) -> Self {
        Execution {
            state,
            env,
            held: RefCell::new(None),
            running: Cell::new(false),
            cancel: RefCell::new(None),
            watchers: RefCell::new(Vec::new()),
            finals: RefCell::new(Vec::new()),
            redactor: RefCell::new(Redactor::default()),
            schema_ready: Cell::new(false),
            webhook_busy: Cell::new(false),
            last_push: Cell::new(0),
            asking: RefCell::new(HashMap::new()),
            ask_watchers: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let answer = match path.as_str() {
            "/start" => match req.json::<Handoff>().await {
                Ok(handoff) => self.start(handoff).await,
                Err(e) => Err(Error::internal(format!("bad handoff: {e}"))),
            },
            "/state" | "/watch" | "/cancel" | "/wait" => match req.json::<Viewing>().await {
                Ok(viewing) => match path.as_str() {
                    "/state" => self.state_of(&viewing),
                    "/wait" => self.wait_for_end(&viewing).await,
                    "/watch" => return self.watch(&viewing).or_else(error_response),
                    _ => self.cancel_by(&viewing).await,
                },
                Err(e) => Err(Error::internal(format!("bad viewing request: {e}"))),
            },
            "/answer" => match req.json::<Answering>().await {
                Ok(answering) => self.answer(&answering),
                Err(e) => Err(Error::internal(format!("bad answer request: {e}"))),
            },
            _ => Err(Error::NotFound(format!("no such execution path {path}"))),
        };
        match answer {
            Ok((status, body)) => Ok(Response::from_json(&body)?.with_status(status)),
            Err(err) => error_response(err),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if let Err(err) = self.on_alarm().await {
            log("error", WORKER, "-", &format!("alarm: {err}"));
        }
        Response::ok("")
    }
}

fn error_response(err: Error) -> worker::Result<Response> {
    Ok(Response::from_json(&err.to_body("-"))?.with_status(err.status()))
}

impl Execution {
    fn sql(&self) -> Result<SqlStorage, Error> {
        let sql = self.state.storage().sql();
        if !self.schema_ready.get() {
            sql.exec(
                "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
                None,
            )
            .or_internal(STORAGE)?;
            sql.exec(
                "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, \
                 data TEXT NOT NULL, at_ms INTEGER NOT NULL)",
                None,
            )
            .or_internal(STORAGE)?;
            self.schema_ready.set(true);
        }
        Ok(sql)
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let rows: Vec<Value1> = self
            .sql()?
            .exec(
                "SELECT v FROM meta WHERE k = ?",
                vec![SqlStorageValue::from(key)],
            )
            .and_then(|c| c.to_array())
            .or_internal(STORAGE)?;
        rows.first()
            .map(|r| serde_json::from_str(&r.v).map_err(Error::internal))
            .transpose()
    }

    fn put_meta<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), Error> {
        let text = serde_json::to_string(value).map_err(Error::internal)?;
        self.sql()?
            .exec(
                "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                vec![SqlStorageValue::from(key), SqlStorageValue::from(text)],
            )
            .or_internal(STORAGE)?;
        Ok(())
    }

    fn loaded(&self) -> Result<Option<(Record, Journal)>, Error> {
        let Some(record) = self.get_meta::<Record>("record")? else {
            return Ok(None);
        };
        let journal = self
            .get_meta::<Journal>("journal")?
            .unwrap_or_else(|| Journal::new(record.started_ms));
        Ok(Some((record, journal)))
    }

    /// The record, if `viewer` may act on it; otherwise (or none) the one 404.
    fn visible(&self, viewing: &Viewing) -> Result<(Record, Journal), Error> {
        match self.loaded()? {
            Some((record, journal)) if may_act(&viewing.viewer, &record) => Ok((record, journal)),
            Some((record, _)) => Err(background::not_found(&record.id)),
            None => Err(Error::NotFound("execution not found in your team".into())),
        }
    }

    fn events_after(&self, last_seen: Option<u64>) -> Result<Vec<Event>, Error> {
        let rows: Vec<EventRow> = self
            .sql()?
            .exec(
                "SELECT id, kind, data, at_ms FROM events WHERE id > ? ORDER BY id",
                vec![SqlStorageValue::from(last_seen.unwrap_or(0) as i64)],
            )
            .and_then(|c| c.to_array())
            .or_internal(STORAGE)?;
        rows.into_iter()
            .map(|r| {
                Ok(Event {
                    id: r.id as u64,
                    kind: EventKind::parse(&r.kind)
                        .ok_or_else(|| Error::internal(format!("stored event kind {}", r.kind)))?,
                    data: serde_json::from_str(&r.data).map_err(Error::internal)?,
                    at_ms: r.at_ms as u64,
                })
            })
            .collect()
    }

    /// Journals one event (no await: see the module's invariants) and pushes it to every
    /// watcher; a final event closes them.
    fn append(&self, journal: &Journal, event: &Event) -> Result<(), Error> {
        self.sql()?
            .exec(
                "INSERT INTO events (id, kind, data, at_ms) VALUES (?, ?, ?, ?)",
                vec![
                    SqlStorageValue::from(event.id as i64),
                    SqlStorageValue::from(event.kind.as_str()),
                    SqlStorageValue::from(event.data.to_string()),
                    SqlStorageValue::from(event.at_ms as i64),
                ],
            )
            .or_internal(STORAGE)?;
        self.put_meta("journal", journal)?;
        let frame = stream::frame(event).into_bytes();
        self.last_push.set(event.at_ms);
        let mut watchers = self.watchers.borrow_mut();
        watchers.retain(|w| w.unbounded_send(Ok(frame.clone())).is_ok());
        if event.kind.is_final() {
            watchers.clear();
            for waiter in self.finals.borrow_mut().drain(..) {
                let _ = waiter.send(event.clone());
            }
        }
        Ok(())
    }

    /// Applies `step` to the journal and journals the event it makes, if any.
    fn record_event(
        &self,
        step: impl FnOnce(&mut Journal, u64) -> Option<Event>,
    ) -> Result<Option<Event>, Error> {
        let Some((_, mut journal)) = self.loaded()? else {
            return Ok(None);
        };
        let Some(event) = step(&mut journal, Date::now().as_millis()) else {
            return Ok(None);
        };
        self.append(&journal, &event)?;
        Ok(Some(event))
    }

    async fn start(&self, handoff: Handoff) -> Result<(u16, Value), Error> {
        if self.get_meta::<Record>("record")?.is_some() {
            return Err(Error::Conflict(format!(
                "execution {} was started already",
                handoff.record.id
            )));
        }
        let journal = Journal::new(handoff.record.started_ms);
        self.put_meta("record", &handoff.record)?;
        self.put_meta("journal", &journal)?;
        let summary = background::summary(&handoff.record, &journal);
        *self.held.borrow_mut() = Some(handoff);
        self.state
            .storage()
            .set_alarm(0)
            .await
            .or_internal("setting the execution's alarm")?;
        Ok((202, summary))
    }

    /// `/wait`: the final event as soon as there is one, or `null` after `wait_ms`.
    async fn wait_for_end(&self, viewing: &Viewing) -> Result<(u16, Value), Error> {
        let (_, journal) = self.visible(viewing)?;
        if !journal.is_running() {
            let last = self.events_after(journal.last_id.checked_sub(1))?.pop();
            return Ok((200, json!({ "event": last })));
        }
        let (tx, rx) = oneshot::channel::<Event>();
        self.finals.borrow_mut().push(tx);
        let wait_ms = viewing.wait_ms.unwrap_or(0);
        let timer = worker::Delay::from(std::time::Duration::from_millis(wait_ms));
        let event = match futures::future::select(rx, Box::pin(timer)).await {
            futures::future::Either::Left((Ok(event), _)) => Some(event),
            _ => None,
        };
        Ok((200, json!({ "event": event })))
    }

    fn state_of(&self, viewing: &Viewing) -> Result<(u16, Value), Error> {
        let (record, journal) = self.visible(viewing)?;
        let events = self.events_after(None)?;
        Ok((200, background::state_answer(&record, &journal, &events)))
    }

    /// The replay after the viewer's last event id, then (while running) the live events, as
    /// one event stream.
    fn watch(&self, viewing: &Viewing) -> Result<Response, Error> {
        let (record, journal) = self.visible(viewing)?;
        let replay = self.events_after(viewing.last_event_id)?;
        let (tx, rx) = mpsc::unbounded::<Chunk>();
        let _ = tx.unbounded_send(Ok(
            stream::comment(&format!("execution {}", record.id)).into_bytes()
        ));
        for event in journal::after(&replay, viewing.last_event_id) {
            let _ = tx.unbounded_send(Ok(stream::frame(event).into_bytes()));
        }
        if journal.is_running() {
            self.watchers.borrow_mut().push(tx);
        }
        crate::event_stream::response(rx, "watch stream")
    }

    /// A watcher's answer to a waiting server→client request (see `shared::background::ask`).
    fn answer(&self, answering: &Answering) -> Result<(u16, Value), Error> {
        let viewing = Viewing::by(&answering.viewer);
        let (record, _) = self.visible(&viewing)?;
        let answer = ask::answer_of(&answering.response)?;
        let waiting = self.asking.borrow_mut().remove(&answering.request_id);
        match waiting.map(|tx| tx.send(answer)) {
            Some(Ok(())) => Ok((200, json!({ "success": true, "execution_id": record.id }))),
            _ => Err(Error::NotFound(format!(
                "execution '{}' has no request '{}' waiting for an answer",
                record.id,
                answering.request_id.chars().take(64).collect::<String>()
            ))),
        }
    }

    async fn cancel_by(&self, viewing: &Viewing) -> Result<(u16, Value), Error> {
        let (record, journal) = self.visible(viewing)?;
        if !journal.is_running() {
            return Err(Error::Conflict(format!(
                "execution {} already ended as {}",
                record.id, journal.status
            )));
        }
        let message = format!("cancelled by {}", viewing.viewer.user_id);
        self.record_event(|j, now| {
            j.finish(
                &Outcome::Cancelled {
                    message: message.clone(),
                },
                now,
            )
        })?;
        if let Some(fire) = self.cancel.borrow_mut().take() {
            let _ = fire.send(format!("cancelled by the user ({message})"));
        }
        self.deliver(None).await;
        // The webhook (if any) goes from the alarm.
        self.arm(0).await?;
        let (record, journal) = self.visible(viewing)?;
        Ok((
            200,
            json!({ "success": true, "execution": background::summary(&record, &journal) }),
        ))
    }

    async fn on_alarm(&self) -> Result<(), Error> {
        let Some((_, journal)) = self.loaded()? else {
            return Ok(());
        };
        if journal.is_running() {
            if self.running.get() {
                // The call runs in this instance: only the heartbeat.
                return self.arm(HEARTBEAT_MS).await;
            }
            let held = self.held.borrow_mut().take();
            match held {
                Some(handoff) => {
                    self.running.set(true);
                    let ran = self.run(handoff).await;
                    self.running.set(false);
                    ran?;
                }
                None => match self.get_meta::<tasks::Stored>(tasks::META)? {
                    // The task lives on the server: poll it again.
                    Some(stored) => {
                        self.running.set(true);
                        let resumed = self.resume_task(stored).await;
                        self.running.set(false);
                        resumed?;
                    }
                    None => {
                        self.record_event(|j, now| {
                            j.finish(
                                &Outcome::Failed {
                                    status: Status::Error,
                                    code: "internal_error",
                                    message: RESTARTED.to_string(),
                                },
                                now,
                            )
                        })?;
                        self.deliver(None).await;
                    }
                },
            }
        }
        if self.get_meta::<bool>("delivered")?.is_none() && !self.deliver(None).await {
            self.arm(DELIVERY_RETRY_MS).await?;
        }
        if !self.webhook_busy.replace(true) {
            let stepped = self.webhook_step().await;
            self.webhook_busy.set(false);
            if let Err(err) = stepped {
                log("error", WORKER, "-", &format!("webhook: {err}"));
            }
        }
        Ok(())
    }

    /// One delivery attempt of the final event to the team's webhook, if it has one and the
    /// journal is final (`shared::background::webhook`); a failure re-arms the alarm after
    /// the backoff, until `MAX_ATTEMPTS`.
    async fn webhook_step(&self) -> Result<(), Error> {
        let mut hook: Hook = self.get_meta("webhook")?.unwrap_or_default();
        if hook.done {
            return Ok(());
        }
        let Some((record, journal)) = self.loaded()? else {
            return Ok(());
        };
        if journal.is_running() {
            return Ok(());
        }
        let bindings = Bindings::new(&self.env);
        let Some(target) = webhooks::get(&bindings.db()?, &record.team_id).await? else {
            hook.done = true;
            return self.put_meta("webhook", &hook);
        };
        let settings = bindings.settings();
        let ring = settings
            .credential_keys
            .as_ref()
            .map_err(|e| Error::internal(format!("webhook secret: {e}")))?;
        let secret = ring
            .open(
                &target.key_id,
                &target.encrypted_secret,
                &webhook::aad(&record.team_id),
            )
            .map_err(|e| Error::internal(format!("webhook secret does not open: {e:?}")))?;
        let secret = String::from_utf8(secret).map_err(Error::internal)?;
        let last = self
            .events_after(journal.last_id.checked_sub(1))?
            .pop()
            .ok_or_else(|| Error::internal("a final journal without its final event"))?;
        let body = serde_json::to_vec(&webhook::payload(&record, &journal, &last))
            .map_err(Error::internal)?;
        let signature = webhook::sign(&secret, Date::now().as_millis() / 1000, &body);
        let request = HttpRequest::new(HttpMethod::Post, target.url.as_str())
            .header("content-type", "application/json")
            .header(webhook::SIGNATURE_HEADER, signature)
            .header(webhook::DELIVERY_HEADER, record.id.as_str())
            .body(body);
        let http = bindings.http();
        let sent = futures::future::select(
            Box::pin(http.send(request)),
            Box::pin(worker::Delay::from(std::time::Duration::from_millis(
                WEBHOOK_TIMEOUT_MS,
            ))),
        )
        .await;
        let delivered = matches!(
            sent,
            futures::future::Either::Left((Ok(ref answer), _)) if (200..300).contains(&answer.status)
        );
        hook.attempts += 1;
        if delivered || hook.attempts >= webhook::MAX_ATTEMPTS {
            hook.done = true;
            if !delivered {
                log(
                    "warn",
                    WORKER,
                    &record.request_id,
                    &format!(
                        "webhook of execution {} given up after {} attempts",
                        record.id, hook.attempts
                    ),
                );
            }
        } else {
            self.arm(webhook::backoff_ms(hook.attempts)).await?;
        }
        self.put_meta("webhook", &hook)
    }

    /// An SSE comment to every watcher when nothing was sent for `stream::KEEPALIVE_MS`, so
    /// proxies keep a quiet stream open.
    fn keep_alive(&self) {
        let now = Date::now().as_millis();
        if now.saturating_sub(self.last_push.get()) < stream::KEEPALIVE_MS {
            return;
        }
        self.last_push.set(now);
        let comment = stream::comment("keep-alive").into_bytes();
        self.watchers
            .borrow_mut()
            .retain(|w| w.unbounded_send(Ok(comment.clone())).is_ok());
    }

    async fn arm(&self, in_ms: u64) -> Result<(), Error> {
        self.state
            .storage()
            .set_alarm(in_ms as i64)
            .await
            .or_internal("setting the execution's alarm")
    }

    /// Runs the call upstream (its notifications journalled as they come), then journals its
    /// end unless a cancellation ended it first, and delivers the end. A tool the server takes
    /// as a task (`tasks`) is driven through `tasks/*`; any other over one long request.
    async fn run(&self, handoff: Handoff) -> Result<(), Error> {
        self.arm(HEARTBEAT_MS).await?;
        *self.redactor.borrow_mut() = Redactor::new(handoff.secrets.clone());
        self.ask_watchers.set(handoff.ask_watchers);
        let bindings = Bindings::new(&self.env);
        let http = bindings.http();
        let cache = bindings.cache()?;
        let sink = Sink { object: self };
        let client =
            McpClient::new(&http, CacheSessions(&cache), handoff.endpoint()).with_events(&sink);
        let cancelled = self.cancellation();
        let deadline_ms = handoff.record.started_ms + handoff.timeout_ms;
        let call = async {
            let support = client
                .tool_task_support(&handoff.record.tool_name, tasks::REQUEST_MS)
                .await;
            if matches!(support, Ok(s) if s.as_task()) {
                return self
                    .task_call(&client, &handoff, deadline_ms, cancelled)
                    .await;
            }
            let options = CallOptions {
                input_schema: handoff.input_schema.as_ref(),
                timeout_ms: handoff.timeout_ms,
                idempotent: handoff.idempotent,
                retry: RetryPolicy::STANDARD,
            };
            client
                .call_tool_cancellable(
                    &handoff.record.tool_name,
                    handoff.arguments.clone(),
                    options,
                    cancelled,
                )
                .await
                .map(|o| (o.result, o.server_fault))
        };
        let ended = self.with_heartbeat(call).await;
        self.end_with(ended).await
    }

    /// A future of the reason the running call is cancelled with (`/cancel` fires it).
    fn cancellation(&self) -> impl std::future::Future<Output = String> {
        let (fire, cancelled) = oneshot::channel::<String>();
        *self.cancel.borrow_mut() = Some(fire);
        async {
            match cancelled.await {
                Ok(reason) => reason,
                Err(_) => futures::future::pending().await,
            }
        }
    }

    /// Runs `work` while re-arming the heartbeat alarm and keeping watchers alive.
    async fn with_heartbeat<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        let heartbeat = async {
            loop {
                worker::Delay::from(std::time::Duration::from_millis(HEARTBEAT_MS / 2)).await;
                let _ = self.arm(HEARTBEAT_MS).await;
                self.keep_alive();
            }
        };
        match futures::future::select(Box::pin(work), Box::pin(heartbeat)).await {
            futures::future::Either::Left((done, _)) => done,
            futures::future::Either::Right(_) => unreachable!("the heartbeat never ends"),
        }
    }

    /// Journals how the call ended (`None`: cancelled, the journal is final already; else the
    /// result and whether a failure is the server's fault) and delivers the end.
    async fn end_with(
        &self,
        ended: Option<(Result<Value, mcp_client::McpError>, bool)>,
    ) -> Result<(), Error> {
        self.cancel.borrow_mut().take();
        let Some((result, fault)) = ended else {
            return Ok(());
        };
        let redactor = self.redactor.borrow().clone();
        let ended = match result {
            Ok(result) => Outcome::Result(redactor.value(result)),
            Err(e) => {
                let err = Error::from(e);
                Outcome::Failed {
                    status: if matches!(err, Error::Timeout(_)) {
                        Status::Timeout
                    } else {
                        Status::Error
                    },
                    code: err.code(),
                    message: truncate(&redactor.text(&err.public_message()), MAX_STORED_ERROR),
                }
            }
        };
        let fault_text = match (&ended, fault) {
            (Outcome::Failed { message, .. }, true) => Some(message.clone()),
            _ => None,
        };
        self.record_event(|j, now| j.finish(&ended, now))?;
        self.deliver(fault_text).await;
        Ok(())
    }

    /// Delivers the end to the team's ledger once the journal is final; answers whether the
    /// ledger has it (a failure is retried from the alarm).
    async fn deliver(&self, fault: Option<String>) -> bool {
        match self.try_deliver(fault).await {
            Ok(done) => done,
            Err(err) => {
                log("error", WORKER, "-", &format!("delivering an end: {err}"));
                let _ = self.arm(DELIVERY_RETRY_MS).await;
                false
            }
        }
    }

    async fn try_deliver(&self, fault: Option<String>) -> Result<bool, Error> {
        if self.get_meta::<bool>("delivered")?.is_some() {
            return Ok(true);
        }
        let Some((record, journal)) = self.loaded()? else {
            return Ok(true);
        };
        if journal.is_running() {
            return Ok(false);
        }
        let last = self
            .events_after(journal.last_id.checked_sub(1))?
            .pop()
            .ok_or_else(|| Error::internal("a final journal without its final event"))?;
        let output = (last.kind == EventKind::Result)
            .then(|| capped_json(&last.data["result"], MAX_STORED_OUTPUT));
        let mut end = journal
            .end(&record.id, &record.tool_id, &last, output)
            .ok_or_else(|| Error::internal("a final journal without an end"))?;
        end.error = end.error.map(|e| truncate(&e, MAX_STORED_ERROR));
        let finish = FinishRequest {
            end,
            // Its background start completed any reservation already.
            record: None,
            server_id: record.server_id.clone(),
            fault,
        };
        let team = stub(&self.env, TEAM_GATE, &record.team_id)?;
        post_json(&team, FINISH_URL, &finish).await?;
        self.put_meta("delivered", &true)?;
        Ok(true)
    }
}

/// The running call's notifications, journalled (redacted) as they arrive.
struct Sink<'o> {
    object: &'o Execution,
}

impl CallEvents for Sink<'_> {
    fn ask<'s>(&'s self, method: &str, params: &Value) -> Option<mcp_client::events::Asked<'s>> {
        let object = self.object;
        if !ask::ASKED_METHODS.contains(&method) || !object.ask_watchers.get() {
            return None;
        }
        let request_id = shared::repo::new_id();
        let params = object.redactor.borrow().value(params.clone());
        let (tx, rx) = oneshot::channel::<Asked>();
        object.asking.borrow_mut().insert(request_id.clone(), tx);
        match object.record_event(|j, now| j.request(&request_id, method, &params, now)) {
            Ok(Some(_)) => {}
            _ => {
                object.asking.borrow_mut().remove(&request_id);
                return None;
            }
        }
        let (method, params_for_default) = (method.to_string(), params);
        Some(Box::pin(async move {
            let timeout =
                worker::Delay::from(std::time::Duration::from_millis(ask::ASK_TIMEOUT_MS));
            match futures::future::select(rx, timeout).await {
                futures::future::Either::Left((Ok(answer), _)) => answer,
                _ => {
                    object.asking.borrow_mut().remove(&request_id);
                    let fallback = mcp_client::jsonrpc::answer_server_request(
                        &Value::Null,
                        &method,
                        &params_for_default,
                    );
                    match fallback.get("result") {
                        Some(result) => Ok(result.clone()),
                        None => Err(fallback["error"].clone()),
                    }
                }
            }
        }))
    }

    fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let message = message.map(|m| self.object.redactor.borrow().text(m));
        let recorded = self
            .object
            .record_event(|j, now| j.progress(progress, total, message.as_deref(), now));
        if let Err(err) = recorded {
            log(
                "error",
                WORKER,
                "-",
                &format!("journalling progress: {err}"),
            );
        }
    }

    fn log(&self, level: &str, logger: Option<&str>, data: &Value) {
        let data = self.object.redactor.borrow().value(data.clone());
        let recorded = self
            .object
            .record_event(|j, now| j.log(level, logger, &data, now));
        if let Err(err) = recorded {
            log(
                "error",
                WORKER,
                "-",
                &format!("journalling a log line: {err}"),
            );
        }
    }
}
