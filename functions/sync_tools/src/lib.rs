//! `sync_tools` worker: refreshes a team's tool catalogue from its servers (D1, KV, outbound
//! fetch); reached only through the gateway's Service Binding.

use shared::actions::sync_tools::sync_tools;
use shared::adapters::shell::serve;
use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve("sync_tools", req, env, async |ctx, request| {
        sync_tools(ctx, request).await
    })
    .await
}
