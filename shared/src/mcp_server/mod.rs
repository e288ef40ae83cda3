//! The team's tools as an MCP server (the gateway's `/mcp` and `/mcp/servers/<name>`): the
//! protocol decisions, free of I/O. The gateway authenticates, picks the team, asks the team's
//! gate and gives [`dispatch::respond`] a [`dispatch::Backend`] that forwards `list_tools` and
//! `call_tool` to the action workers, so an MCP call is a `call_tool` in every respect (rate
//! limit, argument validation, execution row, breaker, retries, redaction, confirmation).
//!
//! Invariants:
//! - Stateless: no session id is issued and none is kept; any isolate answers any request
//!   (the handshake only negotiates a version, every request is checked on its own). The one
//!   thing kept past a request is in KV, not an isolate: a streamed call's execution id under
//!   the caller's request id, for a later `notifications/cancelled` ([`relay`]). The
//!   standalone `GET` stream ([`listen`]) is held by the request that opened it and fed by
//!   the team's object; nothing records who listens.
//! - Tool names on `/mcp` come from [`crate::tool_names`] (the same names `list_tools` with a
//!   `format` gives); on `/mcp/servers/<name>` they are the server's own.
//! - Every failure is a JSON-RPC error with an HTTP status ([`message::rpc_error`], the one
//!   mapping from [`crate::Error`]); a tool that ran and failed, refused arguments or needs a
//!   confirmation is a tool result with `isError`, for the model to read.

pub mod confirm;
pub mod dispatch;
pub mod listen;
pub mod message;
pub mod origin;
pub mod path;
pub mod relay;
pub mod version;
