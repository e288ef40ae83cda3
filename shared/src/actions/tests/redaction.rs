//! Hostile input at the actions: upstream text that echoes a credential in encoded forms never
//! reaches a log line, an answer or a row; body ids that are not ids never pick a cache entry.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use super::World;
use crate::actions::testing::identity;
use crate::identity::Role;

/// Has characters that every encoding changes (`/`, `+`, `=`, `&`, `"`).
const SECRET: &str = "k3y/with+odd=chars&\"quotes\"-0042";

/// What the echoing test network appends to its error: each header value base64-encoded
/// (both alphabets), percent-encoded, and JSON-escaped inside a JSON document in a string.
pub(super) fn echo_of(headers: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        let percent: String = value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let json_doc = json!({ name: value }).to_string();
        out.push_str(&format!(
            "; {name} b64={} b64url={} pct={percent} json={}",
            STANDARD.encode(value),
            URL_SAFE_NO_PAD.encode(value),
            serde_json::to_string(&json_doc).unwrap()
        ));
    }
    out
}

fn forms() -> Vec<(&'static str, String)> {
    let escaped = serde_json::to_string(SECRET).unwrap();
    vec![
        ("raw", SECRET.to_string()),
        ("base64", STANDARD.encode(SECRET)),
        ("base64url", URL_SAFE_NO_PAD.encode(SECRET)),
        ("percent", "k3y%2Fwith%2Bodd%3Dchars%26".to_string()),
        ("json-escaped", escaped[1..escaped.len() - 1].to_string()),
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_call_logs_no_form_of_the_credential_its_server_echoed() {
    let w = World::new();
    w.net.echo.set(true);
    w.run(
        &identity("team-a", Role::Admin),
        json!({"action": "set_credential", "server_id": "srv-a", "credential_type": "api_key",
               "credential": {"value": SECRET, "header_name": "X-Api-Key"}}),
    )
    .await
    .unwrap();
    let reply = w
        .answer(
            &identity("team-a", Role::Member),
            json!({"action": "call_tool", "server_id": "srv-a", "tool_name": "echo", "parameters": {"message": "hi"}}),
        )
        .await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert_eq!(w.net.sent_header("x-api-key").as_deref(), Some(SECRET));
    let logs = w.logs.borrow().join("\n");
    assert!(
        logs.contains("failed") && logs.contains("b64="),
        "the upstream error was logged: {logs}"
    );
    let row = w.db.scalar("SELECT error FROM mcp_tool_executions");
    for (what, form) in forms() {
        assert!(!logs.contains(&form), "{what} form in a log line: {logs}");
        assert!(
            !reply.body.to_string().contains(&form),
            "{what} form in the answer"
        );
        assert!(
            !row.to_string().contains(&form),
            "{what} form in the row: {row}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn list_tools_with_an_id_that_is_no_id_is_not_found_even_with_a_warm_team_cache() {
    let w = World::new();
    let member = identity("team-a", Role::Member);
    let team_wide = w
        .run(&member, json!({"action": "list_tools"}))
        .await
        .unwrap();
    assert_eq!(team_wide.status, 200);
    let again = w
        .run(&member, json!({"action": "list_tools"}))
        .await
        .unwrap();
    assert_eq!(again.body["cached"], true, "the team-wide list is cached");
    for odd in ["*", "srv-a:x", "srv-a ", "%2A", "../srv-a"] {
        let reply = w
            .answer(&member, json!({"action": "list_tools", "server_id": odd}))
            .await;
        assert_eq!(reply.status, 404, "{odd:?}: {}", reply.body);
        assert_eq!(reply.body["code"], "not_found", "{odd:?}");
        assert_eq!(reply.body.get("tools"), None::<&Value>);
    }
    let cached_entries = w.cache.len();
    let real = w
        .run(
            &member,
            json!({"action": "list_tools", "server_id": "srv-a"}),
        )
        .await
        .unwrap();
    assert_eq!(real.body["cached"], false);
    assert_eq!(w.cache.len(), cached_entries + 1, "a key of its own");
}

#[tokio::test(flavor = "current_thread")]
async fn debug_of_settings_and_the_cache_shows_no_key_token_or_session_id() {
    use crate::actions::Settings;
    use crate::cache::{Cache, MemoryCache};

    let ring_key = STANDARD.encode([9u8; 32]);
    let settings = Settings::from_vars(|name| match name {
        "CREDENTIAL_KEYS" => Some(format!("k1:{ring_key}")),
        "CONFIRMATION_SECRET" => Some("confirm-secret-31415926".into()),
        "BRIDGE_TOKEN" => Some("bridge-token-27182818".into()),
        _ => None,
    });
    assert!(settings.credential_keys.is_ok() && settings.bridge_token.is_some());
    let cache = MemoryCache::new();
    cache
        .put(
            &crate::cache::keys::mcp_session("srv-a"),
            r#"{"transport":"streamable_http","session_id":"sess-16180339"}"#,
            60,
        )
        .await
        .unwrap();
    for text in [format!("{settings:?}"), format!("{cache:?}")] {
        for secret in [
            ring_key.as_str(),
            "confirm-secret-31415926",
            "bridge-token-27182818",
            "sess-16180339",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
