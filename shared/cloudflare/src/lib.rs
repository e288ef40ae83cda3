//! The only code that touches `worker::`: implementations of the storage and network seams over
//! Cloudflare bindings, logging, and the shared shell every action worker runs in.

pub mod cron;
pub mod d1;
pub mod fetch;
pub mod kv;
pub mod log;
pub mod shell;
