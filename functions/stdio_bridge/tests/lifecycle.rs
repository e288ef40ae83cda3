//! Children crash, idle out, outgrow the line limit, change spec, and get cancelled.

mod common;

use common::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use stdio_bridge::child::codes;

#[tokio::test]
async fn crash_fails_the_call_with_exit_status_and_stderr_tail() {
    let bridge = start().await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let reply = c
        .request(
            "tools/call",
            json!({"name": "crash", "arguments": {"code": 3}}),
        )
        .await;
    assert_eq!(reply["error"]["code"], codes::CHILD_GONE, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("exit code 3"), "{message}");
    assert!(message.contains("crashing on purpose"), "{message}");
}

#[tokio::test]
async fn crash_fails_every_call_in_flight() {
    let bridge = start().await;
    let a = Arc::new(connect(&bridge, "team1", "py", &py()).await);
    let b = connect(&bridge, "team1", "py", &py()).await;
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move {
            a.request(
                "tools/call",
                json!({"name": "sleep", "arguments": {"seconds": 30}}),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.request("tools/call", json!({"name": "crash", "arguments": {}}))
        .await;
    let reply = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("failed promptly")
        .unwrap();
    assert_eq!(reply["error"]["code"], codes::CHILD_GONE, "{reply}");
}

#[tokio::test]
async fn crashed_child_restarts_on_the_next_call() {
    let bridge = start().await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let before = pid_of(&c).await;
    c.request("tools/call", json!({"name": "crash", "arguments": {}}))
        .await;
    wait_until("the crashed child is gone", Duration::from_secs(5), || {
        !alive(before)
    })
    .await;
    let after = pid_of(&c).await;
    assert_ne!(
        before, after,
        "a new child answered on the same HTTP session"
    );
}

#[tokio::test]
async fn crash_error_never_shows_env_values() {
    let secret = "sk-live-very-secret-value";
    let bridge = start().await;
    let c = connect(&bridge, "team1", "py", &py_with_env(&[("API_KEY", secret)])).await;
    assert_eq!(
        text(&c.call_tool("env", json!({"name": "API_KEY"})).await),
        secret
    );
    let reply = c
        .request(
            "tools/call",
            json!({"name": "crash", "arguments": {"stderr_env": "API_KEY"}}),
        )
        .await;
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("API_KEY=[redacted]"), "{message}");
    assert!(!message.contains(secret), "{message}");
}

#[tokio::test]
async fn idle_child_is_reaped_and_respawned_on_the_next_call() {
    let bridge = start_with(|cfg| cfg.idle_timeout = Duration::from_millis(600)).await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let first = pid_of(&c).await;
    wait_until("the idle child is reaped", Duration::from_secs(10), || {
        !alive(first) && bridge.bridge.child_count() == 0
    })
    .await;
    let second = pid_of(&c).await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn busy_child_is_not_reaped() {
    let bridge = start_with(|cfg| cfg.idle_timeout = Duration::from_millis(300)).await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let pid = pid_of(&c).await;
    let r = c.call_tool("sleep", json!({"seconds": 1.5})).await;
    assert_eq!(text(&r), "slept");
    assert_eq!(
        pid_of(&c).await,
        pid,
        "the child was kept while a call was in flight"
    );
}

#[tokio::test]
async fn oversized_reply_fails_only_that_call() {
    let bridge = start_with(|cfg| cfg.max_line_bytes = 64 * 1024).await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let pid = pid_of(&c).await;
    let reply = c
        .request(
            "tools/call",
            json!({"name": "big", "arguments": {"size": 300_000}}),
        )
        .await;
    assert_eq!(
        reply["error"]["code"],
        codes::TOO_LARGE,
        "{}",
        &reply.to_string()[..200.min(reply.to_string().len())]
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("65536"),
        "{reply}"
    );
    let r = c.call_tool("big", json!({"size": 1000})).await;
    assert_eq!(text(&r).len(), 1000);
    assert_eq!(pid_of(&c).await, pid, "the child survived");
}

#[tokio::test]
async fn oversized_reply_from_server_everything_fails_only_that_call() {
    // Its tools/list reply (~7.7 KB) is over the limit; its initialize reply (~2 KB) is not.
    // The TS SDK writes the id last, so this also proves the id is found at the line's tail.
    let bridge = start_with(|cfg| cfg.max_line_bytes = 4 * 1024).await;
    let c = connect(&bridge, "team1", "everything", &everything()).await;
    let reply = c.request("tools/list", json!({})).await;
    assert_eq!(reply["error"]["code"], codes::TOO_LARGE, "{reply}");
    let r = c.call_tool("echo", json!({"message": "short"})).await;
    assert!(text(&r).contains("short"));
}

#[tokio::test]
async fn changed_launch_spec_restarts_the_child() {
    let bridge = start().await;
    let mut c = connect(&bridge, "team1", "py", &py_with_env(&[("MODE", "one")])).await;
    let first = pid_of(&c).await;
    c.spec = py_with_env(&[("MODE", "two")]).encode();
    assert_eq!(
        text(&c.call_tool("env", json!({"name": "MODE"})).await),
        "two"
    );
    assert_ne!(pid_of(&c).await, first);
    wait_until("the old child is gone", Duration::from_secs(5), || {
        !alive(first)
    })
    .await;
}

#[tokio::test]
async fn client_cancel_reaches_the_child_with_the_rewritten_id() {
    let bridge = start().await;
    let c = Arc::new(connect(&bridge, "team1", "py", &py()).await);
    let call = {
        let c = c.clone();
        tokio::spawn(async move {
            c.post(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "sleep", "arguments": {"seconds": 30}}}))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = c
        .post(
            &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 7, "reason": "user gave up"}}),
        )
        .await;
    assert_eq!(r.status, 202);
    let counted = async {
        loop {
            if text(&c.call_tool("cancelled", json!({})).await) == "1" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), counted)
        .await
        .expect("the child saw the cancel");
    call.abort();
}

#[tokio::test]
async fn abandoned_http_request_cancels_the_call_in_the_child() {
    let bridge = start().await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let give_up = c
        .builder(reqwest::Method::POST)
        .timeout(Duration::from_millis(400))
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "sleep", "arguments": {"seconds": 30}}})
            .to_string(),
        )
        .send()
        .await;
    assert!(give_up.is_err(), "the client timed out");
    let counted = async {
        loop {
            if text(&c.call_tool("cancelled", json!({})).await) == "1" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), counted)
        .await
        .expect("the child saw the cancel");
}

#[tokio::test]
async fn slow_call_times_out_with_an_error() {
    let bridge = start_with(|cfg| cfg.request_timeout = Duration::from_millis(500)).await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let reply = c
        .request(
            "tools/call",
            json!({"name": "sleep", "arguments": {"seconds": 5}}),
        )
        .await;
    assert_eq!(reply["error"]["code"], codes::TIMEOUT, "{reply}");
}

#[tokio::test]
async fn failing_start_is_a_502_with_the_reason() {
    let bridge = start().await;
    let mut spec = py();
    spec.args = vec![
        "-c".into(),
        "import sys; sys.stderr.write('no server here\\n'); sys.exit(9)".into(),
    ];
    let c = Client::new(bridge.url("team1", "broken"), &spec);
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}))
        .await;
    assert_eq!(r.status, 502, "{r:?}");
    let message = r.last()["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("exit code 9") && message.contains("no server here"),
        "{message}"
    );
}
