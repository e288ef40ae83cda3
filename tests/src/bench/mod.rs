//! Shared pieces of the benchmark and load binaries (`src/bin/bench_gateway.rs`,
//! `src/bin/load_teams.rs`): sampling and percentiles, the direct MCP baseline, the
//! `Server-Timing` reader and the gap it cuts into parts, the `/mcp` client, the local workerd's inner port, the ContextForge peer, the seeding
//! of many teams, the runtime's trace store and the capacity model's arithmetic. Nothing here
//! asserts a timing: the binaries print figures beside baselines measured in the same run.

pub mod contextforge;
pub mod direct;
pub mod gap;
pub mod mcp;
pub mod model;
pub mod server_timing;
pub mod stats;
pub mod teams;
pub mod traces;
pub mod workerd;
