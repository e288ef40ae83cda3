//! The bridge in front of real stdio MCP servers: list and call, progress over SSE.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn server_everything_lists_and_calls_tools() {
    let bridge = start().await;
    let c = connect(&bridge, "team1", "everything", &everything()).await;
    let tools = c.tool_names().await;
    assert!(
        tools.contains(&"echo".to_string()) && tools.contains(&"get-sum".to_string()),
        "{tools:?}"
    );
    let r = c
        .call_tool("echo", json!({"message": "hello bridge"}))
        .await;
    assert!(text(&r).contains("hello bridge"), "{r}");
    let r = c.call_tool("get-sum", json!({"a": 2, "b": 40})).await;
    assert!(text(&r).contains("42"), "{r}");
}

#[tokio::test]
async fn server_filesystem_lists_and_reads_a_file() {
    let dir = shared_tempdir();
    let dir_path = dir.path().canonicalize().unwrap();
    std::fs::write(dir_path.join("note.txt"), "bridged file content").unwrap();
    let bridge = start().await;
    let c = connect(&bridge, "team1", "fs", &filesystem(&dir_path)).await;
    let tools = c.tool_names().await;
    assert!(tools.contains(&"read_text_file".to_string()), "{tools:?}");
    let r = c
        .call_tool(
            "read_text_file",
            json!({"path": dir_path.join("note.txt").to_string_lossy()}),
        )
        .await;
    assert_eq!(text(&r), "bridged file content");
    let r = c
        .call_tool(
            "list_directory",
            json!({"path": dir_path.to_string_lossy()}),
        )
        .await;
    assert!(text(&r).contains("note.txt"), "{r}");
}

#[tokio::test]
async fn python_sdk_server_lists_and_calls_tools() {
    let bridge = start().await;
    let mut c = Client::new(bridge.url("team1", "py"), &py());
    let init = c.initialize().await;
    assert_eq!(init["serverInfo"]["name"], "mcp-edge-py-stdio-test-server");
    let tools = c.tool_names().await;
    assert!(tools.contains(&"add".to_string()), "{tools:?}");
    let r = c.call_tool("add", json!({"a": 20, "b": 22})).await;
    assert_eq!(text(&r), "42");
    assert_eq!(r["structuredContent"]["result"], 42);
}

#[tokio::test]
async fn progress_notifications_stream_over_sse_with_the_callers_token() {
    let bridge = start().await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let r = c
        .post(&json!({
            "jsonrpc": "2.0", "id": "call-1", "method": "tools/call",
            "params": {"name": "progress", "arguments": {"steps": 3}, "_meta": {"progressToken": "my-token"}},
        }))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/event-stream"), "{r:?}");
    assert_eq!(r.messages.len(), 4, "3 progress + reply: {r:?}");
    for (i, m) in r.messages[..3].iter().enumerate() {
        assert_eq!(m["method"], "notifications/progress");
        assert_eq!(m["params"]["progressToken"], "my-token");
        assert_eq!(m["params"]["progress"], json!(i + 1));
    }
    assert_eq!(r.messages[3]["id"], "call-1");
    assert_eq!(text(&r.messages[3]["result"]), "done");
}

#[tokio::test]
async fn each_session_gets_the_cached_initialize_result_from_one_child() {
    let bridge = start().await;
    let mut a = Client::new(bridge.url("team1", "py"), &py());
    let mut b = Client::new(bridge.url("team1", "py"), &py());
    let ia = a.initialize().await;
    let ib = b.initialize().await;
    assert_eq!(ia, ib);
    assert_ne!(a.session, b.session);
    assert_eq!(pid_of(&a).await, pid_of(&b).await);
    assert_eq!(bridge.bridge.child_count(), 1);
}
