//! `list_tools` worker: read-only (D1, KV); reached only through the gateway's Service Binding.

use edge_cloudflare::shell::serve;
use shared::actions::list_tools::list_tools;
use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, context: Context) -> worker::Result<Response> {
    serve("list_tools", req, env, &context, async |ctx, request| {
        list_tools(ctx, request).await
    })
    .await
}
