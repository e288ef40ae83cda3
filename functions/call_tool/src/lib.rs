//! `call_tool` worker: runs one tool upstream and records the execution (D1, KV, outbound
//! fetch); reached only through the gateway's Service Binding. Serves the background
//! executions' actions too (`get_execution`, `watch_execution`, `cancel_execution`), and hosts
//! the `StdioBridge` and `Execution` Durable Objects (`edge_cloudflare::stdio_bridge`,
//! `edge_cloudflare::execution`).

pub use edge_cloudflare::execution::Execution;
pub use edge_cloudflare::stdio_bridge::StdioBridge;

use edge_cloudflare::executions;
use edge_cloudflare::shell::{serve_answer, Answer};
use shared::actions::analytics::get_execution;
use shared::actions::call_tool::call_tool;
use shared::api::{Action, BackgroundAction};
use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, context: Context) -> worker::Result<Response> {
    let bindings = env.clone();
    serve_answer("call_tool", req, env, &context, async |ctx, request| {
        let (who, id) = (ctx.identity, ctx.request_id);
        match request.action {
            Action::Background(BackgroundAction::WatchExecution) => {
                executions::watch(&bindings, who, request, id).await
            }
            Action::Background(BackgroundAction::CancelExecution) => {
                executions::cancel(&bindings, who, request, id)
                    .await
                    .map(Answer::Reply)
            }
            Action::Background(BackgroundAction::AnswerExecution) => {
                executions::answer(&bindings, who, request, id)
                    .await
                    .map(Answer::Reply)
            }
            Action::Analytics(_) => match executions::state(&bindings, who, request, id).await? {
                Some(reply) => Ok(Answer::Reply(reply)),
                None => get_execution(ctx, request).await.map(Answer::Reply),
            },
            _ => call_tool(ctx, request).await.map(Answer::Reply),
        }
    })
    .await
}
