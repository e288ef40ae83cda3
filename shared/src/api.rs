//! The public request contract (DESIGN.md §2): parsing and shape validation of the body the
//! PWA sends. Everything here is pure; limits are enforced before any I/O happens.
//!
//! Invariants:
//! - A parsed [`ActionRequest`] has a known action, and every field it carries has the type
//!   the contract documents; anything else is a `validation_error` naming the field.
//! - Ids and names are length-bounded; `parameters` is an object within depth and size limits.

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
pub const MAX_ID_LEN: usize = 128;
pub const MAX_NAME_LEN: usize = 256;
pub const MAX_JSON_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ListServers,
    ListTools,
    CallTool,
    SyncTools,
    /// The deployment's connector catalogue (`crate::connectors`; served by the admin worker,
    /// to members too).
    ListConnectors,
    Admin(AdminAction),
    Analytics(AnalyticsAction),
    Members(MemberAction),
    /// Following and steering a background execution (served by call_tool, where the
    /// `Execution` objects live; `crate::background`).
    Background(BackgroundAction),
}

/// Background executions (`call_tool` with `"mode": "async"`): members act on their own,
/// admins on any of their team's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundAction {
    /// The execution's events as `text/event-stream`, resumable.
    WatchExecution,
    CancelExecution,
    /// A watcher's answer to the server→client request an execution waits on
    /// (`crate::background::ask`).
    AnswerExecution,
}

/// Team membership (served by the admin worker, `actions::members`). `create_team` is the one
/// action that needs no team: it makes a user who is in none the owner of a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberAction {
    ListMembers,
    AddMember,
    UpdateMember,
    RemoveMember,
    CreateTeam,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    CreateServer,
    UpdateServer,
    DeleteServer,
    UpdateTool,
    GetServer,
    SetCredential,
    DeleteCredential,
    ReencryptCredentials,
    ApproveTool,
    /// Tells mcp-edge that the team's configuration changed outside the API (SQL on D1), so
    /// that call targets cached by call_tool are read again at once (`crate::call_target`).
    RefreshConfig,
    /// The team's completion webhook for background executions (`crate::background::webhook`).
    SetWebhook,
    DeleteWebhook,
}

impl AdminAction {
    /// Whether the action may change what call_tool caches about the team's servers, tools or
    /// credentials (then the admin worker moves the team to a new configuration version).
    /// `refresh_config` exists to do just that.
    pub fn changes_config(self) -> bool {
        !matches!(
            self,
            AdminAction::GetServer | AdminAction::SetWebhook | AdminAction::DeleteWebhook
        )
    }
}

/// Execution history and usage analytics (served by the admin worker). `analytics` is for
/// admins; members may list and read their own executions (the action scopes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyticsAction {
    /// `analytics` with `report`: most_used, daily_trends, errors, user_activity, percentiles.
    Report,
    ListExecutions,
    GetExecution,
}

/// Which action worker serves an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    ListServers,
    ListTools,
    CallTool,
    SyncTools,
    Admin,
}

