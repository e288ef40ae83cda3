//! The requestor side of MCP tasks (2025-11-25; `mcp_client::tasks`) against real servers: the
//! TypeScript SDK's experimental tasks API (`tests/servers/task_server.mjs`, which journals
//! each request it gets) and, for a server without tasks, the Python SDK server.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use mcp_client::native_http::NativeHttp;
use mcp_client::tasks::{Started, TaskMethod, TaskState, TaskStatus, TaskSupport};
use mcp_client::TransportPin;
use serde_json::json;
use shared::cache::MemoryCache;
use support::{args, client, first_text, Server};

const BUDGET_MS: u64 = 10_000;

fn task_server() -> (Server, PathBuf) {
    let journal = std::env::temp_dir().join(format!(
        "mcp-edge-native-tasks-{}-{}",
        std::process::id(),
        support::free_port()
    ));
    let _ = std::fs::remove_file(&journal);
    let server = Server::node(
        "tests/servers/task_server.mjs",
        &["--journal", journal.to_str().unwrap(), "--poll-ms", "100"],
    );
    (server, journal)
}

fn journal_lines(journal: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_task_capable_tool_runs_as_a_task_polled_to_its_result() {
    let (server, journal) = task_server();
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(&http, &cache, server.endpoint("/mcp", TransportPin::Auto));
    assert_eq!(
        c.tool_task_support("research", BUDGET_MS).await.unwrap(),
        TaskSupport::Required
    );
    assert_eq!(
        c.tool_task_support("plain", BUDGET_MS).await.unwrap(),
        TaskSupport::Forbidden
    );
    let started = c
        .start_tool_task(
            "research",
            args(json!({"topic": "rust", "seconds": 0.3})),
            60_000,
            BUDGET_MS,
        )
        .await
        .unwrap();
    let Started::Task(mut task) = started else {
        panic!("a task: {started:?}")
    };
    assert_eq!(task.status, TaskStatus::Working);
    assert_eq!(task.poll_delay_ms(), 100, "the server's pollInterval");
    while !task.status.is_terminal() {
        tokio::time::sleep(Duration::from_millis(task.poll_delay_ms())).await;
        let got = c
            .task_request(TaskMethod::Get, &task.task_id, BUDGET_MS)
            .await
            .unwrap();
        task = TaskState::parse(&got).unwrap();
    }
    assert_eq!(task.status, TaskStatus::Completed);
    let result = c
        .task_request(TaskMethod::Result, &task.task_id, BUDGET_MS)
        .await
        .unwrap();
    assert_eq!(first_text(&result), "research rust done");
    let lines = journal_lines(&journal);
    let id = &task.task_id;
    assert!(lines.contains(&format!("tasks/get {id}")), "{lines:?}");
    assert!(lines.contains(&format!("tasks/result {id}")), "{lines:?}");
    assert_eq!(lines.iter().filter(|l| *l == "tools/call").count(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn tasks_cancel_reaches_the_server_and_cancels_the_task() {
    let (server, journal) = task_server();
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(&http, &cache, server.endpoint("/mcp", TransportPin::Auto));
    let Started::Task(task) = c
        .start_tool_task(
            "research",
            args(json!({"topic": "long", "seconds": 60})),
            60_000,
            BUDGET_MS,
        )
        .await
        .unwrap()
    else {
        panic!("a task")
    };
    let cancelled = c
        .task_request(TaskMethod::Cancel, &task.task_id, BUDGET_MS)
        .await
        .unwrap();
    assert_eq!(
        TaskState::parse(&cancelled).unwrap().status,
        TaskStatus::Cancelled
    );
    let lines = journal_lines(&journal);
    assert!(
        lines.contains(&format!("tasks/cancel {}", task.task_id)),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_without_tasks_forbids_them_and_a_warm_session_asks_nothing() {
    let server = Server::python(&["--transport", "streamable-http"]);
    let (http, cache) = (NativeHttp::new(), MemoryCache::new());
    let c = client(
        &http,
        &cache,
        server.endpoint("/mcp", TransportPin::StreamableHttp),
    );
    assert_eq!(
        c.tool_task_support("echo", BUDGET_MS).await.unwrap(),
        TaskSupport::Forbidden
    );
    let before = c.upstream_requests();
    assert_eq!(
        c.tool_task_support("echo", BUDGET_MS).await.unwrap(),
        TaskSupport::Forbidden
    );
    assert_eq!(c.upstream_requests(), before, "the stored session answered");
}
