//! The gateway's side of rate limiting: ask the team's `RateLimiter` object about an admitted
//! request, and decide what to do when the object cannot answer.
//!
//! - Limits disabled (`RATE_LIMIT_ENABLED=false`): no question asked, no headers.
//! - The object answered: its decision (the caller adds the headers and refuses with 429 when
//!   it says so).
//! - The object could not be reached or failed: logged as an error, then the request goes
//!   through without headers when `RATE_LIMIT_FAIL_OPEN=true`, and is refused with a 500
//!   otherwise (closed is the default: an unlimited gateway is the worse failure).

use shared::adapters::log::log;
use shared::api::Action;
use shared::identity::Identity;
use shared::ratelimit::{CheckRequest, Decision, RateLimitConfig, CHECK_URL};
use shared::Error;
use worker::{Env, Headers, Method, Request, RequestInit};

/// The limiter's decision for this request, or `None` when no limit applies (disabled, or
/// failed open).
pub async fn consult(
    env: &Env,
    identity: &Identity,
    action: Action,
    request_id: &str,
    worker_name: &str,
) -> Result<Option<Decision>, Error> {
    let config = RateLimitConfig::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))?;
    if !config.enabled {
        return Ok(None);
    }
    let check = CheckRequest {
        team_id: identity.team_id.clone(),
        user_id: identity.user_id.clone(),
        action: action.name().to_string(),
        request_id: request_id.to_string(),
    };
    match ask(env, &config.binding, &check).await {
        Ok(decision) => Ok(Some(decision)),
        Err(reason) => {
            let direction = if config.fail_open { "open" } else { "closed" };
            log(
                "error",
                worker_name,
                request_id,
                &format!(
                    "rate limiter unavailable for team {}: {reason}; failing {direction}",
                    identity.team_id
                ),
            );
            if config.fail_open {
                Ok(None)
            } else {
                Err(Error::internal(format!(
                    "rate limiter unavailable: {reason}"
                )))
            }
        }
    }
}

async fn ask(env: &Env, binding: &str, check: &CheckRequest) -> Result<Decision, String> {
    let namespace = env
        .durable_object(binding)
        .map_err(|e| format!("binding {binding}: {e}"))?;
    let stub = namespace
        .id_from_name(&check.team_id)
        .and_then(|id| id.get_stub())
        .map_err(|e| format!("stub: {e}"))?;
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(|e| e.to_string())?;
    let body = serde_json::to_string(check).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let request = Request::new_with_init(CHECK_URL, &init).map_err(|e| e.to_string())?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| format!("fetch: {e}"))?;
    let status = response.status_code();
    if status != 200 {
        let text = response.text().await.unwrap_or_default();
        return Err(format!(
            "answered {status}: {}",
            text.chars().take(200).collect::<String>()
        ));
    }
    response
        .json::<Decision>()
        .await
        .map_err(|e| format!("undecodable decision: {e}"))
}
