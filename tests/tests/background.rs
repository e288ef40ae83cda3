//! Background executions (issue 17) through `wrangler dev` with the Python SDK server's `slow`
//! tool (progress and a log line every second; `--journal` records what the server saw):
//! start async, watch, drop the stream midway and resume with `Last-Event-ID` (no event
//! missed, ids contiguous), the result and a `success` row with its duration; cancel midway
//! (the server sees it, the row is `cancelled`, nothing stored later); who may watch and
//! cancel; the per-team cap (429); the team's completion webhook (a local receiver that fails
//! the first delivery gets exactly one accepted, signed final event); a runtime restart
//! mid-call ends the execution in a final state; a synchronous call that states a wait
//! (`wait_seconds`) answers 200 when the tool ends within it and 202 (one execution, followed
//! to its end) when not; a tasks-capable server (MCP 2025-11-25 tasks, the TypeScript SDK's
//! experimental tasks API: `tests/servers/task_server.mjs`, which journals each request) is
//! driven through `tasks/get` polling and `tasks/result`, cancelled with `tasks/cancel`, and
//! polled again after a runtime restart; `/mcp` calls with a `progressToken` answered as an
//! event stream of the execution's progress and logs, and a client's `notifications/cancelled`
//! cancelling one. One stack; scenarios in order.
//!
//! The tool runs `MCP_EDGE_BG_SECONDS` seconds (default 6) in the watched scenario; the long
//! run of the issue: `MCP_EDGE_BG_SECONDS=300 MCP_EDGE_PREBUILT=1 cargo test -p integration
//! --test background -- --test-threads=1`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use integration::free_port;
use integration::servers::{node_script, python_script, McpServer};
use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

const SEED: &str = "INSERT INTO teams (id, name, tier) VALUES ('team-a', 'Team A', 'pro'), ('team-b', 'Team B', 'pro');";
/// The team's cap of running executions in this stack.
const CAP: usize = 2;

struct World {
    stack: Stack,
    server_id: String,
    server_url: String,
    /// Started the executions; a member.
    alice: String,
    /// Another member of the same team.
    bob: String,
    /// An admin of the same team.
    boss: String,
    /// An admin of another team.
    mallory: String,
    journal: PathBuf,
    _server: McpServer,
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct Sse {
    id: u64,
    event: String,
    data: Value,
}

/// Reads events from `reader` until `stop` says so or the stream ends.
fn read_events(reader: &mut dyn BufRead, mut stop: impl FnMut(&[Sse]) -> bool) -> Vec<Sse> {
    let mut events = Vec::new();
    let (mut id, mut event, mut data) = (None, String::new(), String::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return events;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if let Some(id) = id.take() {
                events.push(Sse {
                    id,
                    event: std::mem::take(&mut event),
                    data: serde_json::from_str(&std::mem::take(&mut data)).expect("JSON data"),
                });
                if stop(&events) {
                    return events;
                }
            }
            continue;
        }
        if let Some(v) = l.strip_prefix("id: ") {
            id = Some(v.parse().expect("numeric id"));
        } else if let Some(v) = l.strip_prefix("event: ") {
            event = v.to_string();
        } else if let Some(v) = l.strip_prefix("data: ") {
            data.push_str(v);
        }
    }
}

fn is_final(e: &Sse) -> bool {
    matches!(e.event.as_str(), "result" | "error" | "cancelled")
}

fn start(w: &World, token: &str, seconds: u64, tag: &str) -> Answer {
    w.stack.call(
        token,
        json!({"action": "call_tool", "server_id": w.server_id, "tool_name": "slow",
               "parameters": {"seconds": seconds, "tag": tag}, "mode": "async"}),
    )
}

fn started(w: &World, seconds: u64, tag: &str) -> String {
    let answer = start(w, &w.alice, seconds, tag);
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.body["status"], "running");
    assert_eq!(answer.body["watch"]["stream"]["action"], "watch_execution");
    answer.body["execution_id"].as_str().unwrap().to_string()
}

