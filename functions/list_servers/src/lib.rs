//! `list_servers` worker: read-only (D1, KV); reached only through the gateway's Service Binding.

use edge_cloudflare::shell::serve;
use shared::actions::list_servers::list_servers;
use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, context: Context) -> worker::Result<Response> {
    serve("list_servers", req, env, &context, async |ctx, _request| {
        list_servers(ctx).await
    })
    .await
}
