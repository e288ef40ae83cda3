//! Per-team rate limits under `wrangler dev`: the gateway, its `RateLimiter` Durable Objects
//! and the action workers, driven with concurrent bursts from several users of several teams.
//! Windows are shortened with `--var RATE_LIMIT_WINDOW_SECS=…` instead of waiting an hour.
//!
//! Calls to servers that do not exist are fine here: the limiter charges a request before it
//! is dispatched, so a 404 from the action worker is an admitted request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use integration::stack::{Answer, Stack};
use serde_json::{json, Value};

/// The test window: long enough for a burst on a busy 2-core machine, short enough to wait.
const WINDOW_SECS: u64 = 15;
const ADMIN_PER_WINDOW: u64 = 5;

const SEED: &str =
    "INSERT INTO teams (id, name, tier, rate_limit_per_hour, user_calls_per_day) VALUES \
    ('team-x', 'X', 'enterprise', 20, NULL), \
    ('team-y', 'Y', 'free', 30, NULL), \
    ('team-w', 'W', 'enterprise', 20, NULL), \
    ('team-u', 'U', 'pro', NULL, 3), \
    ('team-adm', 'Adm', 'free', NULL, NULL), \
    ('team-free', 'Free', 'free', NULL, NULL);";

/// One wrangler dev at a time: bursts are about exact counts, not about a starved machine.
static ONE_STACK_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_STACK_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One request of a burst and what came back.
struct Shot {
    team: String,
    user: String,
    answer: Answer,
    at: Instant,
}

struct Job {
    team: String,
    user: String,
    token: String,
    body: Value,
}

fn job(stack: &Stack, team: &str, user: &str, role: &str, body: Value) -> Job {
    Job {
        team: team.into(),
        user: user.into(),
        token: stack.token(user, team, role),
        body,
    }
}

/// Fires every job from `threads` threads released together.
fn burst(stack: &Stack, jobs: Vec<Job>, threads: usize) -> Vec<Shot> {
    let next = AtomicUsize::new(0);
    let start = Barrier::new(threads);
    let shots = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                start.wait();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let answer = stack.call(&job.token, job.body.clone());
                    shots.lock().unwrap().push(Shot {
                        team: job.team.clone(),
                        user: job.user.clone(),
                        answer,
                        at: Instant::now(),
                    });
                }
            });
        }
    });
    shots.into_inner().unwrap()
}

fn num(answer: &Answer, header: &str) -> u64 {
    answer
        .header(header)
        .unwrap_or_else(|| panic!("no {header}: {:?} {}", answer.headers, answer.text))
        .parse()
        .unwrap_or_else(|e| panic!("{header}: {e}"))
}

/// Every admitted answer carries the budget; every refusal is the rate_limit contract.
fn assert_limit_headers(answer: &Answer, limit: u64) {
    assert_eq!(num(answer, "ratelimit-limit"), limit, "{}", answer.text);
    let reset = num(answer, "ratelimit-reset");
    assert!(answer.header("x-request-id").is_some());
    if answer.status == 429 {
        assert_eq!(answer.body["code"], "rate_limit", "{}", answer.text);
        assert_eq!(answer.body["status"], "error");
        assert_eq!(
            answer.body["request_id"].as_str(),
            answer.header("x-request-id")
        );
        // Less than this request's cost is left (a call weighs 2: 1 may be left for a read).
        assert!(
            num(answer, "ratelimit-remaining") <= 1,
            "{:?}",
            answer.headers
        );
        let retry = num(answer, "retry-after");
        assert!(retry >= 1 && retry <= reset, "retry {retry} reset {reset}");
        assert_eq!(answer.body["details"]["retry_after_seconds"], retry);
    } else {
        assert!(
            answer.header("retry-after").is_none(),
            "{:?}",
            answer.headers
        );
        assert!(reset >= 1, "reset {reset}");
    }
}

fn admitted(shots: &[&Shot]) -> usize {
    shots.iter().filter(|s| s.answer.status != 429).count()
}

