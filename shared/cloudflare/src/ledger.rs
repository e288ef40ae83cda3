//! The call_tool worker's side of the execution ledger (`shared::ledger`): the team's
//! Durable Object (binding `TEAM_GATE`, the gateway's `RateLimiter` class) as a
//! [`shared::ledger::Ledger`]. `start` answers once the object has stored the record (a
//! Durable Object's storage writes are durable before its answer leaves it).

use futures::future::LocalBoxFuture;
use serde::Serialize;
use shared::ledger::{End, Ledger, Record, FINISH_URL, START_URL};
use shared::Result;
use worker::Stub;

use crate::bindings::Bindings;
use crate::team_gate::{post_json, stub, BINDING};

pub struct TeamLedger {
    stub: Stub,
}

impl TeamLedger {
    /// The ledger of `team_id`; `None` when the worker has no `TEAM_GATE` binding (then the
    /// database is the ledger).
    pub fn for_team(bindings: &Bindings<'_>, team_id: &str) -> Option<TeamLedger> {
        let stub = stub(bindings.env(), BINDING, team_id).ok()?;
        Some(TeamLedger { stub })
    }

    async fn post<T: Serialize>(&self, url: &str, body: &T) -> Result<()> {
        post_json(&self.stub, url, body).await?;
        Ok(())
    }
}

impl Ledger for TeamLedger {
    fn start<'a>(&'a self, record: &'a Record) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(self.post(START_URL, record))
    }
    /// The object holds the record already: only the end travels.
    fn finish<'a>(&'a self, _record: &'a Record, end: &'a End) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(self.post(FINISH_URL, end))
    }
}
