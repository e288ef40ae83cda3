//! The `RateLimiter` Durable Object: one instance per team (named by the team id), the team's
//! gate. For each request it confirms that the team exists and that the user is a member
//! (`shared::membership`: memberships read from D1 and kept for `MEMBERSHIP_CACHE_SECS`, dropped
//! at once when the admin worker reports a change on `/forget`), refuses admin work to members,
//! then charges the team's windows held in its SQLite storage (`shared::ratelimit::decide`).
//! Every rule lives in `shared`; this file only loads, asks and stores. Hosted by the gateway
//! (feature `rate-limiter`, re-exported by the gateway crate).
//!
//! The same object is the team's execution ledger (`/ledger/start`, `/ledger/finish`,
//! `/ledger/discard` from the call_tool worker, and the alarm that flushes finished calls to D1
//! in batches; an admitted `call_tool` that asks for it has its `pending` record reserved by
//! the check itself, `shared::ledger::reservation`, so admission and start are one request): see
//! `crate::ledger_store` and `shared::ledger`; and it keeps the circuit breakers of the team's
//! servers, decided in the ledger's `start` (or `/ledger/admit`), fed by its `finish`, closed
//! by the health checks' `/config-changed` (`crate::breaker_store`, `shared::breaker::book`).
//!
//! It also tells the gateway's standalone MCP streams when the catalogue moves
//! (`/catalogue/watch`, `shared::mcp_server::listen`): each open watch gets the current
//! configuration version at once and every new one as it is made; a watch whose stream was
//! dropped is forgotten at the next change or the next watch. Watches live in memory only; the gateway bounds their lifetime.
//!
//! Exactness: a Durable Object runs one event at a time between awaits. The team's limits are
//! read (from the in-memory cache or D1) first; from loading the windows to storing them
//! there is no await, and the SQL API is synchronous, so concurrent requests of one team are
//! decided strictly one after another and a burst admits exactly the limit.
//!
//! Storage: `windows(key, state, expires_at)`, one row per window (`team`, `admin`,
//! `user:<id>`), the state as JSON. Rows whose windows hold nothing any more are deleted now
//! and then, so idle users do not accumulate. This SQL stays here, not in `shared::repo`: it
//! runs on the object's own SQLite storage (not D1) through its synchronous API, which the
//! no-await exactness above depends on, and `repo` speaks the async `Database` seam.

use std::cell::{Cell, RefCell};

use futures::channel::mpsc;

use serde_json::Value;
use shared::api::Action;
use shared::breaker::Gate;
use shared::identity::Role;
use shared::ledger::reservation::{self, Reservation};
use shared::ledger::{
    Admit, AdmitRequest, BackgroundStart, BackgroundVerdict, DiscardRequest, FinishRequest, Record,
    StartRequest, FLUSH_RETRY_MS,
};
use shared::mcp_server::listen;
use shared::membership::{admission, Admission, MemberCache, DEFAULT_MEMBERSHIP_CACHE_SECS};
use shared::ratelimit::{
    charges, decide, load_team_row, CachedLimits, Charge, CheckRequest, ConfigChanged,
    ForgetRequest, GateAnswer, RateLimitConfig, SlidingWindow, TeamLimits,
};
use shared::repo::members;
use shared::Error;
use worker::{
    durable_object, Date, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State,
};

use crate::bindings::Bindings;
use crate::breaker_store::BreakerStore;
use crate::d1::D1Store;
use crate::error::WorkerResultExt;
use crate::ledger_store::LedgerState;
use crate::log::log;

const WORKER: &str = "rate_limiter";
/// What the storage errors say failed.
const STORAGE: &str = "limiter storage";
/// Expired windows are swept every this many requests.
const SWEEP_EVERY: u64 = 256;

