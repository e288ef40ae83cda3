//! Action logic over the real SQL (SQLite) and an in-memory cache: team scoping, caching,
//! validation before side effects, the execution record of a failed upstream call, sealed
//! credentials (injected, failing closed, rotated, never leaked) and confirmation tokens.

use std::cell::{Cell, RefCell};

use base64::Engine;
use serde_json::{json, Value};

use super::testing::{identity, SqliteDb, TWO_TEAMS};
use super::{admin, call_tool, list_servers, list_tools, Ctx, Services, Settings};
use crate::api::{Action, ActionRequest};
use crate::cache::{keys, Cache, MemoryCache};
use crate::confirmation::ConfirmationKey;
use crate::credentials::KeyRing;
use crate::error::Error;
use crate::identity::{Identity, Role};
use crate::repo::executions::{self, Finished, Status};
use crate::repo::tools;
use mcp_client::http::{Clock, HttpClient, HttpRequest, HttpResponse};
use mcp_client::McpError;

/// A network that records every request it is asked to send, then refuses it (with
/// `echo`, quoting the request's header values back in encoded forms, as a hostile or
/// debugging server might).
#[derive(Default)]
struct Wire {
    now: Cell<u64>,
    attempts: Cell<u32>,
    requests: RefCell<Vec<HttpRequest>>,
    echo: Cell<bool>,
}

impl HttpClient for Wire {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, McpError> {
        self.attempts.set(self.attempts.get() + 1);
        let url = request.url.clone();
        let echoed = if self.echo.get() {
            redaction::echo_of(&request.headers)
        } else {
            String::new()
        };
        self.requests.borrow_mut().push(request);
        Err(McpError::transport(format!(
            "test network refuses {url}{echoed}"
        )))
    }
}

impl Clock for Wire {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    async fn sleep_ms(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }
}

impl Wire {
    /// The value of `name` on the first recorded request.
    fn sent_header(&self, name: &str) -> Option<String> {
        self.requests.borrow().first().and_then(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        })
    }
}