impl Action {
    /// Every action, in the order the unknown-action error lists them: the one list of
    /// actions. [`Action::name`] is the one place a name is spelled; [`Action::NAMES`] and
    /// [`Action::parse`] are derived from the two.
    pub const ALL: &'static [Action] = &[
        Action::ListServers,
        Action::ListTools,
        Action::CallTool,
        Action::SyncTools,
        Action::ListConnectors,
        Action::Admin(AdminAction::CreateServer),
        Action::Admin(AdminAction::UpdateServer),
        Action::Admin(AdminAction::DeleteServer),
        Action::Admin(AdminAction::UpdateTool),
        Action::Admin(AdminAction::GetServer),
        Action::Admin(AdminAction::SetCredential),
        Action::Admin(AdminAction::DeleteCredential),
        Action::Admin(AdminAction::ReencryptCredentials),
        Action::Admin(AdminAction::ApproveTool),
        Action::Admin(AdminAction::RefreshConfig),
        Action::Admin(AdminAction::SetWebhook),
        Action::Admin(AdminAction::DeleteWebhook),
        Action::Analytics(AnalyticsAction::Report),
        Action::Analytics(AnalyticsAction::ListExecutions),
        Action::Analytics(AnalyticsAction::GetExecution),
        Action::Members(MemberAction::ListMembers),
        Action::Members(MemberAction::AddMember),
        Action::Members(MemberAction::UpdateMember),
        Action::Members(MemberAction::RemoveMember),
        Action::Members(MemberAction::CreateTeam),
        Action::Background(BackgroundAction::WatchExecution),
        Action::Background(BackgroundAction::CancelExecution),
        Action::Background(BackgroundAction::AnswerExecution),
    ];

    /// The names of [`Action::ALL`], in its order (the unknown-action error's `allowed`).
    pub const NAMES: &'static [&'static str] = &{
        let mut names = [""; Action::ALL.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = Action::ALL[i].name();
            i += 1;
        }
        names
    };

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Action::ListServers => "list_servers",
            Action::ListTools => "list_tools",
            Action::CallTool => "call_tool",
            Action::SyncTools => "sync_tools",
            Action::ListConnectors => "list_connectors",
            Action::Admin(AdminAction::CreateServer) => "create_server",
            Action::Admin(AdminAction::UpdateServer) => "update_server",
            Action::Admin(AdminAction::DeleteServer) => "delete_server",
            Action::Admin(AdminAction::UpdateTool) => "update_tool",
            Action::Admin(AdminAction::GetServer) => "get_server",
            Action::Admin(AdminAction::SetCredential) => "set_credential",
            Action::Admin(AdminAction::DeleteCredential) => "delete_credential",
            Action::Admin(AdminAction::ReencryptCredentials) => "reencrypt_credentials",
            Action::Admin(AdminAction::ApproveTool) => "approve_tool",
            Action::Admin(AdminAction::RefreshConfig) => "refresh_config",
            Action::Admin(AdminAction::SetWebhook) => "set_webhook",
            Action::Admin(AdminAction::DeleteWebhook) => "delete_webhook",
            Action::Analytics(AnalyticsAction::Report) => "analytics",
            Action::Analytics(AnalyticsAction::ListExecutions) => "list_executions",
            Action::Analytics(AnalyticsAction::GetExecution) => "get_execution",
            Action::Members(MemberAction::ListMembers) => "list_members",
            Action::Members(MemberAction::AddMember) => "add_member",
            Action::Members(MemberAction::UpdateMember) => "update_member",
            Action::Members(MemberAction::RemoveMember) => "remove_member",
            Action::Members(MemberAction::CreateTeam) => "create_team",
            Action::Background(BackgroundAction::WatchExecution) => "watch_execution",
            Action::Background(BackgroundAction::CancelExecution) => "cancel_execution",
            Action::Background(BackgroundAction::AnswerExecution) => "answer_execution",
        }
    }

    pub fn route(self) -> Route {
        match self {
            Action::ListServers => Route::ListServers,
            Action::ListTools => Route::ListTools,
            // get_execution: a running background execution is known to its object only.
            Action::CallTool
            | Action::Background(_)
            | Action::Analytics(AnalyticsAction::GetExecution) => Route::CallTool,
            Action::SyncTools => Route::SyncTools,
            Action::ListConnectors
            | Action::Admin(_)
            | Action::Analytics(_)
            | Action::Members(_) => Route::Admin,
        }
    }

    /// Every action acts in a team but `create_team`, which makes one.
    pub fn needs_team(self) -> bool {
        self != Action::Members(MemberAction::CreateTeam)
    }

    /// Checked by the gateway (and again by each action). Members may list and read
    /// executions, which then shows them only their own.
    pub fn requires_admin(self) -> bool {
        match self {
            Action::Members(m) => m != MemberAction::CreateTeam,
            _ => matches!(
                self,
                Action::SyncTools | Action::Admin(_) | Action::Analytics(AnalyticsAction::Report)
            ),
        }
    }

    /// Membership changes and team creation: charged to the admin budget by the limiter.
    pub fn is_member_change(self) -> bool {
        matches!(
            self,
            Action::Members(
                MemberAction::AddMember | MemberAction::UpdateMember | MemberAction::RemoveMember
            )
        )
    }

    /// Actions that only read (charged as reads by the rate limiter).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Action::ListServers
                | Action::ListTools
                | Action::ListConnectors
                | Action::Analytics(_)
                | Action::Background(_)
        )
    }
}

/// A validated request body. `Debug` shows the body's field names only: `set_credential`'s
/// carries a credential's values.
#[derive(Clone, PartialEq)]
pub struct ActionRequest {
    pub action: Action,
    /// The whole body as sent (already shape-checked); action workers read their fields from it.
    pub body: Map<String, Value>,
}

