//! Confirmation tokens and cached results through `call_tool`.

use serde_json::{json, Value};

use super::World;
use crate::actions::testing::identity;
use crate::identity::{Identity, Role};
use crate::result_cache::{self, CachedResult};

async fn policy(w: &World, policy: Value) {
    let mut body = json!({"action": "update_tool", "server_id": "srv-a", "tool_name": "echo"});
    body.as_object_mut()
        .unwrap()
        .extend(policy.as_object().unwrap().clone());
    w.run(&identity("team-a", Role::Admin), body).await.unwrap();
}

async fn call(
    w: &World,
    who: &Identity,
    message: &str,
    token: Option<&str>,
) -> super::super::Reply {
    let mut body = json!({"action": "call_tool", "server_id": "srv-a", "tool_name": "echo", "parameters": {"message": message}});
    if let Some(t) = token {
        body["confirmation_token"] = t.into();
    }
    w.answer(who, body).await
}

#[tokio::test(flavor = "current_thread")]
async fn a_tool_that_requires_confirmation_answers_a_token_and_records_nothing() {
    let w = World::new();
    policy(&w, json!({"requires_confirmation": true})).await;
    let member = identity("team-a", Role::Member);
    let first = call(&w, &member, "hi", None).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["success"], false);
    assert_eq!(first.body["confirmation_required"], true);
    assert!(first.body["error"]
        .as_str()
        .is_some_and(|e| e.contains("requires confirmation")));
    assert_eq!(first.body["tool_name"], "echo");
    assert_eq!(first.body["parameters"], json!({"message": "hi"}));
    assert_eq!(first.body["expires_at"], "2026-11-21T20:22:36.000Z");
    assert!(first.body["confirmation_token"]
        .as_str()
        .unwrap()
        .starts_with("v1."));
    assert_eq!(w.executions(), json!(0));
    assert_eq!(w.net.attempts.get(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn the_token_runs_the_call_once_and_only_for_the_same_user_and_arguments() {
    let w = World::new();
    policy(&w, json!({"requires_confirmation": true})).await;
    let member = identity("team-a", Role::Member);
    let first = call(&w, &member, "hi", None).await;
    let token = first.body["confirmation_token"]
        .as_str()
        .unwrap()
        .to_string();

    let other_args = call(&w, &member, "bye", Some(&token)).await;
    assert_eq!(other_args.status, 403, "{}", other_args.body);
    let mut other_user = identity("team-a", Role::Member);
    other_user.user_id = "someone-else".into();
    assert_eq!(call(&w, &other_user, "hi", Some(&token)).await.status, 403);
    assert_eq!(w.executions(), json!(0), "refusals record nothing");

    let confirmed = call(&w, &member, "hi", Some(&token)).await;
    assert_eq!(
        confirmed.status, 502,
        "it ran (and the test network refused it)"
    );
    assert_eq!(w.executions(), json!(1));

    let replay = call(&w, &member, "hi", Some(&token)).await;
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert_eq!(replay.body["code"], "conflict");
    assert_eq!(w.executions(), json!(1));
}

#[tokio::test(flavor = "current_thread")]
async fn an_expired_token_is_refused() {
    let w = World::new();
    policy(&w, json!({"requires_confirmation": true})).await;
    let member = identity("team-a", Role::Member);
    let token = call(&w, &member, "hi", None).await.body["confirmation_token"]
        .as_str()
        .unwrap()
        .to_string();
    w.net.now.set(w.net.now.get() + 5 * 60 * 1000);
    let late = call(&w, &member, "hi", Some(&token)).await;
    assert_eq!(late.status, 403);
    assert!(late.body["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test(flavor = "current_thread")]
async fn cacheable_tools_answer_from_the_cache_without_a_new_execution() {
    let w = World::new();
    let member = identity("team-a", Role::Member);
    let args = json!({"message": "hi"});
    let key = result_cache::CallKey {
        team_id: "team-a",
        server_id: "srv-a",
        server_config: r#"{"url":"http://127.0.0.1:9/mcp"}"#,
        tool_name: "echo",
        tool_synced_at: None,
        arguments: &args,
        credential_scope: None,
    };
    let entry = CachedResult {
        result: json!({"content": [{"type": "text", "text": "cached hi"}]}),
        execution_id: "exec-1".into(),
        duration_ms: 12,
    };
    result_cache::put(&w.cache, &key, &entry).await.unwrap();

    // Not cacheable: the entry is ignored and the call goes upstream.
    assert_eq!(call(&w, &member, "hi", None).await.status, 502);
    let sent = w.net.attempts.get();
    assert!(sent >= 1, "went upstream (connect failures are retried)");

    policy(&w, json!({"cacheable": true})).await;
    let hit = call(&w, &member, "hi", None).await;
    assert_eq!(hit.status, 200, "{}", hit.body);
    assert_eq!(hit.body["cached"], true);
    assert_eq!(hit.body["execution_id"], "exec-1");
    assert_eq!(hit.body["result"], entry.result);
    assert_eq!(w.net.attempts.get(), sent, "nothing sent");
    assert_eq!(w.executions(), json!(1), "no new row");
    assert_eq!(w.cache.ttl_of(&key.key()), Some(60));

    // Other arguments are another entry.
    assert_eq!(call(&w, &member, "bye", None).await.status, 502);
}