#[test]
fn limits_are_exact_per_team_and_user_and_reset_with_the_window() {
    let _one = serial();
    let window = WINDOW_SECS.to_string();
    let admin = ADMIN_PER_WINDOW.to_string();
    let stack = Stack::start_with_vars(
        SEED,
        &[
            ("RATE_LIMIT_WINDOW_SECS", &window),
            ("RATE_LIMIT_USER_WINDOW_SECS", &window),
            ("RATE_LIMIT_ADMIN_PER_HOUR", &admin),
        ],
    );
    tier_defaults_apply_and_unknown_teams_are_refused(&stack);
    call_tool_weighs_more_than_reads(&stack);
    each_user_has_a_call_budget_inside_the_team(&stack);
    admin_actions_are_limited_apart_from_the_team_budget(&stack);
    concurrent_bursts_admit_exactly_each_teams_limit_then_the_window_resets(&stack);
}

fn tier_defaults_apply_and_unknown_teams_are_refused(stack: &Stack) {
    // No request reaches a team without a teams row (it used to be limited as a free team).
    let ghost = stack.call(
        &stack.token("casper", "team-ghost", "member"),
        json!({"action": "list_servers", "team_id": "team-ghost"}),
    );
    assert_eq!(ghost.status, 403, "{}", ghost.text);
    assert_eq!(ghost.body["code"], "authorization_error");
    assert_eq!(
        ghost.header("ratelimit-limit"),
        None,
        "refused before any charge"
    );
    let free = stack.call(
        &stack.token("fred", "team-free", "member"),
        json!({"action": "list_servers"}),
    );
    assert_eq!(free.status, 200, "{}", free.text);
    assert_limit_headers(&free, 100);
    assert_eq!(num(&free, "ratelimit-remaining"), 99);
    let reset = num(&free, "ratelimit-reset");
    assert!(reset <= WINDOW_SECS + 1, "reset {reset} within the window");
}

fn call_tool_weighs_more_than_reads(stack: &Stack) {
    let token = stack.token("walt", "team-w", "member");
    let read = stack.call(&token, json!({"action": "list_servers"}));
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(num(&read, "ratelimit-remaining"), 19);
    let call_body =
        json!({"action": "call_tool", "server_id": "no-such-server", "tool_name": "echo"});
    let call = stack.call(&token, call_body.clone());
    assert_eq!(call.status, 404, "admitted, then not found: {}", call.text);
    assert_limit_headers(&call, 20);
    assert_eq!(num(&call, "ratelimit-remaining"), 17, "call_tool costs 2");

    // 17 left: eight calls fit, the ninth does not, but a read still does.
    let shots = burst(
        stack,
        (0..9)
            .map(|_| job(stack, "team-w", "walt", "member", call_body.clone()))
            .collect(),
        9,
    );
    let all: Vec<&Shot> = shots.iter().collect();
    assert_eq!(admitted(&all), 8);
    for s in &shots {
        assert_limit_headers(&s.answer, 20);
        if s.answer.status == 429 {
            assert_eq!(
                num(&s.answer, "ratelimit-remaining"),
                1,
                "too little for a call"
            );
        }
    }
    let last_read = stack.call(&token, json!({"action": "list_servers"}));
    assert_eq!(last_read.status, 200, "{}", last_read.text);
    assert_eq!(num(&last_read, "ratelimit-remaining"), 0);
    let refused = stack.call(&token, json!({"action": "list_servers"}));
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_limit_headers(&refused, 20);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("team's request budget"),
        "{}",
        refused.text
    );
}

