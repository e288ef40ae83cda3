//! mcp-edge core. Everything a worker does that is not binding glue lives here and runs under
//! native `cargo test`: the request contract, identity, errors, the storage seams and the
//! action logic. This crate has no `worker` dependency (scripts/test.sh asserts it with
//! `cargo tree`): the Cloudflare glue lives in `edge_cloudflare` (`shared/cloudflare`), which
//! implements the seams declared here. The MCP client, with the network seam (`HttpClient`,
//! `Clock`) and its own typed error, is the crate `mcp_client` (`shared/mcp`); its errors become
//! [`Error`] in one place (`error.rs`), its session store is the KV cache through
//! [`cache::CacheSessions`], and its redactor is the one redactor ([`redact`], re-exported).
//!
//! Layout: [`api`] the request contract, [`error`] the one error and its HTTP mapping,
//! [`auth`] JWT verification, [`identity`] and [`membership`] who acts in which team,
//! [`gateway`] the gateway's decisions, [`internal`] the signed gateway → worker envelope,
//! [`ratelimit`] the limits' arithmetic, [`db`] and [`cache`] the storage seams, [`repo`] all
//! SQL, [`credentials`] sealing at rest, [`server_config`] and [`ssrf`] where a server may be,
//! [`stdio_spec`] the stdio bridge's contract, [`schema`] argument validation, [`confirmation`]
//! and [`result_cache`] per-tool policy, [`breaker`] the circuit breaker, [`upstream`] how an
//! action reaches a server, [`call_target`] a call's target in one read and its isolate cache,
//! [`ledger`] where calls are recorded and how they reach D1, [`actions`] what each action
//! worker does, [`timing`] the `Server-Timing` stages, [`time`] timestamps.

pub mod action_log;
pub mod actions;
pub mod api;
pub mod auth;
pub mod background;
pub mod breaker;
pub mod cache;
pub mod call_target;
pub mod confirmation;
pub mod connectors;
pub mod credentials;
pub mod db;
pub mod error;
pub mod gateway;
pub mod gemini_schema;
pub mod identity;
pub mod internal;
pub mod ledger;
pub mod mcp_server;
pub mod membership;
pub mod per_isolate;
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
pub mod tool_formats;
pub mod tool_names;
pub mod trace;
pub mod upstream;

pub use error::{Error, Result};
