//! `admin` worker: server and tool-policy management for team admins, team membership, and
//! execution history and analytics (admins: the team's; members: their own executions) (D1,
//! KV, outbound fetch for sync-on-create); reached only through the gateway's Service Binding.
//! After a membership change it tells the team's gate (the gateway's `RateLimiter` object,
//! binding `TEAM_GATE`) to forget the user's cached membership, so it takes effect at once.

use edge_cloudflare::log::log;
use edge_cloudflare::shell::serve;
use shared::actions::admin::admin;
use shared::actions::analytics::analytics;
use shared::actions::members::members;
use shared::api::{Action, MAX_ID_LEN};
use shared::ratelimit::{ForgetRequest, FORGET_URL};
use shared::Error;
use worker::{event, Context, Env, Method, Request, RequestInit, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let gate_env = env.clone();
    serve("admin", req, env, async |ctx, request| {
        match request.action {
            Action::Admin(action) => admin(ctx, action, request).await,
            Action::Analytics(action) => analytics(ctx, action, request).await,
            Action::Members(action) => {
                let reply = members(ctx, action, request).await?;
                if request.action.is_member_change() {
                    let user = request.optional_str("user_id", MAX_ID_LEN).ok().flatten();
                    if let Err(e) = forget(&gate_env, &ctx.identity.team_id, user).await {
                        // The gate's cache then expires within MEMBERSHIP_CACHE_SECS.
                        log(
                            "error",
                            "admin",
                            ctx.request_id,
                            &format!("telling the team's gate to forget a membership: {e}"),
                        );
                    }
                }
                Ok(reply)
            }
            other => Err(Error::internal(format!(
                "admin worker got {}",
                other.name()
            ))),
        }
    })
    .await
}

async fn forget(env: &Env, team_id: &str, user_id: Option<&str>) -> worker::Result<()> {
    let stub = env
        .durable_object("TEAM_GATE")?
        .id_from_name(team_id)?
        .get_stub()?;
    let body = serde_json::to_string(&ForgetRequest {
        user_id: user_id.map(str::to_string),
    })?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let response = stub
        .fetch_with_request(Request::new_with_init(FORGET_URL, &init)?)
        .await?;
    if response.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "gate answered {}",
            response.status_code()
        )));
    }
    Ok(())
}
