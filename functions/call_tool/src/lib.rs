//! `call_tool` worker: runs one tool upstream and records the execution (D1, KV, outbound
//! fetch); reached only through the gateway's Service Binding. Hosts the `StdioBridge` Durable
//! Object (`edge_cloudflare::stdio_bridge`).

pub use edge_cloudflare::stdio_bridge::StdioBridge;

use edge_cloudflare::shell::serve;
use shared::actions::call_tool::call_tool;
use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, context: Context) -> worker::Result<Response> {
    serve("call_tool", req, env, &context, async |ctx, request| {
        call_tool(ctx, request).await
    })
    .await
}
