//! Many callers on one child: each gets exactly its own replies.

mod common;

use common::*;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn concurrent_calls_from_sessions_with_equal_ids_get_their_own_replies() {
    let bridge = start().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(Arc::new(connect(&bridge, "team1", "py", &py()).await));
    }
    let mut tasks = Vec::new();
    for (s, c) in clients.iter().enumerate() {
        for n in 0..8u64 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                // Every session uses the same ids (100 + n); later calls finish first.
                let id = 100 + n;
                let message = format!("session {s} call {n}");
                let delay = 0.02 * ((8 - n) as f64);
                let r = c
                    .post(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                        "params": {"name": "echo_after", "arguments": {"message": message, "delay": delay}}}))
                    .await;
                assert_eq!(r.status, 200, "{r:?}");
                assert_eq!(r.last()["id"], json!(id));
                assert_eq!(text(&r.last()["result"]), message);
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        bridge.bridge.child_count(),
        1,
        "all sessions shared one child"
    );
}

#[tokio::test]
async fn replies_that_overtake_each_other_are_matched_by_id() {
    let bridge = start().await;
    let c = Arc::new(connect(&bridge, "team1", "py", &py()).await);
    let slow = {
        let c = c.clone();
        tokio::spawn(async move {
            c.call_tool("echo_after", json!({"message": "slow", "delay": 0.8}))
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let fast = c
        .call_tool("echo_after", json!({"message": "fast", "delay": 0.0}))
        .await;
    assert_eq!(text(&fast), "fast");
    assert!(
        !slow.is_finished(),
        "the fast reply came back while the slow call was still running"
    );
    assert_eq!(text(&slow.await.unwrap()), "slow");
}

#[tokio::test]
async fn concurrent_first_calls_start_one_child() {
    let bridge = Arc::new(start().await);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let bridge = bridge.clone();
        tasks.push(tokio::spawn(async move {
            pid_of(&connect(&bridge, "team1", "py", &py()).await).await
        }));
    }
    let mut pids = Vec::new();
    for t in tasks {
        pids.push(t.await.unwrap());
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 1, "one child for the key: {pids:?}");
    assert_eq!(bridge.bridge.child_count(), 1);
}

#[tokio::test]
async fn server_everything_answers_concurrent_calls_on_one_child() {
    let bridge = start().await;
    let c = Arc::new(connect(&bridge, "team1", "everything", &everything()).await);
    let mut tasks = Vec::new();
    for n in 0..20i64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.call_tool("get-sum", json!({"a": n, "b": 1000})).await;
            assert!(text(&r).contains(&(n + 1000).to_string()), "call {n}: {r}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(bridge.bridge.child_count(), 1);
}
