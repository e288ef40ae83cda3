//! Every SQL statement mcp-edge runs, grouped by table. Each function takes the caller's team
//! id wherever team data is read or written: D1 has no row-level security, so these filters
//! are the isolation policy, and the native tests run them on SQLite to prove it.

pub mod analytics;
pub mod confirmations;
pub mod credentials;
pub mod executions;
pub mod members;
pub mod rollups;
pub mod servers;
pub mod tools;
pub mod webhooks;

use serde::{Deserialize, Deserializer};

/// SQLite keeps booleans as 0/1 integers.
pub(crate) fn bool_from_int<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(i64::deserialize(d)? != 0)
}

/// JSON columns are TEXT; decode them into values (NULL stays None).
pub(crate) fn json_from_text<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| serde_json::from_str(&t).map_err(serde::de::Error::custom))
        .transpose()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