impl std::fmt::Debug for ActionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionRequest")
            .field("action", &self.action)
            .field("fields", &self.body.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ActionRequest {
    /// Parses and validates raw body bytes.
    pub fn parse(bytes: &[u8]) -> Result<ActionRequest> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "request body is {} bytes; the limit is {MAX_BODY_BYTES}",
                bytes.len()
            )));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::validation(
                "request body is empty; send a JSON object with an \"action\"",
            ));
        }
        check_depth(bytes)?;
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            Error::validation_with(
                "request body is not valid JSON",
                json!({ "line": e.line(), "column": e.column() }),
            )
        })?;
        let Value::Object(body) = value else {
            return Err(Error::validation("request body must be a JSON object"));
        };
        let action_name = match body.get("action") {
            None => return Err(field_error("action", "is required")),
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(field_error("action", "must be a string")),
        };
        let action = Action::parse(action_name).ok_or_else(|| {
            Error::validation_with(
                format!("unknown action '{}'", truncate(action_name, 64)),
                json!({ "field": "action", "allowed": Action::NAMES }),
            )
        })?;
        let request = ActionRequest { action, body };
        // Shape-check the common fields wherever they appear.
        request.optional_str("server_id", MAX_ID_LEN)?;
        request.optional_str("team_id", MAX_ID_LEN)?;
        request.optional_str("tool_name", MAX_NAME_LEN)?;
        request.optional_object("parameters")?;
        Ok(request)
    }

    pub fn optional_str(&self, field: &str, max_len: usize) -> Result<Option<&str>> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Err(field_error(field, "must not be empty")),
            Some(Value::String(s)) if s.chars().count() > max_len => Err(field_error(
                field,
                &format!("is longer than {max_len} characters"),
            )),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(field_error(field, "must be a string")),
        }
    }

    pub fn required_str(&self, field: &str, max_len: usize) -> Result<&str> {
        self.optional_str(field, max_len)?
            .ok_or_else(|| field_error(field, &format!("is required for {}", self.action.name())))
    }

    pub fn optional_object(&self, field: &str) -> Result<Option<&Map<String, Value>>> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(field_error(field, "must be a JSON object")),
        }
    }

    pub fn optional_bool(&self, field: &str) -> Result<Option<bool>> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(field_error(field, "must be true or false")),
        }
    }

    pub fn optional_u64(&self, field: &str, min: u64, max: u64) -> Result<Option<u64>> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(field_error(
                    field,
                    &format!("must be an integer from {min} to {max}"),
                )),
            },
        }
    }

    /// The request as JSON again, for forwarding to an action worker.
    pub fn to_value(&self) -> Value {
        Value::Object(self.body.clone())
    }

    /// Rebuilds a request an action worker received from the gateway (already validated there,
    /// validated again here because the check is cheap and the worker must not trust shape).
    pub fn from_value(value: Value) -> Result<ActionRequest> {
        let bytes = serde_json::to_vec(&value).map_err(Error::internal)?;
        ActionRequest::parse(&bytes)
    }
}

