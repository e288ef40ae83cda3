//! mcp-edge on Cloudflare: the only crate that touches `worker::`. The core (`shared`) has no
//! `worker` dependency (scripts/test.sh asserts it with `cargo tree`), so domain code cannot
//! reach for a binding; everything here is glue: implementations of the core's storage and
//! network seams over Cloudflare bindings ([`d1`], [`kv`], [`fetch`]), the bindings themselves
//! ([`bindings`]), logging ([`log`]), the conversion of `worker::Error` into the core's error
//! ([`error`]), the shells every action worker runs in ([`shell`], [`cron`]), the gateway's side
//! of the team gate ([`limiter`]), call_tool's side of the team's execution ledger
//! ([`ledger`]), the notices other workers send the team's object ([`team_gate`]) and both
//! Durable Objects: `RateLimiter` (`rate_limiter`,
//! feature `rate-limiter`, hosted by the gateway), `StdioBridge` (`stdio_bridge`, feature
//! `stdio-bridge`, hosted by call_tool) and `Execution` (`execution`, feature `execution`,
//! hosted by call_tool: one per background execution; [`executions`] is call_tool's side). A worker crate hosts a class by enabling its feature and
//! re-exporting it (`pub use edge_cloudflare::rate_limiter::RateLimiter;`): the class's
//! wasm-bindgen exports land in every cdylib that links its code, hence the features.
//!
//! Invariants:
//! - No rule lives here: what is decided (admission, limits, SQL, redaction) is decided in
//!   `shared` and tested natively; this crate loads, asks and stores. The only SQL here is the
//!   team object's own storage: its rate-limit windows and its execution ledger
//!   (`ledger_store`; their modules say why it is not in `shared::repo`).
//! - A `worker::Error` becomes a `shared::Error` only through [`error::WorkerResultExt`] (the
//!   orphan rule forbids `impl From<worker::Error> for shared::Error` here), saying what failed.

pub mod bindings;
#[cfg(feature = "rate-limiter")]
pub mod breaker_store;
pub mod cron;
pub mod d1;
pub mod error;
pub mod event_stream;
#[cfg(feature = "execution")]
pub mod execution;
pub mod executions;
pub mod fetch;
pub mod kv;
pub mod ledger;
#[cfg(feature = "rate-limiter")]
pub mod ledger_store;
pub mod limiter;
pub mod log;
#[cfg(feature = "rate-limiter")]
pub mod rate_limiter;
pub mod shell;
#[cfg(feature = "stdio-bridge")]
pub mod stdio_bridge;
pub mod team_gate;

pub use bindings::Bindings;
pub use error::WorkerResultExt;
