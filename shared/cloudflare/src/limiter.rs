//! The gateway's side of the team gate: ask the team's `RateLimiter` object whether the user
//! may run the action in the team (membership, role) and within the limits, and decide what
//! to do when the object cannot answer.
//!
//! - Limits disabled (`RATE_LIMIT_ENABLED=false`): membership is read from D1 directly
//!   (`membership::admit_directly`), no rate-limit headers.
//! - The object answered: its admission (403 when it refuses) and decision (the caller adds the
//!   headers and refuses with 429 when it says so), and for an admitted `call_tool` the
//!   `pending` record it reserved (`shared::ledger::reservation`).
//! - The object could not be reached or failed: logged as an error, then, with
//!   `RATE_LIMIT_FAIL_OPEN=true`, membership is read from D1 directly and the request goes
//!   through without limits; otherwise it is refused with a 500 (closed is the default: an
//!   unlimited gateway is the worse failure). Membership never fails open.

use shared::api::Action;
use shared::ledger::reservation::ReserveRequest;
use shared::membership::{admit_directly, TeamChoice};
use shared::ratelimit::{CheckRequest, GateAnswer, RateLimitConfig, CHECK_URL};
use shared::Error;
use worker::Env;

use crate::bindings::Bindings;
use crate::error::WorkerResultExt;
use crate::log::log;
use crate::team_gate::{post_json, stub};

/// The gate's answer for this request (`decision: None` when no limit applies: disabled, or
/// failed open). `reserve`: the `call_tool` record the object reserves if it admits the call
/// (`shared::ledger::reservation`; only the object reserves: disabled or failed open, none).
pub async fn consult(
    env: &Env,
    choice: &TeamChoice,
    user_id: &str,
    action: Action,
    request_id: &str,
    worker_name: &str,
    reserve: Option<ReserveRequest>,
) -> Result<GateAnswer, Error> {
    let bindings = Bindings::new(env);
    let config = RateLimitConfig::from_vars(|name| bindings.var(name))?;
    let direct = async || -> Result<GateAnswer, Error> {
        let db = bindings.db()?;
        Ok(GateAnswer {
            admission: admit_directly(&db, choice, user_id, action).await?,
            decision: None,
            config_version: None,
            reservation: None,
        })
    };
    if !config.enabled {
        return direct().await;
    }
    let check = CheckRequest {
        team_id: choice.team_id.clone(),
        user_id: user_id.to_string(),
        action: action.name().to_string(),
        request_id: request_id.to_string(),
        claimed_role: choice.claimed_role,
        reserve,
    };
    match ask(env, &config.binding, &check).await {
        Ok(answer) => Ok(answer),
        Err(err) => {
            let reason = match err {
                Error::Internal(detail) => detail,
                other => other.to_string(),
            };
            let direction = if config.fail_open { "open" } else { "closed" };
            log(
                "error",
                worker_name,
                request_id,
                &format!(
                    "rate limiter unavailable for team {}: {reason}; failing {direction}",
                    choice.team_id
                ),
            );
            if config.fail_open {
                direct().await
            } else {
                Err(Error::internal(format!(
                    "rate limiter unavailable: {reason}"
                )))
            }
        }
    }
}

/// The object's answer; the error's detail says why there is none (for the log).
async fn ask(env: &Env, binding: &str, check: &CheckRequest) -> Result<GateAnswer, Error> {
    let stub = stub(env, binding, &check.team_id)?;
    post_json(&stub, CHECK_URL, check)
        .await?
        .json::<GateAnswer>()
        .await
        .or_internal("undecodable answer")
}
