//! The team object's execution ledger (`shared::ledger`), in the object's SQLite storage:
//! records taken from call_tool (`start`, `finish`) and flushed to D1 in batches by the alarm.
//!
//! Storage: `ledger(id, record, end, deadline_ms, batch)`: `record` and `end` are the core's
//! JSON forms; `end IS NULL` while the call runs; `batch` is set when a flush takes the row, and
//! the row is deleted once D1 holds it. `background(id)` names the records of background
//! executions (`shared::background`): the running ones are those whose ledger row has no end
//! yet; the others are deleted whenever they are counted. `reserved(id)` names the records the
//! team's gate reserved (`shared::ledger::reservation`) that call_tool has not completed yet:
//! a `start` or a `finish` that carries the record completes one (its row leaves `reserved`),
//! a discard deletes one still unfinished; the others are deleted whenever the alarm runs.
//!
//! Invariants:
//! - `start` and `reserve` store the record before answering (a Durable Object's storage writes
//!   are durable before its answer leaves it); `start` replaces only a reservation still
//!   running (completing it); `finish` only ends a record still running; a discard deletes
//!   only a reservation never completed nor ended.
//! - An alarm is always due while the ledger holds anything: at the latest at the earliest
//!   running record's deadline, within the flush delay (`shared::ledger::flush_delay_ms`) of a
//!   record ending, and at once when `MAX_BATCH` records have ended since the last flush. The
//!   alarm ends the records past their deadline (`shared::ledger::abandoned`), then flushes.
//!   A reader that must see every finished call asks for the same flush at once
//!   ([`LedgerState::on_alarm`] through `shared::ledger::FLUSH_URL`).
//! - A flush marks its rows with the batch id before its one await (the D1 transaction), so
//!   records that start or end meanwhile are not part of it; a batch whose answer was lost is
//!   retried under the same id, and `shared::ledger::applied` tells whether D1 already has it.
//!   A batch is deleted here only once D1 holds it.
//!
//! This SQL stays here, not in `shared::repo`, for the reason the rate limiter's does: it is the
//! object's own storage, reached through its synchronous API.

use std::cell::Cell;

use serde::Deserialize;
use shared::ledger::{
    abandoned, applied, flush_statements, Done, End, Record, FLUSH_RETRY_MS, MAX_BATCH,
};
use shared::repo::new_id;
use shared::Error;
use worker::{SqlStorage, SqlStorageValue, Storage};

use crate::d1::D1Store;
use crate::error::WorkerResultExt;
use shared::db::Database;

const STORAGE: &str = "ledger storage";
/// Batches one alarm flushes at most before it re-arms itself (bounded work per event).
const MAX_BATCHES_PER_ALARM: usize = 20;

/// The ledger's in-memory state: when the alarm is due, as far as this instance knows.
pub struct LedgerState {
    schema_ready: Cell<bool>,
    /// `None`: unknown (a fresh instance; read from storage once).
    alarm_at: Cell<Option<Option<i64>>>,
    /// How long after a record ends its flush may wait.
    flush_delay_ms: u64,
    /// Records ended by this instance since its last flush (a fresh instance starts at 0: its
    /// records then wait the delay, never longer).
    ended_since_flush: Cell<usize>,
}

#[derive(Deserialize)]
struct Row {
    record: String,
    end: Option<String>,
    batch: Option<String>,
}

#[derive(Deserialize)]
struct Next {
    finished: f64,
    deadline: Option<f64>,
}

impl LedgerState {
    /// A ledger whose finished records wait at most `flush_delay_ms` for their flush.
    pub fn new(flush_delay_ms: u64) -> Self {
        LedgerState {
            schema_ready: Cell::new(false),
            alarm_at: Cell::new(None),
            flush_delay_ms,
            ended_since_flush: Cell::new(0),
        }
    }

    fn ensure_schema(&self, sql: &SqlStorage) -> Result<(), Error> {
        if !self.schema_ready.get() {
            sql.exec(
                "CREATE TABLE IF NOT EXISTS ledger (id TEXT PRIMARY KEY, record TEXT NOT NULL, \
                 end TEXT, deadline_ms INTEGER NOT NULL, batch TEXT)",
                None,
            )
            .or_internal(STORAGE)?;
            sql.exec(
                "CREATE TABLE IF NOT EXISTS background (id TEXT PRIMARY KEY)",
                None,
            )
            .or_internal(STORAGE)?;
            sql.exec(
                "CREATE TABLE IF NOT EXISTS reserved (id TEXT PRIMARY KEY)",
                None,
            )
            .or_internal(STORAGE)?;
            self.schema_ready.set(true);
        }
        Ok(())
    }