fn key_b64(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn ring(spec: &[(&str, u8)]) -> KeyRing {
    let text: Vec<String> = spec
        .iter()
        .map(|(id, b)| format!("{id}:{}", key_b64(*b)))
        .collect();
    KeyRing::from_settings(Some(&text.join(",")), None).unwrap()
}

struct World {
    db: SqliteDb,
    cache: MemoryCache,
    net: Wire,
    settings: Settings,
    logs: RefCell<Vec<String>>,
}

impl World {
    fn new() -> World {
        let db = SqliteDb::migrated();
        db.exec(TWO_TEAMS);
        let net = Wire::default();
        net.now.set(1_795_292_256_000);
        World {
            db,
            cache: MemoryCache::new(),
            net,
            settings: Settings {
                allow_private_upstreams: true,
                credential_keys: Ok(ring(&[("k1", 1)])),
                confirmation_key: ConfirmationKey::from_secret("confirmation-secret-for-tests"),
                ..Settings::default()
            },
            logs: RefCell::new(Vec::new()),
        }
    }

    async fn run(&self, who: &Identity, body: Value) -> Result<super::Reply, Error> {
        let req = ActionRequest::parse(body.to_string().as_bytes())?;
        let log = |line: &str| self.logs.borrow_mut().push(line.to_string());
        let ctx = Ctx {
            services: Services {
                db: &self.db,
                cache: &self.cache,
                http: &self.net,
                settings: &self.settings,
                log: &log,
            },
            identity: who,
            request_id: "req-test",
            timings: &crate::timing::Timings::new(),
            ledger: None,
            targets: None,
            sessions: None,
            background: None,
        };
        match req.action {
            Action::ListServers => list_servers::list_servers(&ctx).await,
            Action::ListTools => list_tools::list_tools(&ctx, &req).await,
            Action::CallTool => call_tool::call_tool(&ctx, &req).await,
            Action::SyncTools => super::sync_tools::sync_tools(&ctx, &req).await,
            Action::Admin(a) => admin::admin(&ctx, a, &req).await,
            Action::ListConnectors => Ok(admin::list_connectors(&ctx)),
            #[allow(unreachable_patterns)]
            other => panic!("no test route for {}", other.name()),
        }
    }

    /// Runs and folds an error into its contract body, as the worker shell does.
    async fn answer(&self, who: &Identity, body: Value) -> super::Reply {
        match self.run(who, body).await {
            Ok(reply) => reply,
            Err(e) => super::Reply::error(&e, "req-test", Default::default()),
        }
    }

    fn executions(&self) -> Value {
        self.db.scalar("SELECT count(*) FROM mcp_tool_executions")
    }
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn list_servers_shows_only_the_callers_active_servers() {
    let w = World::new();
    let a = w
        .run(
            &identity("team-a", Role::Member),
            json!({"action": "list_servers"}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&a.body["servers"], "id"), vec!["srv-a"]);
    let b = w
        .run(
            &identity("team-b", Role::Member),
            json!({"action": "list_servers"}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&b.body["servers"], "id"), vec!["srv-b"]);
    assert!(
        a.body["servers"][0].get("config").is_none(),
        "config is not public"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn list_tools_serves_the_second_read_from_cache_until_it_is_dropped() {
    let w = World::new();
    let member = identity("team-a", Role::Member);
    let body = json!({"action": "list_tools", "server_id": "srv-a"});
    let first = w.run(&member, body.clone()).await.unwrap();
    assert_eq!(first.body["cached"], false);
    assert_eq!(
        ids(&first.body["tools"], "tool_name"),
        vec!["echo"],
        "disabled tool hidden"
    );
    assert_eq!(
        w.cache
            .ttl_of(&keys::tools_of_server("team-a", "srv-a").unwrap()),
        Some(300)
    );
    let second = w.run(&member, body.clone()).await.unwrap();
    assert_eq!(second.body["cached"], true);
    assert_eq!(second.body["tools"], first.body["tools"]);

    // An admin disables the tool: the cache is dropped and the next read is correct.
    let admin = identity("team-a", Role::Admin);
    w.run(
        &admin,
        json!({"action": "update_tool", "tool_id": "tool-a1", "is_enabled": false}),
    )
    .await
    .unwrap();
    let third = w.run(&member, body).await.unwrap();
    assert_eq!(third.body["cached"], false);
    assert_eq!(third.body["tools"], json!([]));
}

#[tokio::test(flavor = "current_thread")]
async fn list_tools_without_server_covers_every_active_server_of_the_team_only() {
    let w = World::new();
    let r = w
        .run(
            &identity("team-b", Role::Member),
            json!({"action": "list_tools"}),
        )
        .await
        .unwrap();
    assert_eq!(ids(&r.body["tools"], "id"), vec!["tool-b2", "tool-b1"]);
    let r = w
        .run(
            &identity("team-a", Role::Member),
            json!({"action": "list_tools"}),
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&r.body["tools"], "id"),
        vec!["tool-a1"],
        "inactive server's tools hidden"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn list_tools_with_a_format_answers_namespaced_definitions_and_the_mapping_back() {
    let w = World::new();
    let member = identity("team-b", Role::Member);
    let r = w
        .run(
            &member,
            json!({"action": "list_tools", "format": "anthropic"}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["format"], "anthropic");
    let names: Vec<&str> = r.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["beta__add", "beta__echo"]);
    assert_eq!(
        r.body["mapping"]["beta__echo"],
        json!({"server_id": "srv-b", "server_name": "beta", "tool_name": "echo"})
    );
    // The second read comes from the cached plain list, in the same shape.
    let again = w
        .run(
            &member,
            json!({"action": "list_tools", "format": "anthropic"}),
        )
        .await
        .unwrap();
    assert_eq!(again.body["tools"], r.body["tools"]);
    let one = w
        .run(
            &member,
            json!({"action": "list_tools", "server_id": "srv-b", "format": "gemini"}),
        )
        .await
        .unwrap();
    assert_eq!(
        one.body["tools"][0]["functionDeclarations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let err = w
        .run(&member, json!({"action": "list_tools", "format": "cohere"}))
        .await
        .unwrap_err();
    assert_eq!(err.details()["field"], "format");
}

#[tokio::test(flavor = "current_thread")]
async fn another_teams_ids_are_not_found_for_every_action() {
    let w = World::new();
    let a_admin = identity("team-a", Role::Admin);
    for body in [
        json!({"action": "list_tools", "server_id": "srv-b"}),
        json!({"action": "call_tool", "server_id": "srv-b", "tool_name": "echo"}),
        json!({"action": "sync_tools", "server_id": "srv-b"}),
        json!({"action": "update_server", "server_id": "srv-b", "name": "x"}),
        json!({"action": "delete_server", "server_id": "srv-b"}),
        json!({"action": "update_tool", "tool_id": "tool-b1", "is_enabled": false}),
        json!({"action": "update_tool", "server_id": "srv-b", "tool_name": "echo", "is_enabled": false}),
        json!({"action": "get_server", "server_id": "srv-b"}),
        json!({"action": "get_server", "name": "beta"}),
        json!({"action": "set_credential", "server_id": "srv-b", "credential_type": "bearer", "credential": {"token": "t"}}),
        json!({"action": "delete_credential", "server_id": "srv-b"}),
    ] {
        let err = w.run(&a_admin, body.clone()).await.unwrap_err();
        assert_eq!(err.code(), "not_found", "{body}");
    }
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_servers WHERE team_id = 'team-b'"),
        json!(1)
    );
    assert_eq!(
        w.db.scalar("SELECT is_enabled FROM mcp_tools WHERE id = 'tool-b1'"),
        json!(1)
    );
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_tool_executions"),
        json!(0)
    );
    assert_eq!(w.net.attempts.get(), 0, "nothing went upstream");
}

#[tokio::test(flavor = "current_thread")]
async fn refused_calls_leave_no_execution_and_send_nothing() {
    let w = World::new();
    let member = identity("team-a", Role::Member);
    let cases = [
        (
            json!({"action": "call_tool", "tool_name": "echo"}),
            "validation_error",
        ),
        (
            json!({"action": "call_tool", "server_id": "srv-a"}),
            "validation_error",
        ),
        (
            json!({"action": "call_tool", "server_id": "srv-a", "tool_name": "secret"}),
            "authorization_error",
        ),
        (
            json!({"action": "call_tool", "server_id": "srv-a", "tool_name": "nope"}),
            "not_found",
        ),
        (
            json!({"action": "call_tool", "server_id": "srv-a-off", "tool_name": "echo"}),
            "conflict",
        ),
    ];
    for (body, code) in cases {
        assert_eq!(
            w.run(&member, body.clone()).await.unwrap_err().code(),
            code,
            "{body}"
        );
    }
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_tool_executions"),
        json!(0)
    );
    assert_eq!(w.net.attempts.get(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_upstream_leaves_one_final_error_row_and_counts_it() {
    let w = World::new();
    let member = identity("team-a", Role::Member);
    let reply = w
        .run(&member, json!({"action": "call_tool", "server_id": "srv-a", "tool_name": "echo", "parameters": {"message": "hi"}}))
        .await
        .unwrap();
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body["code"], "upstream_error");
    let execution_id = reply.body["details"]["execution_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        w.db.scalar(&format!("SELECT status || '|' || user_id || '|' || input FROM mcp_tool_executions WHERE id = '{execution_id}'")),
        json!(r#"error|user-of-team-a|{"message":"hi"}"#)
    );
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_tool_executions"),
        json!(1)
    );
    assert_eq!(
        w.db.scalar(
            "SELECT execution_count || '/' || error_count FROM mcp_tools WHERE id = 'tool-a1'"
        ),
        json!("1/1")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn members_are_refused_admin_actions_before_anything_changes() {
    let w = World::new();
    let member = identity("team-a", Role::Member);
    for body in [
        json!({"action": "sync_tools", "server_id": "srv-a"}),
        json!({"action": "create_server", "name": "x", "server_type": "http", "config": {"url": "http://127.0.0.1:1/mcp"}}),
        json!({"action": "delete_server", "server_id": "srv-a"}),
        json!({"action": "update_tool", "tool_id": "tool-a1", "is_enabled": false}),
        json!({"action": "get_server", "server_id": "srv-a"}),
        json!({"action": "set_credential", "server_id": "srv-a", "credential_type": "bearer", "credential": {"token": "t"}}),
        json!({"action": "delete_credential", "server_id": "srv-a"}),
        json!({"action": "reencrypt_credentials"}),
    ] {
        assert_eq!(
            w.run(&member, body.clone()).await.unwrap_err().code(),
            "authorization_error",
            "{body}"
        );
    }
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_servers WHERE team_id = 'team-a'"),
        json!(2)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn create_server_validates_and_refuses_duplicate_names() {
    let w = World::new();
    let admin = identity("team-a", Role::Admin);
    let created = w
        .run(&admin, json!({"action": "create_server", "name": "gamma", "server_type": "http", "config": {"url": "http://127.0.0.1:1/mcp"}}))
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.body["server"]["connection_status"], "pending");
    let dup = w
        .run(&admin, json!({"action": "create_server", "name": "gamma", "server_type": "http", "config": {"url": "http://127.0.0.1:1/mcp"}}))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), "conflict");
    let bad_type = w
        .run(&admin, json!({"action": "create_server", "name": "d", "server_type": "ftp", "config": {"url": "http://127.0.0.1:1/mcp"}}))
        .await
        .unwrap_err();
    assert_eq!(bad_type.details()["field"], "server_type");
}

#[tokio::test(flavor = "current_thread")]
async fn private_urls_are_refused_unless_the_deployment_allows_them() {
    let mut w = World::new();
    w.settings.allow_private_upstreams = false;
    let admin = identity("team-a", Role::Admin);
    let err = w
        .run(&admin, json!({"action": "create_server", "name": "meta", "server_type": "http", "config": {"url": "http://169.254.169.254/mcp"}}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_error");
}

#[tokio::test(flavor = "current_thread")]
async fn finishing_an_execution_twice_counts_it_once() {
    let w = World::new();
    w.db.exec(
        "INSERT INTO mcp_tool_executions (id, team_id, user_id, server_id, tool_id, tool_name, status, started_at) \
         VALUES ('e1', 'team-a', 'u', 'srv-a', 'tool-a1', 'echo', 'pending', '2026-01-01T00:00:00.000Z')",
    );
    for status in [Status::Success, Status::Error] {
        executions::finish(
            &w.db,
            Finished {
                id: "e1",
                tool_id: "tool-a1",
                status,
                output: Some("{}"),
                error: None,
                duration_ms: 40,
                completed_at: "2026-01-01T00:00:01.000Z",
            },
            &crate::repo::rollups::ExecutionFact {
                execution_id: "e1".into(),
                team_id: "team-a".into(),
                user_id: "u".into(),
                server_id: "srv-a".into(),
                tool_name: "echo".into(),
                status,
                duration_ms: Some(40),
                started_at: "2026-01-01T00:00:00.000Z".into(),
                error: None,
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(
        w.db.scalar("SELECT status FROM mcp_tool_executions WHERE id = 'e1'"),
        json!("success")
    );
    assert_eq!(
        w.db.scalar("SELECT execution_count || '/' || success_count || '/' || error_count || '/' || avg_duration_ms FROM mcp_tools WHERE id = 'tool-a1'"),
        json!("1/1/0/40.0")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn sync_upserts_keeps_policy_and_removes_what_the_server_dropped() {
    let w = World::new();
    w.db.exec("UPDATE mcp_tools SET timeout_seconds = 7, execution_count = 5 WHERE id = 'tool-b1'");
    let listed = vec![
        mcp_client::ToolDef {
            name: "echo".into(),
            title: None,
            description: Some("Echo v2".into()),
            input_schema: json!({"type": "object", "properties": {"m": {"type": "string"}}}),
            annotations: None,
        },
        mcp_client::ToolDef {
            name: "new".into(),
            title: Some("New".into()),
            description: None,
            input_schema: json!({"type": "object"}),
            annotations: Some(json!({"readOnlyHint": true})),
        },
    ];
    let outcome = tools::sync(
        &w.db,
        "team-b",
        "srv-b",
        &listed,
        "2026-11-21T00:00:00.000Z",
    )
    .await
    .unwrap();
    assert_eq!((outcome.tools_synced, outcome.tools_removed), (2, 1));
    // The changed definition waits for approval (see tests/pinning.rs); policy and stats stay.
    assert_eq!(
        w.db.scalar("SELECT description || '|' || timeout_seconds || '|' || execution_count || '|' || approval_state FROM mcp_tools WHERE id = 'tool-b1'"),
        json!("Echo|7|5|pending_approval")
    );
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_tools WHERE server_id = 'srv-b'"),
        json!(2)
    );
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_tools WHERE team_id = 'team-a'"),
        json!(3),
        "other team untouched"
    );
    // A cache entry for the other team is never touched by this team's sync either.
    w.cache
        .put(
            &keys::tools_of_server("team-a", "srv-a").unwrap(),
            "[]",
            300,
        )
        .await
        .unwrap();
    assert!(w
        .cache
        .get(&keys::tools_of_server("team-a", "srv-a").unwrap())
        .await
        .unwrap()
        .is_some());
}

mod confirmations;
mod connectors;
mod credentials;
mod pinning;
mod quota;
mod redaction;

/// The seed client reads `error` from every `success: false` answer, the team-wide sync's too.
#[tokio::test(flavor = "current_thread")]
async fn a_team_wide_sync_with_a_failed_server_says_why_in_error() {
    let w = World::new();
    let r = w
        .run(
            &identity("team-a", Role::Admin),
            json!({"action": "sync_tools"}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["success"], false, "{}", r.body);
    let error = r.body["error"].as_str().unwrap_or_default();
    assert!(error.contains("servers failed to sync"), "{}", r.body);
    assert!(r.body["servers"][0]["error"].is_string(), "{}", r.body);
}