pub fn field_error(field: &str, problem: &str) -> Error {
    Error::validation_with(format!("'{field}' {problem}"), json!({ "field": field }))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Rejects bodies nested deeper than [`MAX_JSON_DEPTH`] before serde sees them (serde_json has
/// its own recursion limit of 128, which would answer with a less useful message).
fn check_depth(bytes: &[u8]) -> Result<()> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(Error::validation_with(
                        format!("request body is nested deeper than {MAX_JSON_DEPTH} levels"),
                        json!({ "max_depth": MAX_JSON_DEPTH }),
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ActionRequest> {
        ActionRequest::parse(s.as_bytes())
    }

    #[test]
    fn known_actions_parse_and_route() {
        let r = parse(r#"{"action":"call_tool","server_id":"s1","tool_name":"echo","parameters":{"message":"hi"}}"#).unwrap();
        assert_eq!(r.action, Action::CallTool);
        assert_eq!(r.action.route(), Route::CallTool);
        assert_eq!(r.required_str("tool_name", 10).unwrap(), "echo");
        for name in Action::NAMES {
            assert_eq!(Action::parse(name).unwrap().name(), *name);
        }
    }

    #[test]
    fn analytics_actions_route_to_admin_but_get_execution_to_call_tool_and_only_reports_need_admin()
    {
        for (name, admin_only, route) in [
            ("analytics", true, Route::Admin),
            ("list_executions", false, Route::Admin),
            // A running background execution is known to its object, hosted by call_tool.
            ("get_execution", false, Route::CallTool),
        ] {
            let action = Action::parse(name).unwrap();
            assert_eq!(action.route(), route, "{name}");
            assert_eq!(action.requires_admin(), admin_only, "{name}");
            assert!(action.is_read(), "{name}");
        }
        assert!(!Action::CallTool.is_read());
        assert!(!Action::Admin(AdminAction::GetServer).is_read());
    }

    #[test]
    fn background_actions_are_member_reads_served_by_call_tool() {
        for name in ["watch_execution", "cancel_execution", "answer_execution"] {
            let action = Action::parse(name).unwrap();
            assert_eq!(action.route(), Route::CallTool, "{name}");
            assert!(!action.requires_admin() && action.needs_team() && action.is_read());
        }
    }

    #[test]
    fn list_connectors_is_a_read_for_members_served_by_the_admin_worker() {
        let action = Action::parse("list_connectors").unwrap();
        assert_eq!(action.route(), Route::Admin);
        assert!(!action.requires_admin() && action.needs_team() && action.is_read());
    }

    #[test]
    fn member_actions_are_for_admins_and_only_create_team_needs_no_team() {
        for name in [
            "list_members",
            "add_member",
            "update_member",
            "remove_member",
        ] {
            let action = Action::parse(name).unwrap();
            assert!(action.requires_admin(), "{name}");
            assert!(action.needs_team(), "{name}");
            assert_eq!(action.route(), Route::Admin);
        }
        let create = Action::parse("create_team").unwrap();
        assert!(!create.requires_admin() && !create.needs_team());
        assert!(Action::ListServers.needs_team());
        assert_eq!(
            parse(r#"{"action":"list_servers","team_id":7}"#)
                .unwrap_err()
                .details()["field"],
            "team_id"
        );
    }

    #[test]
    fn unknown_action_is_a_validation_error_listing_the_allowed_ones() {
        let err = parse(r#"{"action":"drop_tables"}"#).unwrap_err();
        assert_eq!(err.code(), "validation_error");
        assert!(err.details()["allowed"].as_array().unwrap().len() >= 4);
    }

    #[test]
    fn the_action_list_names_each_action_once_in_the_published_order() {
        assert_eq!(
            Action::NAMES,
            [
                "list_servers",
                "list_tools",
                "call_tool",
                "sync_tools",
                "list_connectors",
                "create_server",
                "update_server",
                "delete_server",
                "update_tool",
                "get_server",
                "set_credential",
                "delete_credential",
                "reencrypt_credentials",
                "approve_tool",
                "refresh_config",
                "set_webhook",
                "delete_webhook",
                "analytics",
                "list_executions",
                "get_execution",
                "list_members",
                "add_member",
                "update_member",
                "remove_member",
                "create_team",
                "watch_execution",
                "cancel_execution",
                "answer_execution",
            ]
        );
        for (i, action) in Action::ALL.iter().enumerate() {
            assert_eq!(Action::parse(action.name()), Some(*action));
            assert!(
                !Action::ALL[..i].contains(action),
                "{action:?} listed twice"
            );
        }
        assert_eq!(Action::parse("List_Servers"), None);
    }

    #[test]
    fn missing_and_mistyped_fields_name_the_field() {
        for (body, field) in [
            (r#"{}"#, "action"),
            (r#"{"action":7}"#, "action"),
            (r#"{"action":"list_tools","server_id":5}"#, "server_id"),
            (r#"{"action":"call_tool","parameters":"x"}"#, "parameters"),
            (r#"{"action":"call_tool","tool_name":""}"#, "tool_name"),
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(err.code(), "validation_error", "{body}");
            assert_eq!(err.details()["field"], field, "{body}");
        }
    }

    #[test]
    fn non_objects_and_garbage_are_rejected() {
        for body in [
            "",
            "  ",
            "[]",
            "\"x\"",
            "{",
            "nul",
            "{\"action\":\"list_servers\"}}",
        ] {
            assert_eq!(
                parse(body).unwrap_err().code(),
                "validation_error",
                "{body:?}"
            );
        }
    }

    #[test]
    fn oversized_body_is_payload_too_large() {
        let big = format!(
            r#"{{"action":"list_servers","x":"{}"}}"#,
            "a".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(parse(&big).unwrap_err().status(), 413);
    }

    #[test]
    fn deep_nesting_is_rejected_but_brackets_in_strings_are_not_counted() {
        let deep = format!(
            r#"{{"action":"call_tool","parameters":{}{}}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        assert_eq!(parse(&deep).unwrap_err().code(), "validation_error");
        let quoted = format!(
            r#"{{"action":"call_tool","parameters":{{"s":"{}"}}}}"#,
            "[".repeat(100)
        );
        assert!(parse(&quoted).is_ok());
    }

    #[test]
    fn overlong_ids_are_rejected() {
        let body = format!(
            r#"{{"action":"list_tools","server_id":"{}"}}"#,
            "x".repeat(200)
        );
        assert_eq!(parse(&body).unwrap_err().details()["field"], "server_id");
    }
}
