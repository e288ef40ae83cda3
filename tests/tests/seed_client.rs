//! The seed PWA client's requests, replayed as it sends them (`supabase.functions.invoke`:
//! `POST /functions/v1/mcp-client` with `apikey` and `x-client-info` beside the bearer token,
//! after a CORS preflight), against a free team: its N+1 loop (`list_servers`, then
//! `list_tools` once per server), tool calls that succeed, a tool that reports an error, and
//! refused calls. Every answer must be one the seed's code path handles (`seed_handles`), and
//! the whole session must fit a free team's budget with room for many more.

use integration::servers::python_streamable;
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name, tier) VALUES ('team-free', 'Free Team', 'free');";
const ORIGIN: &str = "http://localhost:5173";
const SEED_PATH: &str = "/functions/v1/mcp-client";
/// What supabase-js sends beside the bearer token.
const SUPABASE_HEADERS: [(&str, &str); 3] = [
    ("origin", ORIGIN),
    ("apikey", "anon-key-of-the-project"),
    ("x-client-info", "supabase-js-web/2.45.0"),
];

/// What the seed's code does with an answer, as checks: the listing methods read arrays of
/// objects with the fields they show; `executeTool` reads `success` and, when false, shows
/// `error` to the model; a non-2xx answer is shown by its `error` text. Every answer carries
/// the request id. Answers `Err(why)` for an answer the seed would have mishandled.
fn seed_handles(action: &str, answer: &Answer) -> Result<(), String> {
    let body = &answer.body;
    let text = |v: &Value| v.as_str().is_some_and(|s| !s.trim().is_empty());
    if answer.header("x-request-id").is_none_or(str::is_empty) {
        return Err("no X-Request-Id".into());
    }
    if answer.header("access-control-allow-origin") != Some(ORIGIN) {
        return Err("the browser would not let the page read it (CORS)".into());
    }
    if !(200..300).contains(&answer.status) {
        return if text(&body["error"]) {
            Ok(())
        } else {
            Err("an error answer without an `error` string".into())
        };
    }
    match action {
        "list_servers" => {
            let servers = body["servers"].as_array().ok_or("no `servers` array")?;
            for s in servers {
                if !(text(&s["id"]) && text(&s["name"]) && s["is_active"].is_boolean()) {
                    return Err(format!("a server without id/name/is_active: {s}"));
                }
            }
        }
        "list_tools" => {
            let tools = body["tools"].as_array().ok_or("no `tools` array")?;
            for t in tools {
                if !(text(&t["tool_name"])
                    && text(&t["server_id"])
                    && t["input_schema"].is_object())
                {
                    return Err(format!(
                        "a tool without tool_name/server_id/input_schema: {t}"
                    ));
                }
            }
        }
        "call_tool" => match body["success"].as_bool() {
            Some(true) if !body["result"].is_null() => {}
            Some(false) if text(&body["error"]) => {}
            Some(false) => return Err("success:false without an `error` string".into()),
            _ => return Err("no `success` flag, or success without `result`".into()),
        },
        other => return Err(format!("the seed never sends {other}")),
    }
    Ok(())
}

struct Session<'a> {
    stack: &'a Stack,
    token: String,
    answers: Vec<(String, Answer)>,
}

impl Session<'_> {
    fn send(&mut self, body: Value) -> &Answer {
        let action = body["action"].as_str().unwrap().to_string();
        let answer = self.stack.request(
            "POST",
            SEED_PATH,
            Some(&self.token),
            Some(&body.to_string()),
            &SUPABASE_HEADERS,
        );
        if let Err(why) = seed_handles(&action, &answer) {
            panic!(
                "the seed client would mishandle {body}: {why}\n{} {}",
                answer.status, answer.text
            );
        }
        self.answers.push((action, answer));
        &self.answers.last().unwrap().1
    }
}

