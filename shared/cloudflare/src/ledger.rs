//! The call_tool worker's side of the execution ledger (`shared::ledger`): the team's
//! Durable Object (binding `TEAM_GATE`, the gateway's `RateLimiter` class) as a
//! [`shared::ledger::Ledger`]. `start` answers once the object has stored the record (a
//! Durable Object's storage writes are durable before its answer leaves it).

use futures::future::LocalBoxFuture;
use serde::Serialize;
use shared::ledger::{End, Ledger, Record, FINISH_URL, START_URL};
use shared::{Error, Result};
use worker::{Headers, Method, Request, RequestInit, Stub};

use crate::bindings::Bindings;
use crate::error::WorkerResultExt;

pub struct TeamLedger {
    stub: Stub,
}

impl TeamLedger {
    /// The ledger of `team_id`; `None` when the worker has no `TEAM_GATE` binding (then the
    /// database is the ledger).
    pub fn for_team(bindings: &Bindings<'_>, team_id: &str) -> Option<TeamLedger> {
        let namespace = bindings
            .env()
            .durable_object(crate::team_gate::BINDING)
            .ok()?;
        let stub = namespace.id_from_name(team_id).ok()?.get_stub().ok()?;
        Some(TeamLedger { stub })
    }

    async fn post<T: Serialize>(&self, url: &str, body: &T) -> Result<()> {
        let headers = Headers::new();
        headers
            .set("content-type", "application/json")
            .or_internal("ledger headers")?;
        let body = serde_json::to_string(body).map_err(Error::internal)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.into()));
        let request = Request::new_with_init(url, &init).or_internal("ledger request")?;
        let mut response = self
            .stub
            .fetch_with_request(request)
            .await
            .or_internal("team ledger")?;
        if response.status_code() != 200 {
            let text = response.text().await.unwrap_or_default();
            return Err(Error::internal(format!(
                "team ledger answered {}: {}",
                response.status_code(),
                text.chars().take(200).collect::<String>()
            )));
        }
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
