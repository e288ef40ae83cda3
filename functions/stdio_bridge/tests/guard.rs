//! Who may reach what: bearer, allow-list, sessions and keys.

mod common;

use common::*;
use serde_json::json;
use stdio_bridge::child::codes;
use stdio_bridge::LaunchSpec;

fn init_body() -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
}

#[tokio::test]
async fn health_needs_no_bearer() {
    let bridge = start().await;
    let r = reqwest::get(format!("http://{}/health", bridge.addr))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("\"ok\""));
}

#[tokio::test]
async fn missing_bearer_is_401() {
    let bridge = start().await;
    let r = reqwest::Client::new()
        .post(bridge.url("team1", "py"))
        .header("x-bridge-command", py().encode())
        .body(init_body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(bridge.bridge.child_count(), 0);
}

#[tokio::test]
async fn wrong_bearer_is_401() {
    let bridge = start().await;
    let mut c = Client::new(bridge.url("team1", "py"), &py());
    c.token = format!("{TOKEN}x");
    let r = c.post(&init_body()).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.last()["error"]["code"], codes::REJECTED);
    assert_eq!(bridge.bridge.child_count(), 0, "nothing started");
}

#[tokio::test]
async fn command_outside_the_allow_list_is_403() {
    let bridge = start().await;
    let spec = LaunchSpec {
        command: "sh".into(),
        args: vec!["-c".into(), "touch /tmp/pwned".into()],
        env: Default::default(),
    };
    let r = Client::new(bridge.url("team1", "evil"), &spec)
        .post(&init_body())
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.last()["error"]["code"], codes::NOT_ALLOWED);
    assert!(r.text.contains("allow-list"), "{r:?}");
    assert_eq!(bridge.bridge.child_count(), 0, "nothing started");
}

#[tokio::test]
async fn allowed_name_at_another_path_is_403() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("mcp-server-everything");
    std::fs::copy("/bin/sh", &fake).unwrap();
    let bridge = start().await;
    let spec = LaunchSpec {
        command: fake.to_string_lossy().into_owned(),
        args: vec![],
        env: Default::default(),
    };
    let r = Client::new(bridge.url("team1", "evil"), &spec)
        .post(&init_body())
        .await;
    assert_eq!(r.status, 403, "{r:?}");
}

#[tokio::test]
async fn spec_path_cannot_redirect_an_allowed_name() {
    // The spec's PATH reaches the child, but the command is looked up on the bridge's own path.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("mcp-server-everything");
    std::fs::write(&fake, "#!/bin/sh\nexit 42\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut spec = everything();
    spec.env.insert(
        "PATH".into(),
        format!("{}:{}", dir.path().display(), search_path()),
    );
    let bridge = start().await;
    let c = connect(&bridge, "team1", "everything", &spec).await;
    let tools = c.tool_names().await;
    assert!(
        tools.contains(&"echo".to_string()),
        "the real server answered: {tools:?}"
    );
}

#[tokio::test]
async fn bad_launch_spec_is_400() {
    let bridge = start().await;
    let mut c = Client::new(bridge.url("team1", "py"), &py());
    c.spec = "not base64 !!".into();
    assert_eq!(c.post(&init_body()).await.status, 400);
    let mut spec = py();
    spec.env.insert("LD_PRELOAD".into(), "/tmp/x.so".into());
    let c = Client::new(bridge.url("team1", "py"), &spec);
    assert_eq!(c.post(&init_body()).await.status, 400);
}

#[tokio::test]
async fn two_keys_get_separate_children() {
    let bridge = start().await;
    let a = connect(&bridge, "team-a", "py", &py()).await;
    let b = connect(&bridge, "team-b", "py", &py()).await;
    let (pa, pb) = (pid_of(&a).await, pid_of(&b).await);
    assert_ne!(pa, pb);
    assert_eq!(bridge.bridge.child_count(), 2);
    // Crashing one key's child leaves the other's alone.
    a.request("tools/call", json!({"name": "crash", "arguments": {}}))
        .await;
    assert_eq!(pid_of(&b).await, pb);
}

#[tokio::test]
async fn session_of_one_key_is_404_on_another() {
    let bridge = start().await;
    let a = connect(&bridge, "team-a", "py", &py()).await;
    let mut b = Client::new(bridge.url("team-b", "py"), &py());
    b.session = a.session.clone();
    let r = b
        .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(bridge.bridge.child_count(), 1, "team-b got no child");
}

#[tokio::test]
async fn request_without_session_is_400() {
    let bridge = start().await;
    let c = Client::new(bridge.url("team1", "py"), &py());
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
}

#[tokio::test]
async fn unknown_session_is_404() {
    let bridge = start().await;
    let mut c = Client::new(bridge.url("team1", "py"), &py());
    c.session = Some("0123456789abcdef".into());
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}

#[tokio::test]
async fn delete_ends_the_session() {
    let bridge = start().await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let r = Client::send(c.builder(reqwest::Method::DELETE)).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}

#[tokio::test]
async fn notifications_and_client_replies_get_202() {
    let bridge = start().await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let r = c
        .post(&json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}))
        .await;
    assert_eq!(r.status, 202);
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 99, "result": {}}))
        .await;
    assert_eq!(r.status, 202);
}

#[tokio::test]
async fn json_only_client_gets_json_and_sse_only_client_gets_sse() {
    let bridge = start().await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "m"}}});
    let r = Client::send(
        c.builder_accepting(reqwest::Method::POST, "application/json")
            .body(body.to_string()),
    )
    .await;
    assert!(r.content_type.starts_with("application/json"), "{r:?}");
    let r = Client::send(
        c.builder_accepting(reqwest::Method::POST, "text/event-stream")
            .body(body.to_string()),
    )
    .await;
    assert!(r.content_type.starts_with("text/event-stream"), "{r:?}");
    assert_eq!(text(&r.last()["result"]), "m");
}

#[tokio::test]
async fn oversized_request_body_is_413() {
    let bridge = start_with(|cfg| cfg.max_line_bytes = 4096).await;
    let c = connect(&bridge, "team1", "py", &py()).await;
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "z".repeat(10_000)}}}))
        .await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn env_names_that_change_how_code_loads_are_400_and_start_nothing() {
    let bridge = start().await;
    for name in [
        "NODE_OPTIONS",
        "PYTHONPATH",
        "npm_config_registry",
        "BASH_ENV",
        "UV_INDEX_URL",
    ] {
        let mut spec = py();
        spec.env.insert(name.into(), "/tmp/evil".into());
        let r = Client::new(bridge.url("team1", "py"), &spec)
            .post(&init_body())
            .await;
        assert_eq!(r.status, 400, "{name}: {r:?}");
        assert!(r.text.contains(name), "{name}: {r:?}");
    }
    assert_eq!(bridge.bridge.child_count(), 0, "nothing started");
}
