//! `mcp_confirmations_used`: the ids of redeemed confirmation tokens (single use).
//!
//! Invariant: [`redeem`] succeeds at most once per token id, whatever the concurrency: the
//! insert is the check (primary key), and D1 is strongly consistent.

use crate::db::Database;
use crate::error::Result;
use crate::stmt;

pub struct Redemption<'a> {
    pub token_id: &'a str,
    pub team_id: &'a str,
    pub user_id: &'a str,
    pub server_id: &'a str,
    pub tool_name: &'a str,
    pub expires_at: &'a str,
    pub now: &'a str,
}

/// Marks a token used; `false` when it already was. Drops the team's expired rows too.
pub async fn redeem<D: Database>(db: &D, r: Redemption<'_>) -> Result<bool> {
    let sweep = stmt!(
        "DELETE FROM mcp_confirmations_used WHERE team_id = ?1 AND expires_at < ?2",
        r.team_id,
        r.now
    );
    let insert = stmt!(
        "INSERT INTO mcp_confirmations_used (token_id, team_id, user_id, server_id, tool_name, expires_at, used_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (token_id) DO NOTHING",
        r.token_id,
        r.team_id,
        r.user_id,
        r.server_id,
        r.tool_name,
        r.expires_at,
        r.now
    );
    let changes = db.batch(vec![sweep, insert]).await?;
    Ok(changes.last().copied() == Some(1))
}