    /// Stores a started call (once; a reservation still running is completed by it) and makes
    /// sure an alarm is due by its deadline.
    pub async fn start(&self, storage: &Storage, record: &Record) -> Result<(), Error> {
        let sql = storage.sql();
        self.ensure_schema(&sql)?;
        let json = serde_json::to_string(record).map_err(Error::internal)?;
        let id = SqlStorageValue::from(record.id.as_str());
        if self.complete(&sql, &record.id, Some(&json), Some(record.deadline_ms))? {
            return self.alarm_by(storage, record.deadline_ms as i64).await;
        }
        sql.exec(
            "INSERT INTO ledger (id, record, deadline_ms) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            vec![
                id,
                SqlStorageValue::from(json),
                SqlStorageValue::from(record.deadline_ms as i64),
            ],
        )
        .or_internal(STORAGE)?;
        self.alarm_by(storage, record.deadline_ms as i64).await
    }

    /// Stores the record the team's gate reserves for an admitted call
    /// (`shared::ledger::reservation`), synchronously: it is written before the gate's answer
    /// leaves the object. The alarm is armed by [`Self::arm_for`] after.
    pub fn reserve(&self, storage: &Storage, record: &Record) -> Result<(), Error> {
        let sql = storage.sql();
        self.ensure_schema(&sql)?;
        let json = serde_json::to_string(record).map_err(Error::internal)?;
        sql.exec(
            "INSERT INTO ledger (id, record, deadline_ms) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            vec![
                SqlStorageValue::from(record.id.as_str()),
                SqlStorageValue::from(json),
                SqlStorageValue::from(record.deadline_ms as i64),
            ],
        )
        .or_internal(STORAGE)?;
        sql.exec(
            "INSERT OR IGNORE INTO reserved (id) VALUES (?)",
            vec![SqlStorageValue::from(record.id.as_str())],
        )
        .or_internal(STORAGE)?;
        Ok(())
    }

    /// Makes sure an alarm is due by `deadline_ms` (after [`Self::reserve`]).
    pub async fn arm_for(&self, storage: &Storage, deadline_ms: u64) -> Result<(), Error> {
        self.alarm_by(storage, deadline_ms as i64).await
    }

    /// Drops a reservation that never went upstream: only one still reserved and unfinished.
    /// Answers whether there was one.
    pub fn discard(&self, storage: &Storage, id: &str) -> Result<bool, Error> {
        let sql = storage.sql();
        self.ensure_schema(&sql)?;
        let deleted: Vec<serde_json::Value> = sql
            .exec(
                "DELETE FROM ledger WHERE id = ? AND end IS NULL AND batch IS NULL \
                 AND id IN (SELECT id FROM reserved) RETURNING id",
                vec![SqlStorageValue::from(id)],
            )
            .and_then(|c| c.to_array())
            .or_internal(STORAGE)?;
        sql.exec(
            "DELETE FROM reserved WHERE id = ?",
            vec![SqlStorageValue::from(id)],
        )
        .or_internal(STORAGE)?;
        Ok(!deleted.is_empty())
    }

    /// Completes the reservation `id` if it is one and still running: its record replaced by
    /// `record` (and its deadline by `deadline_ms`) when given; it is no longer a reservation.
    /// Answers whether it was one.
    fn complete(
        &self,
        sql: &SqlStorage,
        id: &str,
        record: Option<&str>,
        deadline_ms: Option<u64>,
    ) -> Result<bool, Error> {
        let was: Vec<serde_json::Value> = sql
            .exec(
                "DELETE FROM reserved WHERE id = ? RETURNING id",
                vec![SqlStorageValue::from(id)],
            )
            .and_then(|c| c.to_array())
            .or_internal(STORAGE)?;
        let was = !was.is_empty();
        if let (true, Some(record)) = (was, record) {
            sql.exec(
                "UPDATE ledger SET record = ?, deadline_ms = coalesce(?, deadline_ms) \
                 WHERE id = ? AND end IS NULL",
                vec![
                    SqlStorageValue::from(record),
                    deadline_ms.map_or(SqlStorageValue::Null, |d| SqlStorageValue::from(d as i64)),
                    SqlStorageValue::from(id),
                ],
            )
            .or_internal(STORAGE)?;
        }
        Ok(was)
    }

    /// The team's running background executions (synchronous: no await between this count
    /// and [`Self::mark_background`], so concurrent starts are counted exactly).
    pub fn running_background(&self, storage: &Storage) -> Result<u32, Error> {
        #[derive(Deserialize)]
        struct Count {
            n: f64,
        }
        let sql = storage.sql();
        self.ensure_schema(&sql)?;
        sql.exec(
            "DELETE FROM background WHERE id NOT IN (SELECT id FROM ledger WHERE end IS NULL)",
            None,
        )
        .or_internal(STORAGE)?;
        let count: Count = sql
            .exec("SELECT count(*) AS n FROM background", None)
            .and_then(|c| c.one())
            .or_internal(STORAGE)?;
        Ok(count.n as u32)
    }

    /// Names a record (stored right after, before any await) as a background execution.
    pub fn mark_background(&self, storage: &Storage, id: &str) -> Result<(), Error> {
        let sql = storage.sql();
        self.ensure_schema(&sql)?;
        sql.exec(
            "INSERT OR IGNORE INTO background (id) VALUES (?)",
            vec![SqlStorageValue::from(id)],
        )
        .or_internal(STORAGE)?;
        Ok(())
    }

    /// Ends a running call (completing its record first when it was a reservation and
    /// `completed` carries it) and makes sure a flush is due shortly.
    pub async fn finish(
        &self,
        storage: &Storage,
        end: &End,
        completed: Option<&Record>,
        now_ms: u64,
    ) -> Result<(), Error> {
        let sql = storage.sql();
        self.ensure_schema(&sql)?;
        if let Some(record) = completed.filter(|r| r.id == end.id) {
            let json = serde_json::to_string(record).map_err(Error::internal)?;
            self.complete(&sql, &end.id, Some(&json), None)?;
        }
        let json = serde_json::to_string(end).map_err(Error::internal)?;
        sql.exec(
            "UPDATE ledger SET end = ? WHERE id = ? AND end IS NULL",
            vec![
                SqlStorageValue::from(json),
                SqlStorageValue::from(end.id.as_str()),
            ],
        )
        .or_internal(STORAGE)?;
        let ended = self.ended_since_flush.get() + 1;
        self.ended_since_flush.set(ended);
        let delay = if ended >= MAX_BATCH {
            0
        } else {
            self.flush_delay_ms
        };
        self.alarm_by(storage, (now_ms + delay) as i64).await
    }

    /// The alarm: ends records past their deadline, flushes finished ones to D1 in batches,
    /// and re-arms the alarm for what is left. Answers how many records reached D1.
    pub async fn on_alarm(
        &self,
        storage: &Storage,
        db: &D1Store,
        now_ms: u64,
    ) -> Result<usize, Error> {
        self.alarm_at.set(Some(None));
        self.ended_since_flush.set(0);
        let sql = storage.sql();
        self.ensure_schema(&sql)?;
        self.end_abandoned(&sql, now_ms)?;
        // Reservations ended at their deadline (or already flushed) are reservations no more.
        sql.exec(
            "DELETE FROM reserved WHERE id NOT IN (SELECT id FROM ledger WHERE end IS NULL)",
            None,
        )
        .or_internal(STORAGE)?;
        let mut flushed = 0;
        let mut failure = None;
        for _ in 0..MAX_BATCHES_PER_ALARM {
            let Some((batch_id, done)) = self.take_batch(&sql)? else {
                break;
            };
            match flush(db, &batch_id, &done, now_ms).await {
                Ok(()) => {
                    sql.exec(
                        "DELETE FROM ledger WHERE batch = ?",
                        vec![SqlStorageValue::from(batch_id.as_str())],
                    )
                    .or_internal(STORAGE)?;
                    flushed += done.len();
                }
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        let next: Next = sql
            .exec(
                "SELECT count(end) AS finished, min(CASE WHEN end IS NULL THEN deadline_ms END) AS deadline FROM ledger",
                None,
            )
            .and_then(|c| c.one())
            .or_internal(STORAGE)?;
        let due = if failure.is_some() {
            Some((now_ms + FLUSH_RETRY_MS) as i64)
        } else if next.finished > 0.0 {
            Some(now_ms as i64)
        } else {
            next.deadline.map(|d| d as i64)
        };
        if let Some(at) = due {
            storage
                .set_alarm(at - now_ms as i64)
                .await
                .or_internal("setting the ledger's alarm")?;
            self.alarm_at.set(Some(Some(at)));
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(flushed),
        }
    }

    /// Sets the alarm to `at` unless one is due earlier.
    async fn alarm_by(&self, storage: &Storage, at: i64) -> Result<(), Error> {
        let current = match self.alarm_at.get() {
            Some(known) => known,
            None => storage
                .get_alarm()
                .await
                .or_internal("reading the ledger's alarm")?,
        };
        if current.is_some_and(|due| due <= at) {
            self.alarm_at.set(Some(current));
            return Ok(());
        }
        let now = worker::Date::now().as_millis() as i64;
        storage
            .set_alarm((at - now).max(0))
            .await
            .or_internal("setting the ledger's alarm")?;
        self.alarm_at.set(Some(Some(at)));
        Ok(())
    }

    fn end_abandoned(&self, sql: &SqlStorage, now_ms: u64) -> Result<(), Error> {
        let rows: Vec<Row> = sql
            .exec(
                "SELECT record, end, batch FROM ledger WHERE end IS NULL AND deadline_ms <= ?",
                vec![SqlStorageValue::from(now_ms as i64)],
            )
            .and_then(|c| c.to_array())
            .or_internal(STORAGE)?;
        for row in rows {
            let record: Record = serde_json::from_str(&row.record).map_err(Error::internal)?;
            let end =
                serde_json::to_string(&abandoned(&record, now_ms)).map_err(Error::internal)?;
            sql.exec(
                "UPDATE ledger SET end = ? WHERE id = ? AND end IS NULL",
                vec![
                    SqlStorageValue::from(end),
                    SqlStorageValue::from(record.id.as_str()),
                ],
            )
            .or_internal(STORAGE)?;
        }
        Ok(())
    }

    /// The next batch to flush: an earlier batch whose flush failed (same id, same rows), else
    /// up to `MAX_BATCH` finished rows marked with a new id.
    fn take_batch(&self, sql: &SqlStorage) -> Result<Option<(String, Vec<Done>)>, Error> {
        let pending: Vec<Row> = sql
            .exec(
                "SELECT record, end, batch FROM ledger WHERE batch = \
                 (SELECT batch FROM ledger WHERE batch IS NOT NULL LIMIT 1)",
                None,
            )
            .and_then(|c| c.to_array())
            .or_internal(STORAGE)?;
        let (batch_id, rows) = match pending.first().and_then(|r| r.batch.clone()) {
            Some(id) => (id, pending),
            None => {
                let id = new_id();
                sql.exec(
                    "UPDATE ledger SET batch = ? WHERE id IN \
                     (SELECT id FROM ledger WHERE end IS NOT NULL AND batch IS NULL LIMIT ?)",
                    vec![
                        SqlStorageValue::from(id.as_str()),
                        SqlStorageValue::from(MAX_BATCH as i64),
                    ],
                )
                .or_internal(STORAGE)?;
                let rows: Vec<Row> = sql
                    .exec(
                        "SELECT record, end, batch FROM ledger WHERE batch = ?",
                        vec![SqlStorageValue::from(id.as_str())],
                    )
                    .and_then(|c| c.to_array())
                    .or_internal(STORAGE)?;
                (id, rows)
            }
        };
        if rows.is_empty() {
            return Ok(None);
        }
        let done = rows
            .into_iter()
            .map(|row| {
                let record = serde_json::from_str(&row.record).map_err(Error::internal)?;
                let end = row
                    .end
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(Error::internal)?
                    .ok_or_else(|| Error::internal("a batched ledger row has no end"))?;
                Ok(Done { record, end })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Some((batch_id, done)))
    }
}

/// One batch into D1; a failure whose batch D1 already holds (the answer was lost) is success.
async fn flush(db: &D1Store, batch_id: &str, done: &[Done], now_ms: u64) -> Result<(), Error> {
    let team_id = done[0].record.team_id.as_str();
    match db
        .batch(flush_statements(batch_id, team_id, done, now_ms))
        .await
    {
        Ok(_) => Ok(()),
        Err(err) => match applied(db, batch_id).await {
            Ok(true) => Ok(()),
            _ => Err(err),
        },
    }
}
