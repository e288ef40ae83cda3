//! What other workers tell a team's object (the gateway's `RateLimiter`, binding `TEAM_GATE`)
//! after a change it must not wait out: a membership changed (`/forget`: drop the cached role),
//! or the team's servers, tools or credentials changed (`/config-changed`: a new configuration
//! version, so call_tool's cached call targets are read again; `shared::call_target`).
//!
//! A failed notice is logged by the caller; what the object caches then expires on its own
//! (memberships after `MEMBERSHIP_CACHE_SECS`, call targets after
//! `shared::call_target::TARGET_CACHE_MS`).

use shared::ratelimit::{ForgetRequest, CONFIG_CHANGED_URL, FORGET_URL};
use shared::{Error, Result};
use worker::{Env, Method, Request, RequestInit};

use crate::bindings::Bindings;
use crate::error::WorkerResultExt;

/// The binding of the team's object in the admin, call_tool and sync_tools workers.
pub const BINDING: &str = "TEAM_GATE";

/// Drops the cached membership of `user_id` (`None`: of everyone) in the team's object.
pub async fn forget_member(env: &Env, team_id: &str, user_id: Option<&str>) -> Result<()> {
    let body = serde_json::to_string(&ForgetRequest {
        user_id: user_id.map(str::to_string),
    })
    .map_err(Error::internal)?;
    post(env, team_id, FORGET_URL, body).await
}

/// Moves the team to a new configuration version.
pub async fn config_changed(env: &Env, team_id: &str) -> Result<()> {
    post(env, team_id, CONFIG_CHANGED_URL, "{}".to_string()).await
}

async fn post(env: &Env, team_id: &str, url: &str, body: String) -> Result<()> {
    let stub = Bindings::new(env)
        .durable_object(BINDING)?
        .id_from_name(team_id)
        .and_then(|id| id.get_stub())
        .or_internal("team gate stub")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init(url, &init).or_internal("team gate request")?;
    let response = stub
        .fetch_with_request(request)
        .await
        .or_internal("team gate")?;
    match response.status_code() {
        200 => Ok(()),
        status => Err(Error::internal(format!("team gate answered {status}"))),
    }
}
