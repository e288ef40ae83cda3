//! `admin` worker: server and tool-policy management for team admins, the connector catalogue
//! (`list_connectors`, members too), team membership, and
//! execution history and analytics (admins: the team's; members: their own executions) (D1,
//! KV, outbound fetch for sync-on-create); reached only through the gateway's Service Binding.
//! After a change it tells the team's object (binding `TEAM_GATE`; `edge_cloudflare::team_gate`)
//! so that the change takes effect at once: a membership change drops the user's cached role,
//! an admin action that may change the configuration (`AdminAction::changes_config`) moves the
//! team to a new version (call_tool's cached call targets are read again). Before a read of
//! executions or analytics it asks the object to flush its ledger, so the read sees every
//! call that has ended (`shared::ledger::DEFAULT_FLUSH_DELAY_MS`).

use edge_cloudflare::log::log;
use edge_cloudflare::shell::serve;
use edge_cloudflare::team_gate::{config_changed, flush_ledger, forget_member};
use shared::actions::admin::{admin, list_connectors};
use shared::actions::analytics::analytics;
use shared::actions::members::members;
use shared::api::{Action, MAX_ID_LEN};
use shared::Error;
use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, context: Context) -> worker::Result<Response> {
    let gate_env = env.clone();
    serve("admin", req, env, &context, async |ctx, request| {
        let team = ctx.identity.team_id.as_str();
        let notice = |what: &str, e: Error| {
            // What the object caches then expires on its own (see team_gate).
            log(
                "error",
                "admin",
                ctx.request_id,
                &format!("telling the team's gate {what}: {e}"),
            );
        };
        match request.action {
            Action::Admin(action) => {
                let reply = admin(ctx, action, request).await?;
                if !action.changes_config() {
                    return Ok(reply);
                }
                if let Err(e) = config_changed(&gate_env, team).await {
                    notice("that its configuration changed", e);
                }
                Ok(reply)
            }
            Action::ListConnectors => Ok(list_connectors(ctx)),
            Action::Analytics(action) => {
                if let Err(e) = flush_ledger(&gate_env, team).await {
                    // The read then lags by at most the ledger's flush delay.
                    notice("to flush its ledger", e);
                }
                analytics(ctx, action, request).await
            }
            Action::Members(action) => {
                let reply = members(ctx, action, request).await?;
                if request.action.is_member_change() {
                    let user = request.optional_str("user_id", MAX_ID_LEN).ok().flatten();
                    if let Err(e) = forget_member(&gate_env, team, user).await {
                        notice("to forget a membership", e);
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
