//! `admin` worker: server and tool-policy management for team admins, and execution history
//! and analytics (admins: the team's; members: their own executions) (D1, KV, outbound fetch
//! for sync-on-create); reached only through the gateway's Service Binding.

use shared::actions::admin::admin;
use shared::actions::analytics::analytics;
use shared::adapters::shell::serve;
use shared::api::Action;
use shared::Error;
use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve("admin", req, env, async |ctx, request| {
        match request.action {
            Action::Admin(action) => admin(ctx, action, request).await,
            Action::Analytics(action) => analytics(ctx, action, request).await,
            other => Err(Error::internal(format!(
                "admin worker got {}",
                other.name()
            ))),
        }
    })
    .await
}
