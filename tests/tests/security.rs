//! The gateway on the public internet (issue 4), driven through the real workers under
//! `wrangler dev`: a JWT attack matrix, CORS, a hostile-input corpus, and a scan proving the
//! JWT secret never leaks into a response or a log line.

use integration::jwt::{claims, now_secs, sign, sign_with_header};
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name) VALUES ('team-a', 'Team A'); \
    INSERT INTO team_members (team_id, user_id, role) VALUES ('team-a', 'u1', 'member'), \
    ('team-a', 'leak-check', 'member');";
const ALLOWED_ORIGIN: &str = "http://localhost:5173";
/// This stack pins an issuer and an audience, as a production deployment should.
const ISSUER: &str = "https://auth.mcp-edge.test/auth/v1";
const AUDIENCE: &str = "authenticated";

/// A valid token for this stack: the harness's claims plus the pinned issuer and audience.
fn token(stack: &Stack, user: &str, role: &str) -> String {
    sign(&stack.jwt_secret, &valid_claims(user, role))
}

fn valid_claims(user: &str, role: &str) -> Value {
    let mut c = claims(user, "team-a", role);
    c["iss"] = json!(ISSUER);
    c["aud"] = json!(AUDIENCE);
    c
}

fn assert_error(answer: &Answer, status: u16, code: &str, context: &str) {
    assert_eq!(answer.status, status, "{context}: {}", answer.text);
    assert_eq!(answer.body["code"], code, "{context}: {}", answer.text);
    assert_eq!(answer.body["status"], "error", "{context}");
    let id = answer
        .header("x-request-id")
        .unwrap_or_else(|| panic!("{context}: no X-Request-Id"));
    assert_eq!(answer.body["request_id"], id, "{context}");
}

#[test]
fn gateway_refuses_hostile_callers_and_input() {
    // As production should: pinned issuer and audience, no Server-Timing.
    let stack = Stack::start_with_vars(
        SEED,
        &[
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("SERVER_TIMING", "false"),
        ],
    );
    jwt_attacks_are_refused_with_auth_errors(&stack);
    server_timing_is_not_answered_when_turned_off(&stack);
    cors_allows_only_configured_origins(&stack);
    hostile_bodies_get_documented_errors_never_500(&stack);
    chunked_bodies_past_the_limit_are_cut_off(&stack);
    ids_that_are_no_ids_never_read_the_team_wide_cache(&stack);
    jwt_secret_never_leaks(&stack);
}

fn server_timing_is_not_answered_when_turned_off(stack: &Stack) {
    let answer = list_servers(stack, &token(stack, "u1", "member"));
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("server-timing"), None, "{:?}", answer.headers);
    let refused = list_servers(stack, "not-a-token");
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("server-timing"),
        None,
        "{:?}",
        refused.headers
    );
}

fn list_servers(stack: &Stack, token: &str) -> Answer {
    stack.call(token, json!({"action": "list_servers"}))
}

