//! mcp-edge core. Everything a worker does that is not binding glue lives here and runs under
//! native `cargo test`: the request contract, identity, errors, the storage and network seams,
//! the MCP client and the action logic. This crate has no `worker` dependency (scripts/test.sh
//! asserts it with `cargo tree`): the Cloudflare glue lives in `edge_cloudflare`
//! (`shared/cloudflare`), which implements the seams declared here.

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
pub mod http;
pub mod identity;
pub mod internal;
pub mod mcp;
pub mod membership;
pub mod ratelimit;
pub mod redact;
pub mod repo;
pub mod result_cache;
pub mod schema;
pub mod server_config;
pub mod ssrf;
pub mod time;

#[cfg(feature = "native")]
pub mod native_http;

pub use error::{Error, Result};
