//! mcp-edge core. Everything a worker does that is not binding glue lives here and runs under
//! native `cargo test`: the request contract, identity, errors, the storage seams and the
//! action logic. This crate has no `worker` dependency (scripts/test.sh asserts it with
//! `cargo tree`): the Cloudflare glue lives in `edge_cloudflare` (`shared/cloudflare`), which
//! implements the seams declared here. The MCP client, with the network seam (`HttpClient`,
//! `Clock`) and its own typed error, is the crate `mcp_client` (`shared/mcp`); its errors become
//! [`Error`] in one place (`error.rs`), its session store is the KV cache through
//! [`cache::CacheSessions`].

pub mod actions;
pub mod api;
pub mod auth;
pub mod breaker;
pub mod cache;
pub mod confirmation;
pub mod credentials;
pub mod db;
pub mod error;
pub mod gateway;
pub mod identity;
pub mod internal;
pub mod ledger;
pub mod membership;
pub mod ratelimit;
/// The one redactor lives in the MCP client crate, which scrubs upstream text at the wire.
pub use mcp_client::redact;
pub mod repo;
pub mod result_cache;
pub mod schema;
pub mod server_config;
pub mod ssrf;
pub mod stdio_spec;
mod text_enum;
pub mod time;
pub mod timing;
pub mod upstream;

pub use error::{Error, Result};