fn jwt_attacks_are_refused_with_auth_errors(stack: &Stack) {
    let secret = &stack.jwt_secret;
    let valid = valid_claims("u1", "member");
    assert_eq!(
        list_servers(stack, &sign(secret, &valid)).status,
        200,
        "the valid baseline passes"
    );
    let mut listed = valid.clone();
    listed["aud"] = json!(["other", AUDIENCE]);
    assert_eq!(
        list_servers(stack, &sign(secret, &listed)).status,
        200,
        "our audience inside a list passes"
    );
    let harness_token = stack.token("u1", "team-a", "member");
    assert_error(
        &list_servers(stack, &harness_token),
        401,
        "auth_error",
        "a token without the pinned iss/aud",
    );

    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = valid.clone();
        edit(&mut c);
        sign(secret, &c)
    };
    let now = now_secs();
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let without = |claim: &'static str| {
        with(&|c| {
            c.as_object_mut().unwrap().remove(claim);
        })
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.example/auth/v1")),
        ),
        ("no issuer", without("iss")),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("service_role")),
        ),
        (
            "audience list without ours",
            with(&|c| c["aud"] = json!(["a", "b"])),
        ),
        ("no audience", without("aud")),
        (
            "expired an hour ago",
            with(&|c| c["exp"] = json!(now - 3600)),
        ),
        (
            "not valid for another hour",
            with(&|c| c["nbf"] = json!(now + 3600)),
        ),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "signed with another secret",
            sign("another-secret-that-is-long-enough-to-use!!", &valid),
        ),
        (
            "alg none, no signature",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&valid)
            ),
        ),
        ("alg none, with the right signature", {
            let t = sign(secret, &valid);
            let sig = t.rsplit('.').next().unwrap().to_string();
            format!("{}.{}.{sig}", b64(&json!({"alg": "none"})), b64(&valid))
        }),
        (
            "HS512 is not pinned",
            sign_with_header(secret, &json!({"alg": "HS512", "typ": "JWT"}), &valid),
        ),
        (
            "RS256 header on an HMAC signature (confusion)",
            sign_with_header(secret, &json!({"alg": "RS256", "typ": "JWT"}), &valid),
        ),
        (
            "no sub",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        ("payload tampered after signing", {
            let t = sign(secret, &valid);
            let parts: Vec<&str> = t.split('.').collect();
            let mut forged = valid.clone();
            forged["user_metadata"]["role"] = json!("admin");
            format!("{}.{}.{}", parts[0], b64(&forged), parts[2])
        }),
        ("garbage", "definitely.not.a-jwt".into()),
        ("one part", "abc".into()),
        ("four parts", format!("{}.x", sign(secret, &valid))),
        ("huge", "a".repeat(20_000)),
    ];
    // Team and role are ours to know (team_members): a token's team claims are neither needed
    // nor read, so a token without them, or with an empty one, is the same user in team-a.
    for (what, token) in [
        (
            "no team claim",
            with(&|c| {
                c["user_metadata"]
                    .as_object_mut()
                    .unwrap()
                    .remove("team_id");
            }),
        ),
        (
            "empty team claim",
            with(&|c| c["user_metadata"]["team_id"] = json!("")),
        ),
    ] {
        let answer = list_servers(stack, &token);
        assert_eq!(answer.status, 200, "{what}: {}", answer.text);
    }
    for (what, token) in cases {
        let answer = list_servers(stack, &token);
        assert_error(&answer, 401, "auth_error", what);
        assert!(
            !answer.text.contains(secret.as_str()),
            "{what}: secret in answer"
        );
    }
    for header in ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer"] {
        let answer = stack.request(
            "POST",
            "/",
            None,
            Some(r#"{"action":"list_servers"}"#),
            &[("authorization", header)],
        );
        assert_error(
            &answer,
            401,
            "auth_error",
            &format!("Authorization: {header:?}"),
        );
    }
    // A member cannot make themselves admin without the secret; the forged role above was
    // refused, and a real member token cannot do admin work.
    let member = sign(secret, &valid);
    let answer = stack.call(&member, json!({"action": "sync_tools"}));
    assert_error(
        &answer,
        403,
        "authorization_error",
        "member runs sync_tools",
    );
}

fn cors_allows_only_configured_origins(stack: &Stack) {
    let preflight = |origin: &str| {
        stack.request(
            "OPTIONS",
            "/",
            None,
            None,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
        )
    };
    let ok = preflight(ALLOWED_ORIGIN);
    assert_eq!(ok.status, 204, "{}", ok.text);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    assert!(ok
        .header("access-control-allow-headers")
        .unwrap()
        .to_lowercase()
        .contains("authorization"));
    assert!(ok
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_ne!(ok.header("access-control-allow-credentials"), Some("true"));

    let evil = preflight("https://evil.example");
    assert_eq!(
        evil.header("access-control-allow-origin"),
        None,
        "unlisted origin gets no CORS grant"
    );

    let token = token(stack, "u1", "member");
    let answer = stack.request(
        "POST",
        "/",
        Some(&token),
        Some(r#"{"action":"list_servers"}"#),
        &[("origin", ALLOWED_ORIGIN)],
    );
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    assert!(answer
        .header("access-control-expose-headers")
        .unwrap()
        .contains("X-Request-Id"));
    let denied = stack.request("POST", "/", None, Some("{}"), &[("origin", ALLOWED_ORIGIN)]);
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN),
        "errors carry CORS headers too, so the PWA can read them"
    );
}

