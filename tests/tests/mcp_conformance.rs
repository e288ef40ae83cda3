//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, server mode)
//! against `/mcp/servers/<name>` fronting our fixture server (`tests/servers/
//! conformance_fixture.py`, Python SDK), and against the fixture directly, side by side.
//! The suite cannot send headers, so a small proxy (`tests/servers/bearer_proxy.py`) adds a
//! member's bearer token in front of the gateway.
//!
//! Asserted: every scenario passes against the fixture directly (the baseline is sound), and
//! the scenarios the gateway serves today pass through it, `logging/setLevel`, progress and
//! log messages included (the gateway runs with `MCP_STREAM_CALLS = "always"`, so every call
//! of the suite's client, which accepts `text/event-stream`, is a background execution
//! relayed as an event stream), and elicitation: the server's request during the call reaches
//! the suite's client on that stream and its answer goes back (`answer_execution`; the proxy
//! passes event streams on as they come; the fixture is pinned to the handshake era, whose
//! server→client requests travel on the call's stream). Sampling is reported, not asserted: the
//! fixture sends it on the session's standalone stream, where the gateway's client does not
//! receive it yet (the call times out).

use std::path::Path;
use std::process::Command;

use integration::servers::python_script;
use integration::stack::Stack;
use integration::{free_port, root, tool_path};
use serde_json::json;

const SEED: &str =
    "INSERT INTO teams (id, name, tier, rate_limit_per_hour) VALUES ('team-c', 'C', 'enterprise', 100000);";

/// (scenario, must pass through the gateway today)
const SCENARIOS: &[(&str, bool)] = &[
    ("server-initialize", true),
    ("ping", true),
    ("tools-list", true),
    ("tools-call-simple-text", true),
    ("tools-call-image", true),
    ("tools-call-audio", true),
    ("tools-call-embedded-resource", true),
    ("tools-call-mixed-content", true),
    ("tools-call-error", true),
    ("dns-rebinding-protection", true),
    ("logging-set-level", true),
    ("tools-call-with-logging", true),
    ("tools-call-with-progress", true),
    ("tools-call-sampling", false),
    ("tools-call-elicitation", true),
];

/// One scenario's outcome: checks passed, checks run, the suite's summary line.
struct Outcome {
    passed: u32,
    total: u32,
    /// The suite's output, for the failure message.
    output: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.total > 0 && self.passed == self.total
    }
    fn cell(&self) -> String {
        let verdict = if self.ok() { "pass" } else { "FAIL" };
        format!("{verdict} {}/{}", self.passed, self.total)
    }
}

fn run(url: &str, scenario: &str, out: &Path) -> Outcome {
    let output = Command::new("conformance")
        .args(["server", "--url", url, "--scenario", scenario, "-o"])
        .arg(out)
        .env("PATH", tool_path())
        .current_dir(root())
        .output()
        .expect("conformance runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // "Passed: 2/2, 0 failed, 0 warnings"
    let counts = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Passed: "))
        .and_then(|rest| rest.split(',').next())
        .and_then(|frac| frac.split_once('/'))
        .and_then(|(p, t)| Some((p.trim().parse().ok()?, t.trim().parse().ok()?)));
    let (passed, total) = counts.unwrap_or_else(|| {
        panic!(
            "{scenario} at {url}: no summary; stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    Outcome {
        passed,
        total,
        output: format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr)),
    }
}

#[test]
fn the_conformance_suite_through_a_server_endpoint_beside_the_server_itself() {
    let fixture = python_script(
        "conformance-fixture",
        "tests/servers/conformance_fixture.py",
        &[],
        free_port(),
        "/mcp",
    );
    let stack = Stack::start_with_vars(SEED, &[("MCP_STREAM_CALLS", "always")]);
    let admin = stack.token("ada", "team-c", "admin");
    let member = stack.token("ben", "team-c", "member");
    let created = stack.call(
        &admin,
        json!({"action": "create_server", "name": "fixture", "server_type": "http",
               "config": {"url": fixture.url, "transport": "streamable_http"}, "sync": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["sync"]["success"], true, "{}", created.text);
    // The fixture's sampling request does not reach the suite through the gateway yet (see
    // above): its call gives up after 3 s rather than the default 30 (suite time).
    let tuned = stack.call(
        &admin,
        json!({"action": "update_tool", "server_id": created.body["server"]["id"],
               "tool_name": "test_sampling", "timeout_seconds": 3}),
    );
    assert_eq!(tuned.status, 200, "{}", tuned.text);
    // Writes ben's membership before the suite's first request.
    assert_eq!(
        stack.call(&member, json!({"action": "list_tools"})).status,
        200
    );
    let proxy_port = free_port();
    let _proxy = python_script(
        "bearer-proxy",
        "tests/servers/bearer_proxy.py",
        &["--target", &stack.base, "--token", &member],
        proxy_port,
        "",
    );
    let out = tempfile::tempdir().unwrap();
    let direct_url = format!("http://localhost:{}/mcp", fixture.port);
    let gateway_url = format!("http://localhost:{proxy_port}/mcp/servers/fixture");

    let mut table = vec![format!(
        "{:<30} {:<12} {}",
        "scenario", "direct", "via /mcp/servers/fixture"
    )];
    let mut problems = Vec::new();
    for (scenario, required) in SCENARIOS {
        let direct = run(&direct_url, scenario, out.path());
        let gateway = run(&gateway_url, scenario, out.path());
        let note = if *required { "" } else { "  (not relayed yet)" };
        table.push(format!(
            "{scenario:<30} {:<12} {}{note}",
            direct.cell(),
            gateway.cell()
        ));
        if !direct.ok() {
            problems.push(format!("{scenario}: the fixture itself fails"));
        }
        if *required && !gateway.ok() {
            problems.push(format!(
                "{scenario}: fails through the gateway:\n{}",
                gateway.output
            ));
        }
    }
    let report = table.join("\n");
    println!("{report}");
    assert!(
        problems.is_empty(),
        "{problems:#?}\n{report}\nresults in {}",
        out.path().display()
    );
}
