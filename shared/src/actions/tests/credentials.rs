//! Credentials through the actions: sealed at rest, injected upstream, shown only as status,
//! failing closed, rotated, and never leaked into answers, logs or rows.

use serde_json::{json, Value};

use super::{ring, World};
use crate::actions::testing::identity;
use crate::credentials::KeyRingError;
use crate::identity::Role;

const TOKEN: &str = "tok-5f1c9a-never-visible";
const CANNOT_OPEN: &str =
    "credential for server 'alpha' cannot be opened for the server's current \
     address with the configured keys (it was set for another address, altered, or sealed with a \
     key this deployment does not have); nothing was sent; set it again with set_credential";

async fn set(w: &World, server: &str, kind: &str, credential: Value) -> super::super::Reply {
    w.run(
        &identity("team-a", Role::Admin),
        json!({"action": "set_credential", "server_id": server, "credential_type": kind, "credential": credential}),
    )
    .await
    .unwrap()
}

async fn call_echo(w: &World) -> super::super::Reply {
    w.answer(
        &identity("team-a", Role::Member),
        json!({"action": "call_tool", "server_id": "srv-a", "tool_name": "echo", "parameters": {"message": "hi"}}),
    )
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn set_credential_stores_ciphertext_and_answers_only_its_status() {
    let w = World::new();
    let reply = set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    assert_eq!(reply.body["credential"]["is_set"], true);
    assert_eq!(reply.body["credential"]["credential_type"], "bearer");
    assert_eq!(reply.body["credential"]["key_id"], "k1");
    assert_eq!(reply.body["credential"]["last_used_at"], Value::Null);
    let stored =
        w.db.scalar("SELECT encrypted_value FROM mcp_server_credentials WHERE server_id = 'srv-a'");
    assert!(!stored.as_str().unwrap().contains(TOKEN));
    let view = w
        .run(
            &identity("team-a", Role::Admin),
            json!({"action": "get_server", "name": "alpha"}),
        )
        .await
        .unwrap();
    assert_eq!(
        view.body["server"]["credential"]["credential_type"],
        "bearer"
    );
    assert_eq!(
        view.body["server"]["config"]["url"],
        "http://127.0.0.1:9/mcp"
    );
    assert!(!view.body.to_string().contains(TOKEN));
    assert!(!view.body.to_string().contains(stored.as_str().unwrap()));
}

#[tokio::test(flavor = "current_thread")]
async fn each_credential_type_reaches_the_upstream_request_as_its_header() {
    for (kind, credential, header, value) in [
        (
            "bearer",
            json!({"token": TOKEN}),
            "authorization",
            format!("Bearer {TOKEN}"),
        ),
        (
            "api_key",
            json!({"value": TOKEN, "header_name": "X-Team-Key"}),
            "x-team-key",
            TOKEN.to_string(),
        ),
        (
            "basic_auth",
            json!({"username": "u", "password": "p"}),
            "authorization",
            "Basic dTpw".to_string(),
        ),
        (
            "oauth_token",
            json!({"access_token": TOKEN, "expires_in": 3600}),
            "authorization",
            format!("Bearer {TOKEN}"),
        ),
        (
            "custom_headers",
            json!({"headers": {"X-One": TOKEN, "X-Two": "2"}}),
            "x-one",
            TOKEN.to_string(),
        ),
    ] {
        let w = World::new();
        set(&w, "srv-a", kind, credential).await;
        let reply = call_echo(&w).await;
        assert_eq!(
            reply.status, 502,
            "{kind}: the test network refuses, after sending"
        );
        assert_eq!(
            w.net.sent_header(header).as_deref(),
            Some(value.as_str()),
            "{kind}"
        );
        assert!(
            w.db.scalar("SELECT last_used_at FROM mcp_server_credentials")
                .is_string(),
            "{kind}: use recorded"
        );
        assert!(!reply.body.to_string().contains(TOKEN), "{kind}");
        assert!(!w.logs.borrow().join("\n").contains(TOKEN), "{kind}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn credentials_that_do_not_open_fail_closed_before_anything_is_sent() {
    let tamper = "UPDATE mcp_server_credentials SET encrypted_value = \
                  substr(encrypted_value, 1, 20) || CASE substr(encrypted_value, 21, 1) WHEN 'A' THEN 'B' ELSE 'A' END \
                  || substr(encrypted_value, 22)";
    let move_expiry = "UPDATE mcp_server_credentials SET header_name = 'X-Other'";
    let unknown_id = "UPDATE mcp_server_credentials SET key_id = 'k0'";
    let moved_host =
        "UPDATE mcp_servers SET config = '{\"url\":\"http://127.0.0.2:9/mcp\"}' WHERE id = 'srv-a'";
    let moved_port = "UPDATE mcp_servers SET config = '{\"url\":\"http://127.0.0.1:10/mcp\"}' WHERE id = 'srv-a'";
    let moved_scheme = "UPDATE mcp_servers SET config = '{\"url\":\"https://127.0.0.1:9/mcp\"}' WHERE id = 'srv-a'";
    let cases: [(&str, Option<&str>, Option<Result<_, _>>); 8] = [
        ("tampered ciphertext", Some(tamper), None),
        ("edited binding column", Some(move_expiry), None),
        ("server moved to another host in D1", Some(moved_host), None),
        ("server moved to another port in D1", Some(moved_port), None),
        (
            "server moved to another scheme in D1",
            Some(moved_scheme),
            None,
        ),
        ("unknown key id", Some(unknown_id), None),
        ("wrong key", None, Some(Ok(ring(&[("k1", 9)])))),
        ("no keys", None, Some(Err(KeyRingError::NotConfigured))),
    ];
    for (case, sql, keys) in cases {
        let mut w = World::new();
        set(&w, "srv-a", "api_key", json!({"value": TOKEN})).await;
        if let Some(sql) = sql {
            w.db.exec(sql);
        }
        if let Some(keys) = keys {
            w.settings.credential_keys = keys;
        }
        let reply = call_echo(&w).await;
        assert_eq!(reply.status, 409, "{case}: {}", reply.body);
        assert_eq!(reply.body["message"], CANNOT_OPEN, "{case}");
        assert_eq!(w.net.attempts.get(), 0, "{case}: nothing sent");
        assert_eq!(w.executions(), json!(0), "{case}: nothing recorded");
        assert!(!w.logs.borrow().join("\n").contains(TOKEN), "{case}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_expired_oauth_token_is_refused_naming_the_expiry_and_the_fix() {
    let w = World::new();
    set(
        &w,
        "srv-a",
        "oauth_token",
        json!({"access_token": TOKEN, "expires_in": 60}),
    )
    .await;
    w.net.now.set(w.net.now.get() + 61_000);
    let reply = call_echo(&w).await;
    assert_eq!(reply.status, 409);
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.contains("expired at 2026-11-21T20:18:36.000Z"),
        "{message}"
    );
    assert!(message.contains("set_credential"), "{message}");
    assert_eq!(w.net.attempts.get(), 0);
    assert_eq!(w.executions(), json!(0));
}

#[tokio::test(flavor = "current_thread")]
async fn rotation_keeps_old_credentials_working_and_reencrypt_moves_them_to_the_new_key() {
    let mut w = World::new();
    set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    let old_value =
        w.db.scalar("SELECT encrypted_value FROM mcp_server_credentials");
    w.settings.credential_keys = Ok(ring(&[("k2", 2), ("k1", 1)]));

    call_echo(&w).await;
    assert_eq!(
        w.net.sent_header("authorization"),
        Some(format!("Bearer {TOKEN}"))
    );

    let admin = identity("team-a", Role::Admin);
    let r = w
        .run(&admin, json!({"action": "reencrypt_credentials"}))
        .await
        .unwrap();
    assert_eq!(
        (
            r.body["reencrypted"].clone(),
            r.body["already_current"].clone(),
            r.body["key_id"].clone()
        ),
        (json!(1), json!(0), json!("k2"))
    );
    assert_eq!(
        w.db.scalar("SELECT key_id FROM mcp_server_credentials"),
        json!("k2")
    );
    assert_ne!(
        w.db.scalar("SELECT encrypted_value FROM mcp_server_credentials"),
        old_value
    );

    // The old key can now be retired.
    w.settings.credential_keys = Ok(ring(&[("k2", 2)]));
    w.net.requests.borrow_mut().clear();
    call_echo(&w).await;
    assert_eq!(
        w.net.sent_header("authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
    let again = w
        .run(&admin, json!({"action": "reencrypt_credentials"}))
        .await
        .unwrap();
    assert_eq!(again.body["already_current"], 1);
}

#[tokio::test(flavor = "current_thread")]
async fn reencrypt_reports_credentials_it_cannot_open_and_leaves_them() {
    let mut w = World::new();
    set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    w.settings.credential_keys = Ok(ring(&[("k2", 2)]));
    let r = w
        .run(
            &identity("team-a", Role::Admin),
            json!({"action": "reencrypt_credentials"}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["success"], false);
    assert!(r.body["error"]
        .as_str()
        .is_some_and(|e| e.contains("1 credentials could not be re-encrypted")));
    assert_eq!(r.body["failed"][0]["server_id"], "srv-a");
    assert_eq!(
        w.db.scalar("SELECT key_id FROM mcp_server_credentials"),
        json!("k1")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn delete_credential_and_delete_server_remove_the_sealed_value() {
    let w = World::new();
    let admin = identity("team-a", Role::Admin);
    set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    let r = w
        .run(
            &admin,
            json!({"action": "delete_credential", "server_id": "srv-a"}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["deleted"], true);
    call_echo(&w).await;
    assert_eq!(w.net.sent_header("authorization"), None);
    set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    w.run(
        &admin,
        json!({"action": "delete_server", "server_id": "srv-a"}),
    )
    .await
    .unwrap();
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_server_credentials"),
        json!(0)
    );
    assert_eq!(w.executions(), json!(1), "history stays");
}

#[tokio::test(flavor = "current_thread")]
async fn setting_a_credential_drops_the_upstream_session_and_cached_lists() {
    let w = World::new();
    for key in [
        crate::cache::keys::mcp_session("srv-a"),
        crate::cache::keys::tools_of_server("team-a", "srv-a").unwrap(),
    ] {
        super::Cache::put(&w.cache, &key, "x", 300).await.unwrap();
    }
    set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    assert!(w.cache.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_credentials_and_missing_keys_are_refused_without_echoing_values() {
    let mut w = World::new();
    let admin = identity("team-a", Role::Admin);
    let err = w
        .run(&admin, json!({"action": "set_credential", "server_id": "srv-a", "credential_type": "bearer", "credential": {"token": format!("{TOKEN}\n")}}))
        .await
        .unwrap_err();
    assert_eq!(err.details()["field"], "credential.token");
    assert!(!err.to_string().contains(TOKEN));
    w.settings.credential_keys = Err(KeyRingError::NotConfigured);
    let err = w
        .run(&admin, json!({"action": "set_credential", "server_id": "srv-a", "credential_type": "bearer", "credential": {"token": TOKEN}}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "internal_error");
    assert!(!err.public_message().contains(TOKEN));
    assert_eq!(
        w.db.scalar("SELECT count(*) FROM mcp_server_credentials"),
        json!(0)
    );
}

async fn update(w: &World, changes: Value) -> super::super::Reply {
    let mut body = json!({"action": "update_server", "server_id": "srv-a"});
    body.as_object_mut()
        .unwrap()
        .extend(changes.as_object().unwrap().clone());
    w.run(&identity("team-a", Role::Admin), body).await.unwrap()
}

fn credentials_of_srv_a(w: &World) -> Value {
    w.db.scalar("SELECT count(*) FROM mcp_server_credentials WHERE server_id = 'srv-a'")
}

#[tokio::test(flavor = "current_thread")]
async fn a_change_that_keeps_the_origin_keeps_the_credential() {
    let w = World::new();
    set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    for changes in [
        json!({"description": "new description", "name": "alpha2"}),
        json!({"config": {"url": "http://127.0.0.1:9/other/path?x=1"}}),
        json!({"config": {"url": "HTTP://127.0.0.1:9/mcp", "headers": {"X-Trace": "1"}}}),
        json!({"is_active": true}),
    ] {
        let reply = update(&w, changes.clone()).await;
        assert_eq!(reply.body["credential_removed"], false, "{changes}");
        assert_eq!(
            reply.body["server"]["credential"]["is_set"], true,
            "{changes}"
        );
    }
    assert_eq!(credentials_of_srv_a(&w), json!(1));
    call_echo(&w).await;
    assert_eq!(
        w.net.sent_header("authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
    assert!(
        w.net.requests.borrow()[0]
            .url
            .eq_ignore_ascii_case("http://127.0.0.1:9/mcp"),
        "the last URL set"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn moving_a_server_to_another_origin_removes_its_credential_and_says_so() {
    for url in [
        "http://127.0.0.2:9/mcp",
        "http://127.0.0.1:10/mcp",
        "https://127.0.0.1:9/mcp",
        "http://localhost:9/mcp",
    ] {
        let w = World::new();
        set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
        let reply = update(&w, json!({"config": {"url": url}})).await;
        assert_eq!(reply.body["credential_removed"], true, "{url}");
        assert_eq!(
            reply.body["server"]["credential"],
            json!({"is_set": false}),
            "{url}"
        );
        assert_eq!(credentials_of_srv_a(&w), json!(0), "{url}");
        assert!(
            w.logs.borrow().iter().any(|l| l.contains("removed")),
            "{url}"
        );
        call_echo(&w).await;
        {
            let sent = w.net.requests.borrow();
            assert!(!sent.is_empty(), "{url}");
            assert!(sent.iter().all(|r| r.url.starts_with(url)), "{url}");
            assert!(
                !sent
                    .iter()
                    .flat_map(|r| r.headers.iter())
                    .any(|(_, v)| v.contains(TOKEN)),
                "{url}: the new origin never gets the credential"
            );
        }
        // Pointing it back does not bring the credential back.
        let back = update(&w, json!({"config": {"url": "http://127.0.0.1:9/mcp"}})).await;
        assert_eq!(back.body["credential_removed"], false);
        assert_eq!(back.body["server"]["credential"]["is_set"], false);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_update_keeps_the_credential() {
    let w = World::new();
    set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    let err = w
        .run(
            &identity("team-a", Role::Admin),
            json!({"action": "update_server", "server_id": "srv-a", "name": "alpha-off",
                   "config": {"url": "http://127.0.0.2:9/mcp"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "name taken");
    assert_eq!(credentials_of_srv_a(&w), json!(1));
    assert_eq!(
        w.db.scalar("SELECT config FROM mcp_servers WHERE id = 'srv-a'"),
        json!("{\"url\":\"http://127.0.0.1:9/mcp\"}")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_stdio_server_keeps_its_credential_only_for_the_same_command_line() {
    let mut w = World::new();
    w.settings.stdio_allowed_commands = crate::server_config::AllowedCommands::parse("npx,uvx");
    // Free-form command lines are an operator's (connector servers: tests/connectors.rs).
    w.settings.freeform_stdio = crate::actions::FreeformStdio::On;
    let admin = identity("team-a", Role::Admin);
    let created = w
        .run(
            &admin,
            json!({"action": "create_server", "name": "fs", "server_type": "stdio",
                   "config": {"command": "npx", "args": ["-y", "pkg"], "env_names": ["API_KEY"]}}),
        )
        .await
        .unwrap();
    let id = created.body["server"]["id"].as_str().unwrap().to_string();
    let set_env = || {
        w.run(
            &admin,
            json!({"action": "set_credential", "server_id": id, "credential_type": "custom_headers",
                   "credential": {"headers": {"API_KEY": TOKEN}}}),
        )
    };
    let upd = |config: Value| {
        w.run(
            &admin,
            json!({"action": "update_server", "server_id": id, "config": config}),
        )
    };
    set_env().await.unwrap();
    let same =
        upd(json!({"command": "npx", "args": ["-y", "pkg"], "env_names": ["API_KEY", "OTHER"]}))
            .await
            .unwrap();
    assert_eq!(same.body["credential_removed"], false);
    for moved in [
        json!({"command": "npx", "args": ["-y", "evil-pkg"]}),
        json!({"command": "uvx", "args": ["-y", "pkg"]}),
        json!({"command": "npx", "args": ["-y", "pkg", "--extra"]}),
    ] {
        set_env().await.unwrap();
        let reply = upd(moved.clone()).await.unwrap();
        assert_eq!(reply.body["credential_removed"], true, "{moved}");
        assert_eq!(reply.body["server"]["credential"]["is_set"], false);
        // Back to the original command line, for the next case.
        upd(json!({"command": "npx", "args": ["-y", "pkg"]}))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_value_sealed_before_destinations_were_bound_is_refused_with_what_to_do() {
    let w = World::new();
    // The v1 format: the same fields, no destination.
    let mut aad = b"mcp-edge/credential/v1".to_vec();
    for field in ["team-a", "srv-a", "bearer", "", ""] {
        aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    let material = crate::credentials::Material::Bearer {
        token: TOKEN.into(),
    };
    let sealed = ring(&[("k1", 1)]).seal(&aad, &material.to_plaintext());
    w.db.exec(&format!(
        "INSERT INTO mcp_server_credentials (id, server_id, team_id, credential_type, encrypted_value, key_id) \
         VALUES ('cred-v1', 'srv-a', 'team-a', 'bearer', '{}', 'k1')",
        sealed.value
    ));
    let reply = call_echo(&w).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(
        reply.body["message"],
        "credential for server 'alpha' was stored before credentials were bound to their server's \
         address and is not used; nothing was sent; set it again with set_credential"
    );
    assert_eq!(w.net.attempts.get(), 0);
    let r = w
        .run(
            &identity("team-a", Role::Admin),
            json!({"action": "reencrypt_credentials"}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["success"], false);
    assert!(r.body["failed"][0]["error"]
        .as_str()
        .unwrap()
        .contains("stored before credentials were bound"));
    set(&w, "srv-a", "bearer", json!({"token": TOKEN})).await;
    call_echo(&w).await;
    assert_eq!(
        w.net.sent_header("authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
}

/// The seed design's `config.auth` block (`{"type": "api_key", "header": …}`) says how the
/// credential is applied: a call before the credential exists is refused at once, a
/// credential of another type is refused, and an `api_key` lands in the named header.
#[tokio::test(flavor = "current_thread")]
async fn the_seeds_config_auth_block_decides_how_the_credential_is_applied() {
    let w = World::new();
    let admin = identity("team-a", Role::Admin);
    let updated = w
        .run(
            &admin,
            json!({"action": "update_server", "server_id": "srv-a", "config": {
                "url": "http://127.0.0.1:9/mcp",
                "auth": {"type": "api_key", "header": "X-N8N-API-Key"}}}),
        )
        .await
        .unwrap();
    assert_eq!(
        updated.body["server"]["config"]["auth"]["header"],
        "X-N8N-API-Key"
    );

    let early = call_echo(&w).await;
    assert_eq!(early.status, 409, "{}", early.body);
    let message = early.body["message"].as_str().unwrap();
    assert!(
        message.contains("api_key") && message.contains("set_credential"),
        "{message}"
    );
    assert!(w.net.sent_header("x-n8n-api-key").is_none(), "nothing sent");

    let wrong = w
        .answer(
            &admin,
            json!({"action": "set_credential", "server_id": "srv-a", "credential_type": "bearer",
                   "credential": {"token": TOKEN}}),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(wrong.body["details"]["expected"], "api_key");
    assert!(!wrong.body.to_string().contains(TOKEN));

    set(&w, "srv-a", "api_key", json!({"value": TOKEN})).await;
    let reply = call_echo(&w).await;
    assert_eq!(reply.status, 502, "the test network refuses, after sending");
    assert_eq!(w.net.sent_header("x-n8n-api-key").as_deref(), Some(TOKEN));

    // A block that carries the secret itself is refused, naming set_credential.
    let leaky = w
        .answer(
            &admin,
            json!({"action": "update_server", "server_id": "srv-a", "config": {
                "url": "http://127.0.0.1:9/mcp", "auth": {"type": "api_key", "key": TOKEN}}}),
        )
        .await;
    assert_eq!(leaky.status, 400, "{}", leaky.body);
    assert!(leaky.body["message"]
        .as_str()
        .unwrap()
        .contains("set_credential"));
    assert!(!leaky.body.to_string().contains(TOKEN));
}
