//! Talking to a team's object (the gateway's `RateLimiter`, one per team): [`stub`] and
//! [`post_json`], the one way every worker reaches it (the gateway's gate check, call_tool's
//! ledger, and the notices below); and what other workers tell it after a change it must not
//! wait out: a membership changed (`/forget`: drop the cached role), a reader of executions
//! is about to read them (`/ledger/flush`: finished calls reach D1 now, not after the
//! ledger's flush delay), or the team's servers,
//! tools or credentials changed (`/config-changed`: a new configuration version, so
//! call_tool's cached call targets are read again; `shared::call_target`; the health checks
//! add the servers that answered, whose circuit breakers close).
//!
//! A failed notice is logged by the caller; what the object caches then expires on its own
//! (memberships after `MEMBERSHIP_CACHE_SECS`, call targets after
//! `shared::call_target::TARGET_CACHE_MS`).

use serde::Serialize;
use shared::ledger::FLUSH_URL;
use shared::ratelimit::{ConfigChanged, ForgetRequest, CONFIG_CHANGED_URL, FORGET_URL};
use shared::{Error, Result};
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use crate::bindings::Bindings;
use crate::error::WorkerResultExt;

/// The binding of the team's object in the admin, call_tool and sync_tools workers.
pub const BINDING: &str = "TEAM_GATE";

/// The object of `team_id` in the namespace bound as `binding`.
pub fn stub(env: &Env, binding: &str, team_id: &str) -> Result<Stub> {
    Bindings::new(env)
        .durable_object(binding)?
        .id_from_name(team_id)
        .and_then(|id| id.get_stub())
        .or_internal("team object stub")
}

/// POSTs `body` as JSON to the object at `url`; its answer when 200, else an internal error
/// saying what it answered (for the log).
pub async fn post_json<T: Serialize + ?Sized>(
    stub: &Stub,
    url: &str,
    body: &T,
) -> Result<Response> {
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .or_internal("team object headers")?;
    let body = serde_json::to_string(body).map_err(Error::internal)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let request = Request::new_with_init(url, &init).or_internal("team object request")?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .or_internal("team object")?;
    match response.status_code() {
        200 => Ok(response),
        status => {
            let text = response.text().await.unwrap_or_default();
            Err(Error::internal(format!(
                "team object answered {status}: {}",
                text.chars().take(200).collect::<String>()
            )))
        }
    }
}

/// Drops the cached membership of `user_id` (`None`: of everyone) in the team's object.
pub async fn forget_member(env: &Env, team_id: &str, user_id: Option<&str>) -> Result<()> {
    let forget = ForgetRequest {
        user_id: user_id.map(str::to_string),
    };
    post_json(&stub(env, BINDING, team_id)?, FORGET_URL, &forget).await?;
    Ok(())
}

/// Flushes the team's finished calls from its ledger to D1 now, so that a read of the team's
/// executions that follows sees every call that has ended.
pub async fn flush_ledger(env: &Env, team_id: &str) -> Result<()> {
    post_json(&stub(env, BINDING, team_id)?, FLUSH_URL, &()).await?;
    Ok(())
}

/// Moves the team to a new configuration version.
pub async fn config_changed(env: &Env, team_id: &str) -> Result<()> {
    config_changed_with(env, team_id, &ConfigChanged::default()).await
}

/// Moves the team to a new configuration version and closes the circuit breakers of the
/// servers `changed` names as healthy.
pub async fn config_changed_with(env: &Env, team_id: &str, changed: &ConfigChanged) -> Result<()> {
    let stub = stub(env, BINDING, team_id)?;
    post_json(&stub, CONFIG_CHANGED_URL, changed).await?;
    Ok(())
}