#[test]
fn the_seed_clients_session_is_handled_answer_by_answer_within_a_free_teams_budget() {
    let python = python_streamable();
    let stack = Stack::start(SEED);
    let admin = stack.token("dana", "team-free", "admin");
    let member = stack.token("carol", "team-free", "member");
    // Three servers (the seed's dashboard shows each), all on the real Python SDK server.
    for name in ["alpha", "beta", "gamma"] {
        let created = stack.call(
            &admin,
            json!({"action": "create_server", "name": name, "server_type": "http",
                   "config": {"url": python.url}, "sync": true}),
        );
        assert_eq!(created.status, 201, "{}", created.text);
    }

    // supabase-js's preflight: its extra headers are allowed.
    let preflight = stack.request(
        "OPTIONS",
        SEED_PATH,
        None,
        None,
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, x-client-info, apikey, content-type",
            ),
        ],
    );
    assert_eq!(preflight.status, 204);
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for h in ["authorization", "x-client-info", "apikey", "content-type"] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }

    let mut session = Session {
        stack: &stack,
        token: member,
        answers: Vec::new(),
    };
    // The seed's load: list_servers, then list_tools per server (N+1).
    let servers: Vec<String> = session.send(json!({"action": "list_servers"})).body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(servers.len(), 3);
    let mut per_server_ids = Vec::new();
    for id in &servers {
        let tools = session.send(json!({"action": "list_tools", "server_id": id}));
        for t in tools.body["tools"].as_array().unwrap() {
            assert_eq!(t["server_id"], json!(id));
            per_server_ids.push(t["id"].as_str().unwrap().to_string());
        }
    }
    // The documented way without N+1: one request, the same tools.
    let mut all_ids: Vec<String> = session.send(json!({"action": "list_tools"})).body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    per_server_ids.sort();
    all_ids.sort();
    assert_eq!(per_server_ids, all_ids);

    // executeTool: calls that succeed, a tool that reports an error, refused calls.
    let ok = session.send(json!({"action": "call_tool", "server_id": servers[0],
        "tool_name": "echo", "parameters": {"message": "from the seed"}}));
    assert_eq!(ok.body["success"], true, "{}", ok.text);
    let add = session.send(json!({"action": "call_tool", "server_id": servers[1],
        "tool_name": "add", "parameters": {"a": 2, "b": 3}}));
    assert_eq!(add.body["success"], true, "{}", add.text);
    let failed = session.send(json!({"action": "call_tool", "server_id": servers[2],
        "tool_name": "fail", "parameters": {"message": "the disk is full"}}));
    assert_eq!(failed.status, 200);
    assert_eq!(failed.body["success"], false);
    assert!(
        failed.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("the disk is full")),
        "the model reads the tool's own error, not 'undefined': {}",
        failed.text
    );
    let invalid = session.send(json!({"action": "call_tool", "server_id": servers[0],
        "tool_name": "echo", "parameters": {}}));
    assert_eq!(invalid.status, 400, "{}", invalid.text);
    let unknown = session.send(json!({"action": "call_tool", "server_id": servers[0],
        "tool_name": "no_such_tool", "parameters": {}}));
    assert_eq!(unknown.status, 404, "{}", unknown.text);

    // The budget: no answer was a 429, each request cost its documented weight (a read 1, a
    // call 2: RATE_LIMIT_READ_WEIGHT, RATE_LIMIT_CALL_TOOL_WEIGHT), and the session left most of
    // the free team's window.
    assert!(session.answers.iter().all(|(_, a)| a.status != 429));
    let cost: u64 = session
        .answers
        .iter()
        .map(|(action, _)| if action == "call_tool" { 2 } else { 1 })
        .sum();
    let last = &session.answers.last().unwrap().1;
    let limit: u64 = last.header("ratelimit-limit").unwrap().parse().unwrap();
    let remaining: u64 = last.header("ratelimit-remaining").unwrap().parse().unwrap();
    assert_eq!(limit, 100, "the free tier's budget per window");
    assert_eq!(
        limit - remaining,
        cost,
        "the session cost its requests' weights"
    );
    println!(
        "seed session: {} requests cost {cost} of the free team's {limit} per window ({} sessions fit)",
        session.answers.len(),
        limit / cost
    );
    assert!(
        cost * 5 <= limit,
        "a free team fits at least five seed sessions an hour"
    );

    // Past the budget the seed still handles what it gets: the 429 says why in `error`, with
    // Retry-After, on the page load's first request to hit it.
    let throttled = loop {
        let answer = session.send(json!({"action": "list_servers"}));
        if answer.status == 429 {
            break answer;
        }
        assert!(session.answers.len() < 200, "the budget never ran out");
    };
    assert_eq!(throttled.body["code"], "rate_limit", "{}", throttled.text);
    assert!(throttled.header("retry-after").is_some());
}
