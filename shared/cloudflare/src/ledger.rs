//! The call_tool worker's side of the execution ledger (`shared::ledger`): the team's
//! Durable Object (binding `TEAM_GATE`, the gateway's `RateLimiter` class) as a
//! [`shared::ledger::Ledger`]. `start` answers once the object has stored the record (a
//! Durable Object's storage writes are durable before its answer leaves it), with the
//! verdict of the server's circuit breaker, which the object keeps too.
//!
//! When the team's gate reserved the call's record (`shared::ledger::reservation`), `start`
//! makes no trip at all ([`Admit::Reserved`]): the record is durable already; `finish` then
//! carries the completed record with the end, and a call that never went upstream discards
//! the reservation, after the reply like `finish`.
//!
//! `finish` is off the response path: the end is handed to the runtime (`waitUntil`), which
//! delivers it after the reply has left, with one retry. The record was durable before the
//! call went upstream, so if the end never arrives (the runtime dropped the worker), the
//! object still ends the record itself at its deadline (`shared::ledger::abandoned`): every
//! started call reaches exactly one final state either way.

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::breaker::Gate;
use shared::ledger::{
    Admit, AdmitRequest, BackgroundStart, BackgroundVerdict, DiscardRequest, End, FinishRequest,
    Ledger, Record, StartRequest, ADMIT_URL, DISCARD_URL, FINISH_URL, START_BACKGROUND_URL,
    START_URL,
};
use shared::{Error, Result};
use worker::{Context, Stub};

use crate::bindings::Bindings;
use crate::error::WorkerResultExt;
use crate::log::log;
use crate::team_gate::{post_json, stub, BINDING};

pub struct TeamLedger<'c> {
    stub: Rc<Stub>,
    /// The invocation's context: `finish` is delivered through its `waitUntil`.
    context: &'c Context,
    /// The record the team's gate reserved for this request (`shared::ledger::reservation`).
    reserved: Option<String>,
}

impl<'c> TeamLedger<'c> {
    /// The ledger of `team_id`; `None` when the worker has no `TEAM_GATE` binding (then the
    /// database is the ledger).
    pub fn for_team(
        bindings: &Bindings<'_>,
        team_id: &str,
        context: &'c Context,
        reserved: Option<String>,
    ) -> Option<TeamLedger<'c>> {
        let stub = stub(bindings.env(), BINDING, team_id).ok()?;
        Some(TeamLedger {
            stub: Rc::new(stub),
            context,
            reserved,
        })
    }
}

async fn post<T: Serialize, A: DeserializeOwned>(stub: &Stub, url: &str, body: &T) -> Result<A> {
    let mut answer = post_json(stub, url, body).await?;
    let text = answer.text().await.or_internal("team object answer")?;
    serde_json::from_str(&text)
        .map_err(|e| Error::internal(format!("team object answer undecodable: {e}")))
}

/// Delivers an end (or a discard) after the reply, retrying once; a lost one is logged (the
/// object ends the record at its deadline).
async fn deliver<T: Serialize>(stub: Rc<Stub>, url: &'static str, body: T, id: String) {
    let mut outcome = post::<_, serde_json::Value>(&stub, url, &body).await;
    if outcome.is_err() {
        outcome = post::<_, serde_json::Value>(&stub, url, &body).await;
    }
    if let Err(err) = outcome {
        let what = if url == DISCARD_URL {
            "discarding the reservation"
        } else {
            "recording the end"
        };
        log(
            "error",
            "call_tool",
            &id,
            &format!("{what} of execution {id} failed twice: {err}"),
        );
    }
}

impl Ledger for TeamLedger<'_> {
    fn start<'a>(
        &'a self,
        record: &'a Record,
        admit: Admit,
        budget_ms: u64,
    ) -> LocalBoxFuture<'a, Result<Gate>> {
        Box::pin(async move {
            if admit == Admit::Reserved && self.reserved.as_deref() == Some(record.id.as_str()) {
                // The gate stored the record and found the breaker closed: no trip.
                return Ok(Gate::Allow);
            }
            let start = StartRequest {
                record: record.clone(),
                admit,
                budget_ms,
            };
            post(&self.stub, START_URL, &start).await
        })
    }

    fn reserved(&self) -> Option<&str> {
        self.reserved.as_deref()
    }

    fn discard<'a>(&'a self, id: &'a str) -> LocalBoxFuture<'a, Result<()>> {
        let discard = DiscardRequest { id: id.to_string() };
        self.context.wait_until(deliver(
            Rc::clone(&self.stub),
            DISCARD_URL,
            discard,
            id.to_string(),
        ));
        Box::pin(async { Ok(()) })
    }

    fn start_background<'a>(
        &'a self,
        record: &'a Record,
        admit: Admit,
        budget_ms: u64,
        cap: u32,
    ) -> LocalBoxFuture<'a, Result<Gate>> {
        Box::pin(async move {
            let start = BackgroundStart {
                start: StartRequest {
                    record: record.clone(),
                    admit,
                    budget_ms,
                },
                cap,
            };
            let verdict: BackgroundVerdict = post(&self.stub, START_BACKGROUND_URL, &start).await?;
            verdict.into_gate()
        })
    }

    fn admit<'a>(&'a self, server_id: &'a str, budget_ms: u64) -> LocalBoxFuture<'a, Result<Gate>> {
        Box::pin(async move {
            let admit = AdmitRequest {
                server_id: server_id.to_string(),
                budget_ms,
            };
            post(&self.stub, ADMIT_URL, &admit).await
        })
    }

    /// The object holds the record already: only the end (and the breaker's input) travels,
    /// after the reply (see the module's docs).
    fn finish<'a>(
        &'a self,
        record: &'a Record,
        end: &'a End,
        fault: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        // A reservation is completed by its end: the record travels with it.
        let reserved = self.reserved.as_deref() == Some(record.id.as_str());
        let finish = FinishRequest {
            end: end.clone(),
            record: reserved.then(|| record.clone()),
            server_id: record.server_id.clone(),
            fault: fault.map(str::to_string),
        };
        self.context.wait_until(deliver(
            Rc::clone(&self.stub),
            FINISH_URL,
            finish,
            end.id.clone(),
        ));
        Box::pin(async { Ok(()) })
    }
}