fn hostile_bodies_get_documented_errors_never_500(stack: &Stack) {
    let token = token(stack, "u1", "member");
    let deep = format!(
        "{{\"action\":\"list_servers\",\"x\":{}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let corpus: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("empty", b"".to_vec(), 400, "validation_error"),
        ("whitespace", b"  \n ".to_vec(), 400, "validation_error"),
        (
            "truncated",
            br#"{"action":"list_ser"#.to_vec(),
            400,
            "validation_error",
        ),
        (
            "trailing garbage",
            br#"{"action":"list_servers"} x"#.to_vec(),
            400,
            "validation_error",
        ),
        ("json null", b"null".to_vec(), 400, "validation_error"),
        ("number", b"42".to_vec(), 400, "validation_error"),
        (
            "array",
            br#"[{"action":"list_servers"}]"#.to_vec(),
            400,
            "validation_error",
        ),
        (
            "action null",
            br#"{"action":null}"#.to_vec(),
            400,
            "validation_error",
        ),
        (
            "action object",
            br#"{"action":{"$ne":1}}"#.to_vec(),
            400,
            "validation_error",
        ),
        (
            "action sql",
            br#"{"action":"list_servers' OR 1=1 --"}"#.to_vec(),
            400,
            "validation_error",
        ),
        (
            "server_id array",
            br#"{"action":"list_tools","server_id":["a"]}"#.to_vec(),
            400,
            "validation_error",
        ),
        (
            "server_id sql",
            br#"{"action":"list_tools","server_id":"x' OR '1'='1"}"#.to_vec(),
            404,
            "not_found",
        ),
        (
            "server_id too long",
            format!(
                r#"{{"action":"list_tools","server_id":"{}"}}"#,
                "a".repeat(5000)
            )
            .into_bytes(),
            400,
            "validation_error",
        ),
        (
            "parameters string",
            br#"{"action":"call_tool","server_id":"s","tool_name":"t","parameters":"{}"}"#.to_vec(),
            400,
            "validation_error",
        ),
        ("deep nesting", deep.into_bytes(), 400, "validation_error"),
        (
            "invalid utf-8",
            b"{\"action\":\"list_servers\",\"x\":\"\xff\xfe\"}".to_vec(),
            400,
            "validation_error",
        ),
        (
            "lone surrogate",
            br#"{"action":"list_servers","x":"\ud800"}"#.to_vec(),
            400,
            "validation_error",
        ),
        (
            "nul in action",
            b"{\"action\":\"list_servers\\u0000\"}".to_vec(),
            400,
            "validation_error",
        ),
        (
            "utf-8 bom",
            b"\xef\xbb\xbf{\"action\":\"list_servers\"}".to_vec(),
            400,
            "validation_error",
        ),
        (
            "huge body",
            format!(
                r#"{{"action":"list_servers","x":"{}"}}"#,
                "y".repeat(2 * 1024 * 1024)
            )
            .into_bytes(),
            413,
            "payload_too_large",
        ),
    ];
    for (what, body, status, code) in corpus {
        let answer = raw_post(stack, &token, body);
        assert_error(&answer, status, code, what);
    }
    // Unicode that is valid is fine anywhere.
    let emoji = stack.call(
        &token,
        json!({"action": "list_tools", "server_id": "🦀-\u{202e}-名前"}),
    );
    assert_error(&emoji, 404, "not_found", "valid unicode id");
    let typed = stack.request(
        "POST",
        "/",
        Some(&token),
        Some(r#"{"action":"list_servers"}"#),
        &[("content-type", "text/plain")],
    );
    // The harness sets application/json; a second header makes the type ambiguous: still refused or accepted, never 500.
    assert!(typed.status < 500, "{}", typed.text);
}

/// A body without Content-Length (chunked transfer encoding) is refused with 413 as it
/// streams in, like a declared one.
fn chunked_bodies_past_the_limit_are_cut_off(stack: &Stack) {
    use std::io::Read;
    let token = token(stack, "u1", "member");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let chunked = |size: u64| {
        let head = std::io::Cursor::new(br#"{"action":"list_servers","x":""#.to_vec());
        let tail = std::io::Cursor::new(br#""}"#.to_vec());
        let mut reader = head.chain(std::io::repeat(b'y').take(size)).chain(tail);
        let mut r = agent
            .post(format!("{}/", stack.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .send(ureq::SendBody::from_reader(&mut reader))
            .expect("request");
        let status = r.status().as_u16();
        let header = r
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_string());
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (status, header, text)
    };
    let (status, header, text) = chunked(1024 * 1024);
    assert_eq!(status, 413, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "payload_too_large", "{text}");
    assert_eq!(body["request_id"].as_str(), header.as_deref());
    // A small chunked body is read whole and served.
    let (status, _, text) = chunked(100);
    assert_eq!(status, 200, "{text}");
}

/// `server_id: "*"` once named the team-wide tool list's cache entry: warm it, then ask.
fn ids_that_are_no_ids_never_read_the_team_wide_cache(stack: &Stack) {
    let token = token(stack, "u1", "member");
    for _ in 0..2 {
        let all = stack.call(&token, json!({"action": "list_tools"}));
        assert_eq!(all.status, 200, "{}", all.text);
    }
    for odd in ["*", "a:b", "*:*"] {
        let answer = stack.call(&token, json!({"action": "list_tools", "server_id": odd}));
        assert_error(&answer, 404, "not_found", odd);
    }
}

fn raw_post(stack: &Stack, token: &str, body: Vec<u8>) -> Answer {
    // Bodies that are not valid UTF-8 go through ureq directly.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(format!("{}/", stack.base))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(&body[..])
        .expect("request");
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn jwt_secret_never_leaks(stack: &Stack) {
    let log = stack.log_text();
    assert!(!log.is_empty());
    assert!(
        !log.contains(stack.jwt_secret.as_str()),
        "JWT secret in the wrangler/worker log"
    );
    // Tokens are bearer credentials too: no log line carries one.
    let token = token(stack, "leak-check", "member");
    list_servers(stack, &token);
    let log = stack.await_log("list_servers by user leak-check");
    assert!(!log.contains(&token), "a bearer token reached the log");
    assert!(
        log.contains("\"request_id\""),
        "worker log lines carry the request id"
    );
}