fn get(w: &World, token: &str, id: &str) -> Answer {
    w.stack.call(
        token,
        json!({"action": "get_execution", "execution_id": id}),
    )
}

/// Polls `get_execution` until `done` holds of its `execution` (30 s at most).
fn await_state(w: &World, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = get(w, &w.alice, id);
        if answer.status == 200 && done(&answer.body["execution"]) {
            return answer.body["execution"].clone();
        }
        assert!(Instant::now() < deadline, "{what}: {}", answer.text);
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn await_journal(w: &World, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&w.journal).unwrap_or_default();
        if text.lines().any(|l| l == line) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never wrote {line:?}: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn row(w: &World, id: &str, status: &str) -> Value {
    let rows = w.stack.await_rows(
        &format!("SELECT status, duration_ms, output, error FROM mcp_tool_executions WHERE id = '{id}' AND status = '{status}'"),
        1,
    );
    rows[0].clone()
}

#[test]
fn background_executions_stream_resume_cancel_cap_and_survive_a_restart() {
    let journal = std::env::temp_dir().join(format!("mcp-edge-bg-journal-{}", std::process::id()));
    let _ = std::fs::remove_file(&journal);
    let server = python_script(
        "py-server-bg",
        "tests/servers/py_server.py",
        &[
            "--transport",
            "streamable-http",
            "--journal",
            journal.to_str().unwrap(),
        ],
        free_port(),
        "/mcp",
    );
    let stack =
        Stack::start_with_dev_vars(SEED, &[], &[("MAX_RUNNING_EXECUTIONS", &CAP.to_string())]);
    let boss = stack.token("boss", "team-a", "admin");
    let created = stack.call(
        &boss,
        json!({"action": "create_server", "name": "slowpoke", "server_type": "http",
               "config": {"url": server.url}, "sync": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let server_id = created.body["server"]["id"].as_str().unwrap().to_string();
    let mut w = World {
        alice: stack.token("alice", "team-a", "member"),
        bob: stack.token("bob", "team-a", "member"),
        mallory: stack.token("mallory", "team-b", "admin"),
        boss,
        stack,
        server_id,
        server_url: server.url.clone(),
        journal,
        _server: server,
    };

    a_watcher_that_reconnects_with_last_event_id_misses_nothing_and_the_row_is_success(&w);
    only_the_starter_and_the_teams_admins_see_watch_and_cancel(&w);
    a_cancelled_execution_stops_upstream_ends_cancelled_and_stores_no_result(&w);
    an_mcp_call_with_a_progress_token_streams_progress_logs_then_its_result(&w);
    an_mcp_cancel_notification_cancels_the_streamed_call(&w);
    the_teams_cap_of_running_executions_answers_429_until_one_ends(&w);
    a_stated_wait_answers_a_short_call_synchronously_and_a_slow_one_with_202(&w);
    let hook = receiver();
    a_webhook_that_fails_once_gets_exactly_one_signed_final_event(&w, &hook);
    a_runtime_restart_mid_call_ends_the_execution_in_a_final_state(&mut w);
    let received = hook.deliveries.lock().unwrap();
    assert_eq!(
        received.len(),
        2,
        "no delivery after the accepted one: {received:?}"
    );
    drop(received);
    a_task_server_is_polled_cancelled_and_resumed_after_a_restart(&mut w);
}

/// What the local webhook receiver got: the status it answered, the signature and delivery
/// headers, the body.
#[derive(Debug, Clone)]
struct Delivery {
    answered: u16,
    signature: String,
    delivery: String,
    body: String,
}

struct Receiver {
    url: String,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

/// A webhook receiver on a free loopback port that answers 500 to the first delivery and 200
/// to every later one.
fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let deliveries: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let seen = Arc::clone(&deliveries);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line.trim_end() != "" {
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
                line.clear();
            }
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let mut body = vec![0; header("content-length").parse().unwrap_or(0)];
            let _ = reader.read_exact(&mut body);
            let mut all = seen.lock().unwrap();
            let answered = if all.is_empty() { 500 } else { 200 };
            all.push(Delivery {
                answered,
                signature: header("x-mcp-edge-webhook-signature"),
                delivery: header("x-mcp-edge-delivery"),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            drop(all);
            let _ = write!(
                stream,
                "HTTP/1.1 {answered} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    Receiver { url, deliveries }
}

fn verify(secret: &str, signature: &str, body: &str) -> bool {
    let Some((t, v1)) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex == v1
}

fn a_webhook_that_fails_once_gets_exactly_one_signed_final_event(w: &World, hook: &Receiver) {
    // Team B's own server and webhook: team A's executions are not delivered there.
    let set = w.stack.call(
        &w.mallory,
        json!({"action": "set_webhook", "url": hook.url}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let secret = set.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let created = w.stack.call(
        &w.mallory,
        json!({"action": "create_server", "name": "slow-b", "server_type": "http",
               "config": {"url": w.server_url}, "sync": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let started = w.stack.call(
        &w.mallory,
        json!({"action": "call_tool", "server_id": created.body["server"]["id"], "tool_name": "slow",
               "parameters": {"seconds": 1, "tag": "hooked"}, "mode": "async"}),
    );
    assert_eq!(started.status, 202, "{}", started.text);
    let id = started.body["execution_id"].as_str().unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(60);
    while hook.deliveries.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no retry after the failed delivery"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let received = hook.deliveries.lock().unwrap().clone();
    assert_eq!(
        received.iter().map(|d| d.answered).collect::<Vec<_>>(),
        vec![500, 200]
    );
    for d in &received {
        assert_eq!(
            d.delivery, id,
            "the delivery id is the execution's, on every attempt"
        );
        assert!(
            verify(&secret, &d.signature, &d.body),
            "signed with the team's secret: {d:?}"
        );
        assert!(!verify("whsec_wrong", &d.signature, &d.body));
        let body: Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(body["type"], "execution.finished");
        assert_eq!(body["team_id"], "team-b");
        assert_eq!(body["execution"]["execution_id"], id.as_str());
        assert_eq!(body["execution"]["status"], "success");
        assert_eq!(body["event"]["kind"], "result");
        assert_eq!(
            body["event"]["data"]["result"]["content"][0]["text"],
            "slow hooked done"
        );
    }
}

fn a_watcher_that_reconnects_with_last_event_id_misses_nothing_and_the_row_is_success(w: &World) {
    let seconds: u64 = std::env::var("MCP_EDGE_BG_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    // The tool's background budget covers the run (its sync timeout stays the default).
    let budget = w.stack.call(
        &w.boss,
        json!({"action": "update_tool", "server_id": w.server_id, "tool_name": "slow",
               "async_timeout_seconds": seconds + 60}),
    );
    assert_eq!(budget.status, 200, "{}", budget.text);
    let id = started(w, seconds, "watched");
    let watch = json!({"action": "watch_execution", "execution_id": id});

    let (status, mut reader) = w.stack.open_stream(&w.alice, watch.clone(), &[]);
    assert_eq!(status, 200);
    let first = read_events(&mut *reader, |seen| seen.len() == 3);
    drop(reader); // the phone loses its connection
    assert_eq!(first.len(), 3, "{first:?}");
    let last_seen = first[2].id.to_string();

    // Resumed; a stream that ends before the final event (the test client gives up on a
    // request after 120 s, as phones do sooner) is resumed again, as clients do.
    let mut rest: Vec<Sse> = Vec::new();
    let mut last_seen = last_seen;
    while !rest.last().is_some_and(is_final) {
        let (status, mut reader) =
            w.stack
                .open_stream(&w.alice, watch.clone(), &[("Last-Event-ID", &last_seen)]);
        assert_eq!(status, 200);
        let more = read_events(&mut *reader, |seen| seen.last().is_some_and(is_final));
        assert!(
            !more.is_empty(),
            "a resumed stream brought nothing: {rest:?}"
        );
        last_seen = more.last().unwrap().id.to_string();
        rest.extend(more);
    }
    let all: Vec<Sse> = first.iter().chain(&rest).cloned().collect();
    let ids: Vec<u64> = all.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "contiguous ids, none twice"
    );
    // Every second: a progress and a log line; then the last progress and the result.
    let progress: Vec<f64> = all
        .iter()
        .filter(|e| e.event == "progress")
        .map(|e| e.data["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(
        progress,
        (0..=seconds).map(|i| i as f64).collect::<Vec<_>>()
    );
    assert_eq!(
        all.iter().filter(|e| e.event == "log").count() as u64,
        seconds
    );
    let end = all.last().unwrap();
    assert_eq!(end.event, "result", "{end:?}");
    assert_eq!(end.data["status"], "success");
    assert_eq!(
        end.data["result"]["content"][0]["text"],
        "slow watched done"
    );

    // A poller sees the same events; the row is final with the call's duration.
    let state = get(w, &w.alice, &id);
    assert_eq!(state.status, 200, "{}", state.text);
    assert_eq!(state.body["execution"]["status"], "success");
    assert_eq!(
        state.body["execution"]["events"].as_array().unwrap().len(),
        all.len()
    );
    let r = row(w, &id, "success");
    let duration = r["duration_ms"].as_u64().expect("a duration");
    assert!(
        duration >= seconds * 1000,
        "the tool ran {seconds} s; the row says {duration} ms"
    );
    assert!(r["output"].as_str().unwrap().contains("slow watched done"));
}

fn only_the_starter_and_the_teams_admins_see_watch_and_cancel(w: &World) {
    let id = started(w, 30, "private");
    for (who, token) in [
        ("another team's admin", &w.mallory),
        ("another member", &w.bob),
    ] {
        let seen = get(w, token, &id);
        assert_eq!(seen.status, 404, "{who} get: {}", seen.text);
        let (status, _) = w.stack.open_stream(
            token,
            json!({"action": "watch_execution", "execution_id": id}),
            &[],
        );
        assert_eq!(status, 404, "{who} watch");
        let cancel = w.stack.call(
            token,
            json!({"action": "cancel_execution", "execution_id": id}),
        );
        assert_eq!(cancel.status, 404, "{who} cancel: {}", cancel.text);
        assert_eq!(cancel.body["code"], "not_found");
    }
    assert_eq!(get(w, &w.boss, &id).body["execution"]["status"], "running");
    // The team's admin may cancel it.
    let cancel = w.stack.call(
        &w.boss,
        json!({"action": "cancel_execution", "execution_id": id}),
    );
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    row(w, &id, "cancelled");
}

fn a_cancelled_execution_stops_upstream_ends_cancelled_and_stores_no_result(w: &World) {
    let id = started(w, 30, "cancel-me");
    let (status, mut reader) = w.stack.open_stream(
        &w.alice,
        json!({"action": "watch_execution", "execution_id": id}),
        &[],
    );
    assert_eq!(status, 200);
    // Running upstream: its first progress arrived.
    let first = read_events(&mut *reader, |seen| {
        seen.iter().any(|e| e.event == "progress")
    });
    assert!(!first.is_empty());

    let cancel = w.stack.call(
        &w.alice,
        json!({"action": "cancel_execution", "execution_id": id}),
    );
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    assert_eq!(cancel.body["execution"]["status"], "cancelled");
    let rest = read_events(&mut *reader, |seen| seen.last().is_some_and(is_final));
    let end = rest.last().expect("the stream ends with the final event");
    assert_eq!(
        (end.event.as_str(), &end.data["status"]),
        ("cancelled", &json!("cancelled"))
    );

    await_journal(w, "cancelled cancel-me");
    let r = row(w, &id, "cancelled");
    assert_eq!(r["output"], Value::Null);
    assert_eq!(r["error"], "cancelled by alice");
    // Cancelling again: it already ended.
    let again = w.stack.call(
        &w.alice,
        json!({"action": "cancel_execution", "execution_id": id}),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    let state = get(w, &w.alice, &id).body["execution"].clone();
    assert_eq!(state["status"], "cancelled");
    let events = state["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["kind"], "cancelled");
    assert!(
        events.iter().all(|e| e["kind"] != "result"),
        "no result stored"
    );
}

/// Reads the JSON-RPC messages of an MCP event stream until `stop` says so or it ends.
fn read_messages(reader: &mut dyn BufRead, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return messages;
        }
        if let Some(data) = line.trim_end_matches(['\r', '\n']).strip_prefix("data: ") {
            let message: Value = serde_json::from_str(data).expect("a JSON-RPC message");
            let done = stop(&message);
            messages.push(message);
            if done {
                return messages;
            }
        }
    }
}

fn mcp_call(w: &World, id: u64, seconds: u64, tag: &str) -> Box<dyn BufRead + Send> {
    let (status, content_type, reader) = w.stack.open_stream_to(
        "/mcp/servers/slowpoke",
        &w.alice,
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "slow", "arguments": {"seconds": seconds, "tag": tag},
                          "_meta": {"progressToken": format!("pt-{id}")}}}),
        &[("accept", "application/json, text/event-stream")],
    );
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("text/event-stream"));
    reader
}

fn an_mcp_call_with_a_progress_token_streams_progress_logs_then_its_result(w: &World) {
    let mut reader = mcp_call(w, 41, 2, "mcp-streamed");
    let messages = read_messages(&mut *reader, |m| m.get("id").is_some());
    let response = messages.last().expect("a response");
    assert_eq!(response["id"], 41, "{messages:?}");
    assert_eq!(
        response["result"]["content"][0]["text"], "slow mcp-streamed done",
        "{response}"
    );
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "steps 0, 1 and done: {messages:?}");
    assert!(progress
        .iter()
        .all(|p| p["params"]["progressToken"] == "pt-41"));
    assert_eq!(
        progress
            .iter()
            .map(|p| p["params"]["progress"].as_f64().unwrap())
            .collect::<Vec<_>>(),
        [0.0, 1.0, 2.0]
    );
    let logs: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .collect();
    assert_eq!(logs.len(), 2, "{messages:?}");
    assert_eq!(logs[0]["params"]["data"], "mcp-streamed: step 0");
    assert_eq!(logs[0]["params"]["level"], "info");
    assert_eq!(messages.len(), 6, "nothing else: {messages:?}");
    let id = response["result"]["_meta"]["mcp-edge/execution_id"]
        .as_str()
        .unwrap();
    assert_eq!(row(w, id, "success")["error"], Value::Null);
}

fn an_mcp_cancel_notification_cancels_the_streamed_call(w: &World) {
    let mut reader = mcp_call(w, 42, 30, "mcp-cancel");
    let first = read_messages(&mut *reader, |m| m["method"] == "notifications/progress");
    let id = first.last().unwrap()["params"]["_meta"]["mcp-edge/execution_id"]
        .as_str()
        .expect("the execution id in the notification")
        .to_string();
    let notified = w.stack.request(
        "POST",
        "/mcp/servers/slowpoke",
        Some(&w.alice),
        Some(
            &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                     "params": {"requestId": 42, "reason": "user stopped it"}})
            .to_string(),
        ),
        &[("accept", "application/json, text/event-stream")],
    );
    assert_eq!(notified.status, 202, "{}", notified.text);
    let rest = read_messages(&mut *reader, |m| m.get("id").is_some());
    let end = rest.last().expect("the stream ends with a response");
    assert_eq!(
        (&end["id"], &end["error"]["code"]),
        (&json!(42), &json!(-32800)),
        "{end}"
    );
    await_journal(w, "cancelled mcp-cancel");
    assert_eq!(row(w, &id, "cancelled")["output"], Value::Null);
    // The mapping was used up: a second notification cancels nothing and is still accepted.
    let again = w.stack.request(
        "POST",
        "/mcp/servers/slowpoke",
        Some(&w.alice),
        Some(
            &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                     "params": {"requestId": 42}})
            .to_string(),
        ),
        &[],
    );
    assert_eq!(again.status, 202, "{}", again.text);
}

fn the_teams_cap_of_running_executions_answers_429_until_one_ends(w: &World) {
    let ids: Vec<String> = (0..CAP)
        .map(|i| started(w, 30, &format!("cap-{i}")))
        .collect();
    let refused = start(w, &w.alice, 30, "one-too-many");
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.body["code"], "rate_limit");
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("background executions"));
    // One ends: the next is admitted.
    let cancel = w.stack.call(
        &w.alice,
        json!({"action": "cancel_execution", "execution_id": ids[0]}),
    );
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    let admitted = start(w, &w.alice, 30, "after-one-ended");
    assert_eq!(admitted.status, 202, "{}", admitted.text);
    for id in [
        ids[1].clone(),
        admitted.body["execution_id"].as_str().unwrap().to_string(),
    ] {
        let c = w.stack.call(
            &w.alice,
            json!({"action": "cancel_execution", "execution_id": id}),
        );
        assert_eq!(c.status, 200, "{}", c.text);
    }
}

fn a_runtime_restart_mid_call_ends_the_execution_in_a_final_state(w: &mut World) {
    let id = started(w, 60, "restart");
    await_state(w, &id, "a first event", |e| {
        e["last_event_id"].as_u64() > Some(0)
    });
    w.stack.restart_runtime();
    let state = await_state(w, &id, "a final state after the restart", |e| {
        e["status"] != "running"
    });
    assert_eq!(state["status"], "error", "{state}");
    let last = state["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "error");
    assert!(
        last["data"]["message"]
            .as_str()
            .unwrap()
            .contains("restarted"),
        "{last}"
    );
    let r = row(w, &id, "error");
    assert!(r["error"].as_str().unwrap().contains("restarted"));
}

fn waiting_call(w: &World, seconds: u64, tag: &str, wait_seconds: u64) -> Answer {
    w.stack.call(
        &w.alice,
        json!({"action": "call_tool", "server_id": w.server_id, "tool_name": "slow",
               "parameters": {"seconds": seconds, "tag": tag}, "wait_seconds": wait_seconds}),
    )
}

fn a_stated_wait_answers_a_short_call_synchronously_and_a_slow_one_with_202(w: &World) {
    // Ends well within the wait: the synchronous answer, and its row.
    let quick = waiting_call(w, 1, "waited-quick", 60);
    assert_eq!(quick.status, 200, "{}", quick.text);
    assert_eq!(quick.body["success"], true);
    assert_eq!(quick.body["cached"], false);
    assert_eq!(
        quick.body["result"]["content"][0]["text"],
        "slow waited-quick done"
    );
    let id = quick.body["execution_id"].as_str().unwrap();
    row(w, id, "success");

    // Outlasts the wait: 202 as in async mode, the same execution goes on to one end.
    let slow = waiting_call(w, 4, "waited-slow", 1);
    assert_eq!(slow.status, 202, "{}", slow.text);
    assert_eq!(slow.body["status"], "running");
    assert_eq!(slow.body["watch"]["stream"]["action"], "watch_execution");
    let id = slow.body["execution_id"].as_str().unwrap();
    let (status, mut reader) = w.stack.open_stream(
        &w.alice,
        json!({"action": "watch_execution", "execution_id": id}),
        &[],
    );
    assert_eq!(status, 200);
    let events = read_events(&mut *reader, |seen| seen.last().is_some_and(is_final));
    let finals: Vec<&Sse> = events.iter().filter(|e| is_final(e)).collect();
    assert_eq!(finals.len(), 1, "{events:?}");
    assert_eq!(finals[0].event, "result");
    assert_eq!(
        finals[0].data["result"]["content"][0]["text"],
        "slow waited-slow done"
    );
    row(w, id, "success");
    // One execution: one row, and the server ran the tool once.
    let rows = w
        .stack
        .d1("SELECT id FROM mcp_tool_executions WHERE input LIKE '%waited-slow%'");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let text = std::fs::read_to_string(&w.journal).unwrap_or_default();
    assert_eq!(
        text.lines().filter(|l| *l == "started waited-slow").count(),
        1,
        "{text}"
    );
}

/// The id of the server's task, from the execution's first `tasks` log event.
fn task_id_of(w: &World, id: &str) -> String {
    let state = await_state(w, id, "the task's first event", |e| {
        e["last_event_id"].as_u64() > Some(0)
    });
    let first = &state["events"][0];
    assert_eq!(first["kind"], "log", "{first}");
    assert_eq!(first["data"]["logger"], "tasks", "{first}");
    first["data"]["data"]["task_id"]
        .as_str()
        .expect("a task id")
        .to_string()
}

fn a_task_server_is_polled_cancelled_and_resumed_after_a_restart(w: &mut World) {
    let journal =
        std::env::temp_dir().join(format!("mcp-edge-task-journal-{}", std::process::id()));
    let _ = std::fs::remove_file(&journal);
    let server = node_script(
        "task-server",
        "tests/servers/task_server.mjs",
        &["--journal", journal.to_str().unwrap(), "--poll-ms", "300"],
        free_port(),
        "/mcp",
    );
    let created = w.stack.call(
        &w.boss,
        json!({"action": "create_server", "name": "tasks", "server_type": "http",
               "config": {"url": server.url}, "sync": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let server_id = created.body["server"]["id"].as_str().unwrap().to_string();
    let start = |w: &World, topic: &str, seconds: u64| {
        let answer = w.stack.call(
            &w.alice,
            json!({"action": "call_tool", "server_id": server_id, "tool_name": "research",
                   "parameters": {"topic": topic, "seconds": seconds}, "mode": "async"}),
        );
        assert_eq!(answer.status, 202, "{}", answer.text);
        answer.body["execution_id"].as_str().unwrap().to_string()
    };
    let journalled = |line: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&journal).unwrap_or_default();
            if text.lines().any(|l| l == line) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the task server never saw {line:?}: {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    // Completes through polling: tasks/get until completed, then tasks/result.
    let id = start(w, "polled", 2);
    let task = task_id_of(w, &id);
    let end = await_state(w, &id, "the task's end", |e| e["status"] != "running");
    assert_eq!(end["status"], "success", "{end}");
    let last = end["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["data"]["result"]["content"][0]["text"],
        "research polled done"
    );
    let text = journalled(&format!("tasks/result {task}"));
    let polls = text
        .lines()
        .filter(|l| *l == format!("tasks/get {task}"))
        .count();
    assert!(polls >= 1, "no tasks/get before tasks/result: {text}");
    let calls = text.lines().filter(|l| *l == "tools/call").count();
    assert_eq!(calls, 1, "the call was sent once: {text}");
    row(w, &id, "success");

    // Cancel reaches tasks/cancel.
    let id = start(w, "cancelled", 60);
    let task = task_id_of(w, &id);
    let cancel = w.stack.call(
        &w.alice,
        json!({"action": "cancel_execution", "execution_id": id}),
    );
    assert_eq!(cancel.status, 200, "{}", cancel.text);
    journalled(&format!("tasks/cancel {task}"));
    row(w, &id, "cancelled");

    // A restart of the runtime resumes polling the stored task: the result still arrives.
    let id = start(w, "resumed", 4);
    let task = task_id_of(w, &id);
    w.stack.restart_runtime();
    let end = await_state(w, &id, "the resumed task's end", |e| {
        e["status"] != "running"
    });
    assert_eq!(end["status"], "success", "{end}");
    let last = end["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["data"]["result"]["content"][0]["text"],
        "research resumed done"
    );
    journalled(&format!("tasks/result {task}"));
    row(w, &id, "success");
}
