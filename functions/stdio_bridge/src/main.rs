//! `stdio_bridge` binary: configuration from `BRIDGE_*` env and `--addr`, then `serve` until
//! SIGTERM or SIGINT, which kills every child's process group before exiting.

use std::process::ExitCode;
use std::sync::Arc;
use stdio_bridge::{serve, Bridge, Config};
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main]
async fn main() -> ExitCode {
    let cfg = match Config::from_env_and_args(|k| std::env::var(k).ok(), std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stdio_bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(cfg.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("stdio_bridge: cannot bind {}: {e}", cfg.addr);
            return ExitCode::from(1);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    eprintln!(
        "stdio_bridge: allowed commands: {}",
        if cfg.allowed_commands.is_empty() {
            "(none)".to_string()
        } else {
            cfg.allowed_commands.join(", ")
        }
    );
    // Parsed by scripts and tests that bind port 0.
    println!("stdio_bridge listening on {addr}");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    serve(Arc::new(Bridge::new(cfg)), listener, shutdown).await;
    ExitCode::SUCCESS
}