fn each_user_has_a_call_budget_inside_the_team(stack: &Stack) {
    let body = json!({"action": "call_tool", "server_id": "no-such-server", "tool_name": "echo"});
    let mut jobs = Vec::new();
    for _ in 0..6 {
        jobs.push(job(stack, "team-u", "ursula", "member", body.clone()));
        jobs.push(job(stack, "team-u", "umberto", "member", body.clone()));
    }
    let shots = burst(stack, jobs, 12);
    assert_eq!(shots.len(), 12);
    for user in ["ursula", "umberto"] {
        let mine: Vec<&Shot> = shots.iter().filter(|s| s.user == user).collect();
        assert_eq!(admitted(&mine), 3, "{user}: exactly the budget of 3");
    }
    for s in &shots {
        if s.answer.status == 429 {
            assert_limit_headers(&s.answer, 3);
            assert!(
                s.answer.body["message"]
                    .as_str()
                    .unwrap()
                    .contains("call_tool budget of 3"),
                "{}",
                s.answer.text
            );
        } else {
            assert_eq!(s.answer.status, 404, "{}", s.answer.text);
        }
    }
    // Each user alone is now refused a call, and still allowed to read.
    for user in ["ursula", "umberto"] {
        let token = stack.token(user, "team-u", "member");
        let call = stack.call(&token, body.clone());
        assert_eq!(call.status, 429, "{user}: {}", call.text);
        assert_limit_headers(&call, 3);
        let read = stack.call(&token, json!({"action": "list_servers"}));
        assert_eq!(read.status, 200, "{}", read.text);
    }
    // Another user of the team has a budget of their own.
    let other = stack.call(&stack.token("ulla", "team-u", "member"), body);
    assert_eq!(other.status, 404, "{}", other.text);
    assert_eq!(num(&other, "ratelimit-remaining"), 2);
    // Pro tier: 1000. Admitted calls cost 2 each (7 so far), refused ones nothing; 2 reads.
    let read = stack.call(
        &stack.token("ursula", "team-u", "member"),
        json!({"action": "list_servers"}),
    );
    assert_limit_headers(&read, 1000);
    assert_eq!(num(&read, "ratelimit-remaining"), 1000 - 7 * 2 - 3);
}

fn admin_actions_are_limited_apart_from_the_team_budget(stack: &Stack) {
    let body = json!({"action": "update_tool", "tool_id": "no-such-tool", "is_enabled": false});
    let shots = burst(
        stack,
        (0..8)
            .map(|_| job(stack, "team-adm", "ada", "admin", body.clone()))
            .collect(),
        8,
    );
    let all: Vec<&Shot> = shots.iter().collect();
    assert_eq!(admitted(&all), ADMIN_PER_WINDOW as usize);
    for s in &shots {
        assert_limit_headers(&s.answer, ADMIN_PER_WINDOW);
        if s.answer.status == 429 {
            assert!(
                s.answer.body["message"]
                    .as_str()
                    .unwrap()
                    .contains("admin action limit"),
                "{}",
                s.answer.text
            );
        }
    }
    let read = stack.call(
        &stack.token("max", "team-adm", "member"),
        json!({"action": "list_servers"}),
    );
    assert_eq!(read.status, 200, "{}", read.text);
    assert_limit_headers(&read, 100);
    assert_eq!(
        num(&read, "ratelimit-remaining"),
        99,
        "admin work left the team budget alone"
    );
}

