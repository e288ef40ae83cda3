//! `sync_tools` worker: refreshes a team's tool catalogue from its servers (D1, KV, outbound
//! fetch); reached only through the gateway's Service Binding. Its cron triggers (see its
//! wrangler.toml) health-check every server and re-sync every catalogue.

use edge_cloudflare::cron::run_scheduled;
use edge_cloudflare::shell::serve;
use shared::actions::sync_tools::sync_tools;
use worker::{event, Context, Env, Request, Response, ScheduleContext, ScheduledEvent};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve("sync_tools", req, env, async |ctx, request| {
        sync_tools(ctx, request).await
    })
    .await
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    // Outcomes are recorded on the server rows and logged; nothing to return to a caller.
    let _ = run_scheduled(&env, &event.cron()).await;
}