#[durable_object]
pub struct RateLimiter {
    state: State,
    env: Env,
    /// The team's limits, and whether it has a `teams` row (`None` limits: it has none).
    limits: RefCell<Option<CachedLimits>>,
    members: RefCell<MemberCache>,
    schema_ready: Cell<bool>,
    requests: Cell<u64>,
    /// The team's execution ledger (`crate::ledger_store`).
    ledger: LedgerState,
    /// The circuit breakers of the team's servers (`crate::breaker_store`).
    breakers: BreakerStore,
    /// The team's configuration version is `{config_epoch}.{config_changes}`: a new epoch for
    /// every instance (what a lost instance knew is never trusted again), one more change for
    /// every `/config-changed` (`shared::call_target`).
    config_epoch: String,
    config_changes: Cell<u64>,
    /// Open catalogue watches (the gateway's standalone MCP streams).
    catalogue_watchers: RefCell<Vec<mpsc::UnboundedSender<Chunk>>>,
}

type Chunk = Result<Vec<u8>, worker::Error>;

impl DurableObject for RateLimiter {
    fn new(state: State, env: Env) -> Self {
        let ledger = LedgerState::new(flush_delay(&env));
        RateLimiter {
            state,
            env,
            limits: RefCell::new(None),
            members: RefCell::new(MemberCache::default()),
            schema_ready: Cell::new(false),
            requests: Cell::new(0),
            ledger,
            breakers: BreakerStore::default(),
            config_epoch: shared::repo::new_id(),
            config_changes: Cell::new(0),
            catalogue_watchers: RefCell::new(Vec::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        match req.path().as_str() {
            "/ledger/start" => return self.ledger_start(&mut req).await,
            "/ledger/finish" => return self.ledger_finish(&mut req).await,
            "/ledger/admit" => return self.ledger_admit(&mut req).await,
            "/ledger/discard" => return self.ledger_discard(&mut req).await,
            "/ledger/flush" => return self.flush_ledger().await,
            "/ledger/start-background" => return self.ledger_start_background(&mut req).await,
            "/config-changed" => return self.config_changed(&mut req).await,
            "/catalogue/watch" => return self.watch_catalogue(),
            _ => {}
        }
        if req.path() == "/forget" {
            let forget: ForgetRequest = match req.json().await {
                Ok(f) => f,
                Err(e) => return Response::error(format!("bad forget request: {e}"), 400),
            };
            self.members.borrow_mut().forget(forget.user_id.as_deref());
            return Response::from_json(&serde_json::json!({"forgotten": true}));
        }
        let check: CheckRequest = match req.json().await {
            Ok(c) => c,
            Err(e) => return Response::error(format!("bad check request: {e}"), 400),
        };
        match self.check(&check).await {
            Ok(decision) => Response::from_json(&decision),
            Err(err) => {
                log(
                    "error",
                    WORKER,
                    &check.request_id,
                    &format!("team {}: {err}", check.team_id),
                );
                Response::error(err.to_string(), 500)
            }
        }
    }

    /// The ledger's flush (`crate::ledger_store`). A failed flush re-arms itself; the error is
    /// logged, not raised (raising would make the runtime retry on its own schedule as well).
    async fn alarm(&self) -> worker::Result<Response> {
        self.flush_ledger().await
    }
}

impl RateLimiter {
    /// The ledger's flush, from the alarm or from a reader that asked for it (`/ledger/flush`).
    async fn flush_ledger(&self) -> worker::Result<Response> {
        let now = Date::now().as_millis();
        let flushed = match self.db() {
            Ok(db) => self.ledger.on_alarm(&self.state.storage(), &db, now).await,
            Err(err) => Err(err),
        };
        match flushed {
            Ok(n) => Response::from_json(&serde_json::json!({ "flushed": n })),
            Err(err) => {
                log(
                    "error",
                    WORKER,
                    "-",
                    &format!("ledger flush failed, retrying: {err}"),
                );
                // Whatever failed, the ledger is looked at again (a flush failure already
                // re-armed it; an earlier failure did not).
                let _ = self.state.storage().set_alarm(FLUSH_RETRY_MS as i64).await;
                Response::from_json(&serde_json::json!({ "flushed": 0 }))
            }
        }
    }
}

impl RateLimiter {
    /// The breaker's verdict (when asked), then the record stored unless refused.
    async fn ledger_start(&self, req: &mut Request) -> worker::Result<Response> {
        let start: StartRequest = match req.json().await {
            Ok(r) => r,
            Err(e) => return Response::error(format!("bad ledger record: {e}"), 400),
        };
        let record = &start.record;
        let gate = match start.admit {
            Admit::AskBreaker => self.breakers.admit(
                &self.state.storage().sql(),
                &record.server_id,
                Date::now().as_millis(),
                start.budget_ms,
            ),
            // Reserved: the gate found the breaker closed; this start completes the record.
            Admit::Admitted | Admit::Reserved => Ok(Gate::Allow),
        };
        let stored = match gate {
            Ok(refused @ Gate::Reject { .. }) => Ok(refused),
            Ok(gate) => self
                .ledger
                .start(&self.state.storage(), record)
                .await
                .map(|()| gate),
            Err(err) => Err(err),
        };
        self.ledger_answer(stored, &record.request_id)
    }

    /// A background execution's start: the team's running ones counted against the cap (full:
    /// nothing asked, nothing stored), then as `ledger_start`. From the count to the record's
    /// insert there is no await (the breaker and the SQL are synchronous), so a burst of
    /// starts admits exactly the cap.
    async fn ledger_start_background(&self, req: &mut Request) -> worker::Result<Response> {
        let BackgroundStart { start, cap } = match req.json().await {
            Ok(r) => r,
            Err(e) => return Response::error(format!("bad background start: {e}"), 400),
        };
        let storage = self.state.storage();
        let record = &start.record;
        let running = match self.ledger.running_background(&storage) {
            Ok(n) => n,
            Err(err) => return self.ledger_answer::<()>(Err(err), &record.request_id),
        };
        if running >= cap {
            // Nothing stored for a refused start: a reservation the gate made is dropped.
            if start.admit == Admit::Reserved {
                if let Err(err) = self.ledger.discard(&storage, &record.id) {
                    return self.ledger_answer::<()>(Err(err), &record.request_id);
                }
            }
            return Response::from_json(&BackgroundVerdict {
                verdict: None,
                running,
                cap,
            });
        }
        let gate = match start.admit {
            Admit::AskBreaker => self.breakers.admit(
                &storage.sql(),
                &record.server_id,
                Date::now().as_millis(),
                start.budget_ms,
            ),
            Admit::Admitted | Admit::Reserved => Ok(Gate::Allow),
        };
        let stored = match gate {
            Ok(refused @ Gate::Reject { .. }) => Ok(refused),
            Ok(gate) => match self.ledger.mark_background(&storage, &record.id) {
                Ok(()) => self.ledger.start(&storage, record).await.map(|()| gate),
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        self.ledger_answer(
            stored.map(|gate| BackgroundVerdict {
                verdict: Some(gate),
                running,
                cap,
            }),
            &record.request_id,
        )
    }

    async fn ledger_admit(&self, req: &mut Request) -> worker::Result<Response> {
        let admit: AdmitRequest = match req.json().await {
            Ok(a) => a,
            Err(e) => return Response::error(format!("bad admit request: {e}"), 400),
        };
        let gate = self.breakers.admit(
            &self.state.storage().sql(),
            &admit.server_id,
            Date::now().as_millis(),
            admit.budget_ms,
        );
        self.ledger_answer(gate, &admit.server_id)
    }

    /// A reservation that never went upstream dropped (`shared::ledger::reservation`).
    async fn ledger_discard(&self, req: &mut Request) -> worker::Result<Response> {
        let discard: DiscardRequest = match req.json().await {
            Ok(d) => d,
            Err(e) => return Response::error(format!("bad discard request: {e}"), 400),
        };
        let dropped = self.ledger.discard(&self.state.storage(), &discard.id);
        self.ledger_answer(
            dropped.map(|dropped| serde_json::json!({"discarded": dropped})),
            &discard.id,
        )
    }

    /// The record ended and the server's breaker fed (a failure of one does not skip the
    /// other).
    async fn ledger_finish(&self, req: &mut Request) -> worker::Result<Response> {
        let finish: FinishRequest = match req.json().await {
            Ok(e) => e,
            Err(e) => return Response::error(format!("bad ledger end: {e}"), 400),
        };
        let now = Date::now().as_millis();
        let fed = self.breakers.record(
            &self.state.storage().sql(),
            &finish.server_id,
            now,
            finish.fault.as_deref(),
        );
        if let Err(err) = fed {
            log("error", WORKER, &finish.end.id, &format!("breaker: {err}"));
        }
        let stored = self
            .ledger
            .finish(
                &self.state.storage(),
                &finish.end,
                finish.record.as_ref(),
                now,
            )
            .await;
        self.ledger_answer(
            stored.map(|()| serde_json::json!({"recorded": true})),
            &finish.end.id,
        )
    }

    fn ledger_answer<T: serde::Serialize>(
        &self,
        stored: Result<T, Error>,
        id: &str,
    ) -> worker::Result<Response> {
        match stored {
            Ok(answer) => Response::from_json(&answer),
            Err(err) => {
                log("error", WORKER, id, &format!("ledger: {err}"));
                Response::error(err.to_string(), 500)
            }
        }
    }

    /// A new configuration version (unless the change says `bump: false`: then the version,
    /// and the catalogue watchers, are left alone); the breakers of the servers that answered
    /// their health checks close either way.
    async fn config_changed(&self, req: &mut Request) -> worker::Result<Response> {
        let changed: ConfigChanged = req.json().await.unwrap_or_default();
        if changed.bump {
            self.config_changes.set(self.config_changes.get() + 1);
            let frame = listen::version_frame(&self.config_version()).into_bytes();
            self.catalogue_watchers
                .borrow_mut()
                .retain(|w| w.unbounded_send(Ok(frame.clone())).is_ok());
        }
        let closed = if changed.healthy_servers.is_empty() {
            Ok(0)
        } else {
            self.breakers
                .close(&self.state.storage().sql(), &changed.healthy_servers)
        };
        match closed {
            Ok(closed) => Response::from_json(&serde_json::json!({
                "version": self.config_version(),
                "breakers_closed": closed,
            })),
            Err(err) => {
                log("error", WORKER, "-", &format!("closing breakers: {err}"));
                Response::error(err.to_string(), 500)
            }
        }
    }

    /// `/catalogue/watch`: the current configuration version, then each new one.
    fn watch_catalogue(&self) -> worker::Result<Response> {
        let (tx, rx) = mpsc::unbounded::<Chunk>();
        let frame = listen::version_frame(&self.config_version()).into_bytes();
        let _ = tx.unbounded_send(Ok(frame));
        let mut watchers = self.catalogue_watchers.borrow_mut();
        // Watches whose stream was dropped go now too, so quiet teams do not collect them.
        watchers.retain(|w| !w.is_closed());
        watchers.push(tx);
        crate::event_stream::response(rx, "catalogue watch")
            .map_err(|e| worker::Error::RustError(e.to_string()))
    }

    async fn check(&self, check: &CheckRequest) -> Result<GateAnswer, Error> {
        let config = RateLimitConfig::from_vars(|name| self.bindings().var(name))?;
        let action = Action::parse(&check.action)
            .ok_or_else(|| Error::validation(format!("unknown action '{}'", check.action)))?;
        let team = self.team_limits(check, &config).await?;
        let role = match (team, check.claimed_role) {
            (None, _) => None,
            (Some(_), Some(claimed)) => Some(claimed),
            (Some(_), None) => self.member_role(check).await?,
        };
        let admitted = admission(team.is_some(), role, action);
        let (Admission::Member { .. }, Some(limits)) = (admitted, team) else {
            return Ok(GateAnswer {
                admission: admitted,
                decision: None,
                config_version: Some(self.config_version()),
                reservation: None,
            });
        };
        if !config.enabled {
            return Ok(GateAnswer {
                admission: admitted,
                decision: None,
                config_version: Some(self.config_version()),
                reservation: None,
            });
        }

        // No await from here on: load, decide and store form one step.
        let now = Date::now().as_millis();
        let charges = charges(action, &check.user_id, &limits, &config);
        let sql = self.state.storage().sql();
        self.ensure_schema(&sql)?;
        let mut windows = charges
            .iter()
            .map(|c| self.load(&sql, c, &check.request_id))
            .collect::<Result<Vec<_>, Error>>()?;
        let decision = decide(&charges, &mut windows, now);
        let mut reserved = None;
        if decision.allowed {
            for (charge, window) in charges.iter().zip(&windows) {
                store(&sql, charge, window)?;
            }
            reserved = self.reserve(check, action, now);
        }
        self.sweep(&sql, now)?;
        let reservation = match reserved {
            Some(record) => self.armed(&record, &check.request_id).await,
            None => None,
        };
        Ok(GateAnswer {
            admission: admitted,
            decision: Some(decision),
            config_version: Some(self.config_version()),
            reservation,
        })
    }

    /// The record of an admitted `call_tool` that asked for one, reserved in the ledger
    /// (synchronously: stored before the answer leaves) when its server's breaker is closed
    /// (`shared::ledger::reservation`). A failure is logged and reserves nothing: call_tool
    /// then starts the record itself.
    fn reserve(&self, check: &CheckRequest, action: Action, now: u64) -> Option<Record> {
        let wanted = check
            .reserve
            .as_ref()
            .filter(|_| action == Action::CallTool)?;
        let storage = self.state.storage();
        let stored = self
            .breakers
            .is_closed(&storage.sql(), &wanted.server_id)
            .and_then(|closed| {
                if !closed {
                    return Ok(None);
                }
                let record = reservation::record(
                    &shared::repo::new_id(),
                    &check.team_id,
                    &check.user_id,
                    &check.request_id,
                    wanted,
                    now,
                );
                self.ledger
                    .reserve(&storage, &record)
                    .map(|()| Some(record))
            });
        stored.unwrap_or_else(|err| {
            log(
                "error",
                WORKER,
                &check.request_id,
                &format!("reserving the call's record: {err}"),
            );
            None
        })
    }

    /// The reservation of `record`, once an alarm is due by its deadline (else it is dropped:
    /// a record without an alarm would never be ended if its worker stopped).
    async fn armed(&self, record: &Record, request_id: &str) -> Option<Reservation> {
        let storage = self.state.storage();
        match self.ledger.arm_for(&storage, record.deadline_ms).await {
            Ok(()) => Some(Reservation {
                execution_id: record.id.clone(),
            }),
            Err(err) => {
                log(
                    "error",
                    WORKER,
                    request_id,
                    &format!("arming the ledger's alarm for a reservation: {err}"),
                );
                let _ = self.ledger.discard(&storage, &record.id);
                None
            }
        }
    }

    fn config_version(&self) -> String {
        format!("{}.{}", self.config_epoch, self.config_changes.get())
    }

    fn bindings(&self) -> Bindings<'_> {
        Bindings::new(&self.env)
    }

    fn db(&self) -> Result<D1Store, Error> {
        self.bindings().db()
    }

    /// The user's role in this team: cached for `MEMBERSHIP_CACHE_SECS`, else read from D1.
    async fn member_role(&self, check: &CheckRequest) -> Result<Option<Role>, Error> {
        let ttl = self
            .bindings()
            .var("MEMBERSHIP_CACHE_SECS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MEMBERSHIP_CACHE_SECS);
        let now = Date::now().as_millis();
        if let Some(role) = self.members.borrow().get(&check.user_id, now, ttl) {
            return Ok(role);
        }
        let role = members::role_of(&self.db()?, &check.team_id, &check.user_id).await?;
        self.members.borrow_mut().put(&check.user_id, role, now);
        Ok(role)
    }

    /// The team's limits (`None`: the team has no `teams` row): cached for `team_cache_secs`,
    /// else read from D1. If D1 fails, the last answer read is better than none.
    async fn team_limits(
        &self,
        check: &CheckRequest,
        config: &RateLimitConfig,
    ) -> Result<Option<TeamLimits>, Error> {
        let now = Date::now().as_millis();
        let cached = *self.limits.borrow();
        if let Some(c) = cached.filter(|c| c.fresh(now, config.team_cache_secs)) {
            return Ok(c.limits);
        }
        match load_team_row(&self.db()?, &check.team_id).await {
            Ok(row) => {
                let limits = row.as_ref().map(|r| TeamLimits::resolve(Some(r), config));
                *self.limits.borrow_mut() = Some(CachedLimits {
                    limits,
                    read_at_ms: now,
                });
                Ok(limits)
            }
            Err(err) => match cached {
                Some(c) => {
                    log(
                        "error",
                        WORKER,
                        &check.request_id,
                        &format!(
                            "reading team {}: {err}; using limits read earlier",
                            check.team_id
                        ),
                    );
                    Ok(c.limits)
                }
                None => Err(err),
            },
        }
    }

    fn ensure_schema(&self, sql: &SqlStorage) -> Result<(), Error> {
        if !self.schema_ready.get() {
            sql.exec(
                "CREATE TABLE IF NOT EXISTS windows (key TEXT PRIMARY KEY, state TEXT NOT NULL, \
                 expires_at INTEGER NOT NULL)",
                None,
            )
            .or_internal(STORAGE)?;
            sql.exec(
                "CREATE INDEX IF NOT EXISTS windows_expires_at ON windows (expires_at)",
                None,
            )
            .or_internal(STORAGE)?;
            self.schema_ready.set(true);
        }
        Ok(())
    }

    fn load(
        &self,
        sql: &SqlStorage,
        charge: &Charge,
        request_id: &str,
    ) -> Result<SlidingWindow, Error> {
        let rows: Vec<Value> = sql
            .exec(
                "SELECT state FROM windows WHERE key = ?",
                vec![SqlStorageValue::from(charge.key.as_str())],
            )
            .and_then(|cursor| cursor.to_array())
            .or_internal(STORAGE)?;
        let Some(state) = rows
            .first()
            .and_then(|r| r.get("state"))
            .and_then(Value::as_str)
        else {
            return Ok(SlidingWindow::default());
        };
        Ok(serde_json::from_str(state).unwrap_or_else(|e| {
            // Only this object writes these rows; an unreadable one starts over, loudly.
            log(
                "error",
                WORKER,
                request_id,
                &format!("window {} unreadable ({e}); starting it over", charge.key),
            );
            SlidingWindow::default()
        }))
    }

    fn sweep(&self, sql: &SqlStorage, now: u64) -> Result<(), Error> {
        let n = self.requests.get().wrapping_add(1);
        self.requests.set(n);
        if n.is_multiple_of(SWEEP_EVERY) {
            sql.exec(
                "DELETE FROM windows WHERE expires_at < ?",
                vec![SqlStorageValue::from(now as i64)],
            )
            .or_internal(STORAGE)?;
        }
        Ok(())
    }
}

fn store(sql: &SqlStorage, charge: &Charge, window: &SlidingWindow) -> Result<(), Error> {
    let state = serde_json::to_string(window).map_err(Error::internal)?;
    sql.exec(
        "INSERT INTO windows (key, state, expires_at) VALUES (?, ?, ?) \
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at",
        vec![
            SqlStorageValue::from(charge.key.as_str()),
            SqlStorageValue::from(state),
            SqlStorageValue::from(window.expires_at_ms(&charge.spec) as i64),
        ],
    )
    .or_internal(STORAGE)?;
    Ok(())
}

/// `LEDGER_FLUSH_DELAY_MS` (`shared::ledger::flush_delay_ms`); a bad value is logged and the
/// default used: a typo in a tuning setting must not stop the team's calls.
fn flush_delay(env: &Env) -> u64 {
    let setting = Bindings::new(env).var("LEDGER_FLUSH_DELAY_MS");
    shared::ledger::flush_delay_ms(setting.as_deref()).unwrap_or_else(|err| {
        log("error", WORKER, "-", &err.to_string());
        shared::ledger::DEFAULT_FLUSH_DELAY_MS
    })
}