fn concurrent_bursts_admit_exactly_each_teams_limit_then_the_window_resets(stack: &Stack) {
    let limits = BTreeMap::from([("team-x", 20u64), ("team-y", 30u64)]);
    let jobs = || {
        let list = json!({"action": "list_servers"});
        let mut jobs = Vec::new();
        // Interleaved: 3 users of X send 14 each (42 > 20), 2 users of Y 20 each (40 > 30).
        for i in 0..20 {
            if i < 14 {
                for user in ["xavier", "xena", "xiu"] {
                    jobs.push(job(stack, "team-x", user, "member", list.clone()));
                }
            }
            for user in ["yann", "yoko"] {
                jobs.push(job(stack, "team-y", user, "member", list.clone()));
            }
        }
        jobs
    };
    let started = Instant::now();
    let shots = burst(stack, jobs(), 16);
    let took = started.elapsed();
    eprintln!("burst of 82 requests from 5 users of 2 teams, 16 threads: {took:?}");
    assert_eq!(shots.len(), 82);
    assert!(
        took < Duration::from_secs(WINDOW_SECS - 2),
        "the burst took {took:?}, too close to the {WINDOW_SECS} s window to count exactly"
    );
    let mut reset_at = BTreeMap::new();
    for (team, limit) in &limits {
        let mine: Vec<&Shot> = shots.iter().filter(|s| s.team == *team).collect();
        assert_eq!(
            admitted(&mine),
            *limit as usize,
            "{team}: exactly the limit, not one more"
        );
        let mut remaining: Vec<u64> = Vec::new();
        for s in &mine {
            assert!(
                s.answer.status == 200 || s.answer.status == 429,
                "{}",
                s.answer.text
            );
            assert_limit_headers(&s.answer, *limit);
            if s.answer.status == 200 {
                remaining.push(num(&s.answer, "ratelimit-remaining"));
            } else {
                assert_eq!(num(&s.answer, "ratelimit-remaining"), 0);
            }
            let until = s.at + Duration::from_secs(num(&s.answer, "ratelimit-reset"));
            let latest = reset_at.entry(*team).or_insert(until);
            *latest = (*latest).max(until);
        }
        remaining.sort();
        assert_eq!(
            remaining,
            (0..*limit).collect::<Vec<_>>(),
            "{team}: one decision at a time, each seeing the one before"
        );
    }

    // Still refused until the promised reset...
    let x = stack.token("xavier", "team-x", "member");
    let early = stack.call(&x, json!({"action": "list_servers"}));
    assert_eq!(early.status, 429, "{}", early.text);
    // ...and the whole limit is back once it has passed (no hour-long sleep: a 15 s window).
    let promised = reset_at["team-x"].max(reset_at["team-y"]);
    eprintln!(
        "waiting {:?} for the promised reset",
        promised.saturating_duration_since(Instant::now())
    );
    std::thread::sleep(
        promised.saturating_duration_since(Instant::now()) + Duration::from_millis(250),
    );
    let again = burst(stack, jobs(), 16);
    for (team, limit) in &limits {
        let mine: Vec<&Shot> = again.iter().filter(|s| s.team == *team).collect();
        assert_eq!(
            admitted(&mine),
            *limit as usize,
            "{team}: after the reset, exactly the limit again"
        );
    }
}

#[test]
fn an_unreachable_limiter_fails_closed_by_default_and_open_when_configured() {
    let _one = serial();
    let seed = "INSERT INTO teams (id, name, tier) VALUES ('team-f', 'F', 'free');";
    // A binding that does not exist: the gateway cannot reach any limiter object.
    let missing = ("RATE_LIMITER_BINDING", "NO_SUCH_LIMITER");
    {
        let stack = Stack::start_with_vars(seed, &[missing]);
        let token = stack.token("fay", "team-f", "member");
        let answer = stack.call(&token, json!({"action": "list_servers"}));
        assert_eq!(answer.status, 500, "{}", answer.text);
        assert_eq!(answer.body["code"], "internal_error");
        assert!(answer.header("ratelimit-limit").is_none());
        assert!(
            !answer.text.contains("NO_SUCH_LIMITER"),
            "details stay in the log"
        );
        let log = stack.await_log("failing closed");
        assert!(
            log.contains("rate limiter unavailable") && log.contains("failing closed"),
            "{log}"
        );
    }
    {
        let stack = Stack::start_with_vars(seed, &[missing, ("RATE_LIMIT_FAIL_OPEN", "true")]);
        let token = stack.token("fay", "team-f", "member");
        let answer = stack.call(&token, json!({"action": "list_servers"}));
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.body["servers"], json!([]));
        assert!(answer.header("ratelimit-limit").is_none());
        let log = stack.await_log("failing open");
        assert!(
            log.contains("rate limiter unavailable") && log.contains("failing open"),
            "{log}"
        );
    }
}
