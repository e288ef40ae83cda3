//! `mcp_server_credentials`: one sealed credential per server (see `crate::credentials`).
//!
//! Invariants:
//! - Rows hold ciphertext, the id of the key that sealed it and non-secret attributes only.
//! - Every statement filters by the caller's team; the server's team was checked by the
//!   caller ([`servers::get`](super::servers::get)) before a write.
//! - Re-sealing ([`replace_sealed`]) only replaces the exact value it read, so a concurrent
//!   `set_credential` is never overwritten by a rotation.
//! - A value is bound to its server's destination (see `crate::credentials`); `update_server`
//!   [`delete`]s it when the destination changes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::credentials::Binding;
use crate::db::{Database, Statement};
use crate::error::Result;
use crate::redact::Hidden;
use crate::stmt;

/// `Debug` leaves out the sealed value.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCredential {
    pub id: String,
    pub server_id: String,
    pub team_id: String,
    pub credential_type: String,
    /// base64(nonce || ciphertext || tag)
    pub encrypted_value: String,
    pub key_id: String,
    pub header_name: Option<String>,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("id", &self.id)
            .field("server_id", &self.server_id)
            .field("team_id", &self.team_id)
            .field("credential_type", &self.credential_type)
            .field("encrypted_value", &Hidden)
            .field("key_id", &self.key_id)
            .field("header_name", &self.header_name)
            .field("expires_at", &self.expires_at)
            .field("last_used_at", &self.last_used_at)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl StoredCredential {
    /// What this row's value is bound to, given its server's current `destination`
    /// ([`crate::credentials::destination_of`]).
    pub fn binding<'a>(&'a self, destination: &'a str) -> Binding<'a> {
        Binding {
            team_id: &self.team_id,
            server_id: &self.server_id,
            credential_type: &self.credential_type,
            header_name: self.header_name.as_deref(),
            expires_at: self.expires_at.as_deref(),
            destination,
        }
    }

    /// What an admin may see: that one is set, its type and attributes, never the value.
    pub fn public_json(&self) -> Value {
        json!({
            "is_set": true,
            "credential_type": self.credential_type,
            "header_name": self.header_name,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "key_id": self.key_id,
            "updated_at": self.updated_at,
        })
    }

    /// Identifies this exact credential value for cache keys (changes whenever it is set).
    pub fn scope(&self) -> String {
        format!("{}@{}", self.id, self.updated_at)
    }
}

macro_rules! select_credentials {
    ($tail:literal) => {
        concat!(
            "SELECT id, server_id, team_id, credential_type, encrypted_value, key_id, header_name, \
             expires_at, last_used_at, created_at, updated_at FROM mcp_server_credentials ",
            $tail
        )
    };
}

pub async fn for_server<D: Database>(
    db: &D,
    team_id: &str,
    server_id: &str,
) -> Result<Option<StoredCredential>> {
    db.query_one(for_server_stmt(team_id, server_id)).await
}

/// The read of [`for_server`] (for reads batched with others).
pub fn for_server_stmt(team_id: &str, server_id: &str) -> Statement {
    const SQL: &str = select_credentials!("WHERE team_id = ?1 AND server_id = ?2");
    stmt!(SQL, team_id, server_id)
}

pub async fn list_for_team<D: Database>(db: &D, team_id: &str) -> Result<Vec<StoredCredential>> {
    const SQL: &str = select_credentials!("WHERE team_id = ?1 ORDER BY server_id");
    db.query_as(stmt!(SQL, team_id)).await
}

pub struct NewSealed<'a> {
    pub id: &'a str,
    pub team_id: &'a str,
    pub server_id: &'a str,
    pub credential_type: &'a str,
    pub encrypted_value: &'a str,
    pub key_id: &'a str,
    pub header_name: Option<&'a str>,
    pub expires_at: Option<&'a str>,
    pub now: &'a str,
}

/// Sets the server's credential, replacing any previous one (its use history starts over).
pub async fn upsert<D: Database>(db: &D, c: NewSealed<'_>) -> Result<()> {
    db.execute(stmt!(
        "INSERT INTO mcp_server_credentials (id, server_id, team_id, credential_type, encrypted_value, key_id, \
         header_name, expires_at, last_used_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?9) \
         ON CONFLICT (server_id) DO UPDATE SET credential_type = excluded.credential_type, \
         encrypted_value = excluded.encrypted_value, key_id = excluded.key_id, \
         header_name = excluded.header_name, expires_at = excluded.expires_at, last_used_at = NULL, \
         updated_at = excluded.updated_at WHERE mcp_server_credentials.team_id = excluded.team_id",
        c.id,
        c.server_id,
        c.team_id,
        c.credential_type,
        c.encrypted_value,
        c.key_id,
        c.header_name,
        c.expires_at,
        c.now
    ))
    .await?;
    Ok(())
}

/// Deletes the server's credential; answers whether there was one.
pub async fn delete<D: Database>(db: &D, team_id: &str, server_id: &str) -> Result<bool> {
    let changed = db
        .execute(stmt!(
            "DELETE FROM mcp_server_credentials WHERE team_id = ?1 AND server_id = ?2",
            team_id,
            server_id
        ))
        .await?;
    Ok(changed > 0)
}

/// Records that the credential went into an upstream request.
pub async fn touch<D: Database>(db: &D, team_id: &str, id: &str, now: &str) -> Result<()> {
    db.execute(stmt!(
        "UPDATE mcp_server_credentials SET last_used_at = ?3 WHERE team_id = ?1 AND id = ?2",
        team_id,
        id,
        now
    ))
    .await?;
    Ok(())
}

/// Replaces a value re-sealed under another key, only if it is still the value read.
pub async fn replace_sealed<D: Database>(
    db: &D,
    current: &StoredCredential,
    encrypted_value: &str,
    key_id: &str,
) -> Result<bool> {
    let changed = db
        .execute(stmt!(
            "UPDATE mcp_server_credentials SET encrypted_value = ?4, key_id = ?5 \
             WHERE team_id = ?1 AND id = ?2 AND encrypted_value = ?3",
            current.team_id.as_str(),
            current.id.as_str(),
            current.encrypted_value.as_str(),
            encrypted_value,
            key_id
        ))
        .await?;
    Ok(changed == 1)
}
