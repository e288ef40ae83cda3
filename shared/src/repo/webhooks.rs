//! `team_webhooks`: a team's completion webhook (migration 0010; `crate::background::webhook`).
//! One per team; the secret is stored sealed, never in the clear.

use serde::Deserialize;

use crate::db::Database;
use crate::error::Result;
use crate::stmt;

#[derive(Debug, Clone, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub encrypted_secret: String,
    pub key_id: String,
}

/// Sets (or replaces) the team's webhook.
pub async fn set<D: Database>(
    db: &D,
    team_id: &str,
    url: &str,
    sealed: &crate::credentials::keyring::Sealed,
    created_by: &str,
    now: &str,
) -> Result<()> {
    db.execute(stmt!(
        "INSERT INTO team_webhooks (team_id, url, encrypted_secret, key_id, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (team_id) DO UPDATE SET url = excluded.url, \
         encrypted_secret = excluded.encrypted_secret, key_id = excluded.key_id, \
         created_by = excluded.created_by, created_at = excluded.created_at",
        team_id,
        url,
        sealed.value.as_str(),
        sealed.key_id.as_str(),
        created_by,
        now
    ))
    .await?;
    Ok(())
}

pub async fn get<D: Database>(db: &D, team_id: &str) -> Result<Option<Webhook>> {
    let rows: Vec<Webhook> = db
        .query_as(stmt!(
            "SELECT url, encrypted_secret, key_id FROM team_webhooks WHERE team_id = ?1",
            team_id
        ))
        .await?;
    Ok(rows.into_iter().next())
}

/// Answers whether there was one.
pub async fn delete<D: Database>(db: &D, team_id: &str) -> Result<bool> {
    let n = db
        .execute(stmt!(
            "DELETE FROM team_webhooks WHERE team_id = ?1",
            team_id
        ))
        .await?;
    Ok(n > 0)
}
