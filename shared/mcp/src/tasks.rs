//! The tasks utility of MCP 2025-11-25 (experimental in the spec), requestor side, for
//! `tools/call`: a server that advertises `capabilities.tasks.requests.tools.call` may take a
//! call as a task (`tools/call` with `task: {ttl}`) and answer a `CreateTaskResult` at once;
//! the requestor polls `tasks/get` (within the task's `pollInterval`), fetches the result
//! with `tasks/result` once the task is terminal, and may `tasks/cancel` it. The task lives on
//! the server: a requestor that restarts resumes by its id. This file is the data (parsing
//! and the polling rule); `McpClient` sends the requests.
//!
//! Invariants:
//! - A call goes as a task only when the server advertised task-augmented `tools/call` in
//!   this session's `initialize` and the tool's `execution.taskSupport` is `optional` or
//!   `required` (absent: `forbidden`, as the spec says).
//! - The poll delay is the server's `pollInterval`, else [`DEFAULT_POLL_MS`], kept within
//!   [`MIN_POLL_MS`]..=[`MAX_POLL_MS`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The delay between polls when the task suggests none.
pub const DEFAULT_POLL_MS: u64 = 1_000;
/// Never poll faster than this, whatever the server suggests.
pub const MIN_POLL_MS: u64 = 100;
/// Never wait longer than this between polls.
pub const MAX_POLL_MS: u64 = 30_000;
/// The `ttl` we ask for a task: one hour (the longest background budget).
pub const TASK_TTL_MS: u64 = 3_600_000;

/// A tool's `execution.taskSupport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSupport {
    Forbidden,
    Optional,
    Required,
}

impl TaskSupport {
    pub fn of_tool(tool: &Value) -> TaskSupport {
        match tool["execution"]["taskSupport"].as_str() {
            Some("optional") => TaskSupport::Optional,
            Some("required") => TaskSupport::Required,
            _ => TaskSupport::Forbidden,
        }
    }

    pub fn as_task(self) -> bool {
        self != TaskSupport::Forbidden
    }
}

/// Whether `capabilities` (an `initialize` result's) advertise task-augmented `tools/call`.
pub fn offers_tool_tasks(capabilities: &Value) -> bool {
    capabilities["tasks"]["requests"]["tools"]["call"].is_object()
}

/// The task support of tool `name` in one `tools/list` page, if the page lists it.
pub fn support_in_page(page: &Value, name: &str) -> Option<TaskSupport> {
    page["tools"]
        .as_array()?
        .iter()
        .find(|t| t["name"].as_str() == Some(name))
        .map(TaskSupport::of_tool)
}

/// A task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// What a requestor needs of a `Task`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub task_id: String,
    pub status: TaskStatus,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub poll_interval_ms: Option<u64>,
}

impl TaskState {
    /// A `Task` object (`tasks/get`'s result, or `CreateTaskResult.task`).
    pub fn parse(task: &Value) -> Result<TaskState, String> {
        let task_id = task["taskId"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or("the task has no taskId")?
            .to_string();
        let status = serde_json::from_value(task["status"].clone())
            .map_err(|_| format!("the task's status {} is not a task status", task["status"]))?;
        Ok(TaskState {
            task_id,
            status,
            status_message: task["statusMessage"].as_str().map(str::to_string),
            poll_interval_ms: task["pollInterval"].as_u64(),
        })
    }

    /// How long to wait before the next `tasks/get`.
    pub fn poll_delay_ms(&self) -> u64 {
        self.poll_interval_ms
            .unwrap_or(DEFAULT_POLL_MS)
            .clamp(MIN_POLL_MS, MAX_POLL_MS)
    }
}

/// The answer to a task-augmented `tools/call`.
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    /// The server took it as a task.
    Task(TaskState),
    /// The server answered the call directly (a `CallToolResult`).
    Answered(Value),
}

/// Reads a task-augmented `tools/call`'s result.
pub fn started(result: &Value) -> Result<Started, String> {
    match result.get("task") {
        Some(task) => TaskState::parse(task).map(Started::Task),
        None if result.is_object() => Ok(Started::Answered(result.clone())),
        None => Err("the server's result is not an object".into()),
    }
}

/// The `tasks/*` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskMethod {
    Get,
    Result,
    Cancel,
}

impl TaskMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskMethod::Get => "tasks/get",
            TaskMethod::Result => "tasks/result",
            TaskMethod::Cancel => "tasks/cancel",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_an_advertised_capability_and_a_task_capable_tool_make_a_task() {
        assert!(offers_tool_tasks(
            &json!({"tasks": {"requests": {"tools": {"call": {}}}, "cancel": {}}})
        ));
        assert!(!offers_tool_tasks(&json!({"tasks": {"list": {}}})));
        assert!(!offers_tool_tasks(&json!({})));
        let page = json!({"tools": [
            {"name": "research", "execution": {"taskSupport": "required"}},
            {"name": "maybe", "execution": {"taskSupport": "optional"}},
            {"name": "plain", "execution": {"taskSupport": "forbidden"}},
            {"name": "old"},
        ]});
        assert_eq!(
            support_in_page(&page, "research"),
            Some(TaskSupport::Required)
        );
        assert_eq!(support_in_page(&page, "maybe"), Some(TaskSupport::Optional));
        assert_eq!(
            support_in_page(&page, "plain"),
            Some(TaskSupport::Forbidden)
        );
        assert_eq!(support_in_page(&page, "old"), Some(TaskSupport::Forbidden));
        assert_eq!(support_in_page(&page, "absent"), None);
    }

    #[test]
    fn a_created_task_or_a_direct_answer_is_read_and_polled_within_bounds() {
        let created = json!({"task": {"taskId": "t1", "status": "working", "ttl": 60000,
            "createdAt": "2025-11-25T00:00:00Z", "lastUpdatedAt": "2025-11-25T00:00:00Z",
            "pollInterval": 300}});
        let Started::Task(task) = started(&created).unwrap() else {
            panic!("a task")
        };
        assert_eq!(task.task_id, "t1");
        assert_eq!(task.status, TaskStatus::Working);
        assert_eq!(task.poll_delay_ms(), 300);
        assert!(!task.status.is_terminal());
        let plain = json!({"content": []});
        assert_eq!(started(&plain).unwrap(), Started::Answered(plain.clone()));
        assert!(started(&json!({"task": {"status": "working"}})).is_err());
        assert!(started(&json!({"task": {"taskId": "t", "status": "sleeping"}})).is_err());

        let got = TaskState::parse(&json!({"taskId": "t", "status": "input_required"})).unwrap();
        assert_eq!(got.status, TaskStatus::InputRequired);
        assert_eq!(got.poll_delay_ms(), DEFAULT_POLL_MS);
        let fast =
            TaskState::parse(&json!({"taskId": "t", "status": "completed", "pollInterval": 1}));
        assert_eq!(fast.unwrap().poll_delay_ms(), MIN_POLL_MS);
        let slow =
            TaskState::parse(&json!({"taskId": "t", "status": "failed", "pollInterval": 999999}));
        assert_eq!(slow.unwrap().poll_delay_ms(), MAX_POLL_MS);
    }
}
