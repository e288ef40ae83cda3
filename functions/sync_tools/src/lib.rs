//! `sync_tools` worker: refreshes a team's tool catalogue from its servers (D1, KV, outbound
//! fetch); reached only through the gateway's Service Binding. Its cron triggers (see its
//! wrangler.toml) health-check every server and re-sync every catalogue. After a sync (and for
//! every team a cron run checked) it moves the team to a new configuration version
//! (`edge_cloudflare::team_gate`), so call_tool reads the changed tools at once.

use edge_cloudflare::cron::run_scheduled;
use edge_cloudflare::log::log;
use edge_cloudflare::shell::serve;
use edge_cloudflare::team_gate::config_changed;
use shared::actions::sync_tools::sync_tools;
use worker::{event, Context, Env, Request, Response, ScheduleContext, ScheduledEvent};

#[event(fetch)]
async fn fetch(req: Request, env: Env, context: Context) -> worker::Result<Response> {
    let gate_env = env.clone();
    serve("sync_tools", req, env, &context, async |ctx, request| {
        let reply = sync_tools(ctx, request).await;
        // Even a failed sync may have marked the server; the version moves either way.
        if let Err(e) = config_changed(&gate_env, &ctx.identity.team_id).await {
            log(
                "error",
                "sync_tools",
                ctx.request_id,
                &format!("telling the team's gate that its configuration changed: {e}"),
            );
        }
        reply
    })
    .await
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    // Outcomes are recorded on the server rows and logged; nothing to return to a caller.
    let _ = run_scheduled(&env, &event.cron()).await;
}
