//! The team object's circuit breakers (`shared::breaker::book`), in the object's SQLite
//! storage: `breakers(server_id, state)`, one row per failing server (`state` is the core's
//! JSON form of `BreakerState`; a closed breaker with no faults has no row).
//!
//! Invariants:
//! - The book is read from storage once per instance and changed only through this store,
//!   which writes every change before the object answers; the object runs one request at a
//!   time, so memory and storage never disagree when a request starts.
//! - A verdict costs no storage access once the book is loaded; a healthy server's call
//!   costs none at its end either.

use std::cell::RefCell;

use serde::Deserialize;
use shared::breaker::book::{Book, Change};
use shared::breaker::{BreakerState, Gate};
use shared::Error;
use worker::{SqlStorage, SqlStorageValue};

use crate::error::WorkerResultExt;

const STORAGE: &str = "breaker storage";

#[derive(Default)]
pub struct BreakerStore {
    /// `None` until the first use of this instance.
    book: RefCell<Option<Book>>,
}

#[derive(Deserialize)]
struct Row {
    server_id: String,
    state: String,
}

impl BreakerStore {
    /// Whether a call to `server_id` may go upstream now (a probe's lease is stored).
    pub fn admit(
        &self,
        sql: &SqlStorage,
        server_id: &str,
        now_ms: u64,
        budget_ms: u64,
    ) -> Result<Gate, Error> {
        let (gate, change) = self.with_book(sql, |b| b.admit(server_id, now_ms, budget_ms))?;
        persist(sql, change)?;
        Ok(gate)
    }

    /// Whether `server_id`'s breaker is closed (changes nothing; `Book::is_closed`).
    pub fn is_closed(&self, sql: &SqlStorage, server_id: &str) -> Result<bool, Error> {
        self.with_book(sql, |b| b.is_closed(server_id))
    }

    /// How a call to `server_id` went (`fault`: the server fault's text).
    pub fn record(
        &self,
        sql: &SqlStorage,
        server_id: &str,
        now_ms: u64,
        fault: Option<&str>,
    ) -> Result<(), Error> {
        let change = self.with_book(sql, |b| b.record(server_id, now_ms, fault))?;
        persist(sql, change)
    }

    /// Closes the breakers of `server_ids` (their health checks succeeded); answers how many
    /// were open or counting faults.
    pub fn close(&self, sql: &SqlStorage, server_ids: &[String]) -> Result<usize, Error> {
        let changes: Vec<Change> = self.with_book(sql, |b| {
            server_ids.iter().filter_map(|id| b.close(id)).collect()
        })?;
        let closed = changes.len();
        for change in changes {
            persist(sql, Some(change))?;
        }
        Ok(closed)
    }

    fn with_book<T>(&self, sql: &SqlStorage, f: impl FnOnce(&mut Book) -> T) -> Result<T, Error> {
        let mut slot = self.book.borrow_mut();
        if slot.is_none() {
            *slot = Some(load(sql)?);
        }
        Ok(f(slot.as_mut().expect("loaded above")))
    }
}

fn load(sql: &SqlStorage) -> Result<Book, Error> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS breakers (server_id TEXT PRIMARY KEY, state TEXT NOT NULL)",
        None,
    )
    .or_internal(STORAGE)?;
    let rows: Vec<Row> = sql
        .exec("SELECT server_id, state FROM breakers", None)
        .and_then(|c| c.to_array())
        .or_internal(STORAGE)?;
    // An unreadable state is dropped: the breaker fails open.
    Ok(Book::new(rows.into_iter().filter_map(|r| {
        let state: BreakerState = serde_json::from_str(&r.state).ok()?;
        Some((r.server_id, state))
    })))
}

fn persist(sql: &SqlStorage, change: Option<Change>) -> Result<(), Error> {
    match change {
        None => Ok(()),
        Some(Change::Keep(server_id, state)) => {
            let json = serde_json::to_string(&state).map_err(Error::internal)?;
            sql.exec(
                "INSERT INTO breakers (server_id, state) VALUES (?, ?) \
                 ON CONFLICT (server_id) DO UPDATE SET state = excluded.state",
                vec![
                    SqlStorageValue::from(server_id),
                    SqlStorageValue::from(json),
                ],
            )
            .or_internal(STORAGE)
            .map(|_| ())
        }
        Some(Change::Forget(server_id)) => sql
            .exec(
                "DELETE FROM breakers WHERE server_id = ?",
                vec![SqlStorageValue::from(server_id)],
            )
            .or_internal(STORAGE)
            .map(|_| ()),
    }
}
