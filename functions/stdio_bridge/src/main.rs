//! `stdio_bridge` binary: configuration from `BRIDGE_*` env and `--addr`, then `serve` until
//! SIGTERM or SIGINT, which kills every child's process group before exiting.
//!
//! Before any thread starts it takes the token out of its own environment (`token`) and makes
//! itself non-dumpable; it refuses to start when it cannot sandbox children (`sandbox`).

use std::process::ExitCode;
use std::sync::Arc;
use stdio_bridge::{serve, token, Bridge, Config};
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    // Single-threaded here: the runtime starts below.
    let env_token = std::env::var("BRIDGE_TOKEN").ok();
    token::scrub_env();
    if let Err(e) = token::not_dumpable() {
        eprintln!("stdio_bridge: prctl(PR_SET_DUMPABLE, 0) failed: {e}");
        return ExitCode::from(2);
    }
    let env = |k: &str| match k {
        "BRIDGE_TOKEN" => env_token.clone(),
        _ => std::env::var(k).ok(),
    };
    let cfg = match Config::from_env_and_args(env, std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stdio_bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stdio_bridge: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cfg))
}

async fn run(cfg: Config) -> ExitCode {
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
    let bridge = match Bridge::new(cfg) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("stdio_bridge: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("stdio_bridge: sandbox mode: {}", bridge.sandbox().mode);
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
    serve(Arc::new(bridge), listener, shutdown).await;
    ExitCode::SUCCESS
}
