//! A running call's notifications and its cancellation (`mcp_client::events`,
//! `McpClient::call_tool_cancellable`) against the Python SDK server's `slow` tool, which
//! reports progress and a log line every second and journals what it saw.

mod support;

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use mcp_client::events::CallEvents;
use mcp_client::native_http::NativeHttp;
use mcp_client::{CallOptions, TransportPin};
use serde_json::{json, Value};
use shared::cache::MemoryCache;
use support::{args, client, first_text, repo_root, Server};

/// One progress notification: progress, total, message.
type Progress = (f64, Option<f64>, Option<String>);

/// What the sink saw; once `cancel_after` progress notifications arrived, it fires `cancel`.
#[derive(Default)]
struct Sink {
    progress: RefCell<Vec<Progress>>,
    logs: RefCell<Vec<String>>,
    cancel_after: usize,
    cancel: RefCell<Option<oneshot::Sender<String>>>,
}

impl CallEvents for Sink {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let mut seen = self.progress.borrow_mut();
        seen.push((progress, total, message.map(str::to_string)));
        if seen.len() == self.cancel_after {
            if let Some(fire) = self.cancel.borrow_mut().take() {
                let _ = fire.send("the user cancelled it".to_string());
            }
        }
    }
    fn log(&self, level: &str, _logger: Option<&str>, data: &Value) {
        self.logs
            .borrow_mut()
            .push(format!("{level}: {}", data.as_str().unwrap_or("?")));
    }
}

fn journal_path(name: &str) -> PathBuf {
    let dir = repo_root().join("target/mcp-test-logs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.journal", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn options() -> CallOptions<'static> {
    CallOptions {
        timeout_ms: 30_000,
        ..CallOptions::default()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn progress_and_log_notifications_of_a_slow_tool_reach_the_sink_in_order() {
    let journal = journal_path("events");
    let server = Server::python(&["--journal", journal.to_str().unwrap()]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let sink = Sink::default();
    let c = client(&http, &cache, server.endpoint("/mcp", TransportPin::Auto)).with_events(&sink);

    let outcome = c
        .call_tool_with("slow", args(json!({"seconds": 3, "tag": "ok"})), options())
        .await;
    let result = outcome.result.unwrap();
    assert_eq!(first_text(&result), "slow ok done");
    let progress = sink.progress.borrow();
    let steps: Vec<f64> = progress.iter().map(|p| p.0).collect();
    assert_eq!(steps, vec![0.0, 1.0, 2.0, 3.0], "{progress:?}");
    assert!(progress.iter().all(|p| p.1 == Some(3.0)));
    assert_eq!(progress[1].2.as_deref(), Some("step 1 of 3"));
    assert_eq!(
        *sink.logs.borrow(),
        vec!["info: ok: step 0", "info: ok: step 1", "info: ok: step 2"]
    );
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap(),
        "started ok\nfinished ok\n"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_call_sends_notifications_cancelled_and_the_server_stops_the_tool() {
    cancel_on(TransportPin::StreamableHttp, "cancel-streamable").await;
}

/// 2026-07-28 cancels by closing the reply stream (no notification).
#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_stateless_call_closes_its_stream_and_the_server_stops_the_tool() {
    cancel_on(TransportPin::Stateless, "cancel-stateless").await;
}

async fn cancel_on(pin: TransportPin, name: &str) {
    let journal = journal_path(name);
    let server = Server::python(&["--journal", journal.to_str().unwrap()]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let (fire, cancelled) = oneshot::channel();
    let sink = Sink {
        cancel_after: 2,
        cancel: RefCell::new(Some(fire)),
        ..Sink::default()
    };
    let c = client(&http, &cache, server.endpoint("/mcp", pin)).with_events(&sink);

    let outcome = c
        .call_tool_cancellable(
            "slow",
            args(json!({"seconds": 30, "tag": "stop-me"})),
            options(),
            async { cancelled.await.unwrap_or_default() },
        )
        .await;
    assert!(outcome.is_none(), "a cancelled call answers nothing");
    assert_eq!(sink.progress.borrow().len(), 2);
    // The server handles the notification on its own schedule: wait for its journal.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if text.contains("cancelled stop-me") {
            assert_eq!(text, "started stop-me\ncancelled stop-me\n");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never saw the cancellation: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The session stays usable after a cancellation.
    let echo = c
        .call_tool("echo", args(json!({"message": "still here"})), 10_000)
        .await;
    assert_eq!(first_text(&echo.unwrap()), "still here");
}
