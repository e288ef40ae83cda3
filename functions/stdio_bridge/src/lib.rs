//! mcp-edge's stdio bridge: runs stdio MCP servers and exposes each as Streamable HTTP.
//!
//! `POST/DELETE /t/{team}/s/{server}/mcp` with `Authorization: Bearer <BRIDGE_TOKEN>` and the
//! launch spec in `X-Bridge-Command`; `GET /health` is open. One child per (team, server);
//! see `bridge`, `child` and `http` for the invariants, and the README for the contract.
//!
//! `start` runs a bridge in-process (tests); `serve` is what the binary runs.

pub mod bridge;
pub mod child;
pub mod config;
pub mod http;
mod lines;
mod log;
mod ring;
pub mod sandbox;
pub mod spec;
pub mod token;

pub use bridge::{Bridge, Key};
pub use config::Config;
pub use spec::{AllowList, LaunchSpec};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Serves on `listener` until `shutdown` completes, then kills every child's process group
/// and lets open connections finish (at most a few seconds).
pub async fn serve(bridge: Arc<Bridge>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let weak = Arc::downgrade(&bridge);
    let interval = bridge.reap_interval();
    let reaper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match weak.upgrade() {
                Some(b) => b.reap(),
                None => break,
            }
        }
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let b = bridge.clone();
                let conn = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(move |req| http::handle(b.clone(), req)));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    log::info!("shutting down: stopping {} children", bridge.child_count());
    reaper.abort();
    bridge.shutdown();
    // Let the children's homes be wiped and their uids released.
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while bridge.live_children() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// A bridge running in this process (for tests and embedding).
pub struct Running {
    pub addr: SocketAddr,
    pub bridge: Arc<Bridge>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Binds `cfg.addr` (port 0 picks a free port) and serves in a background task.
pub async fn start(cfg: Config) -> std::io::Result<Running> {
    let listener = TcpListener::bind(cfg.addr).await?;
    let addr = listener.local_addr()?;
    let bridge = Arc::new(Bridge::new(cfg).map_err(std::io::Error::other)?);
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(serve(bridge.clone(), listener, async {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        bridge,
        stop: Some(tx),
        task: Some(task),
    })
}

impl Running {
    /// `http://addr/t/{team}/s/{server}/mcp`
    pub fn url(&self, team: &str, server: &str) -> String {
        format!("http://{}/t/{team}/s/{server}/mcp", self.addr)
    }

    /// Stops serving and kills every child.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.bridge.shutdown();
    }
}
