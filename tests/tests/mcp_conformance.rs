//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, server mode)
//! against `/mcp/servers/<name>` fronting our fixture server (`tests/servers/
//! conformance_fixture.py`, Python SDK), and against the fixture directly, side by side.
//! The suite cannot send headers, so a small proxy (`tests/servers/bearer_proxy.py`) adds a
//! member's bearer token in front of the gateway.
//!
//! Asserted: every scenario passes against the fixture directly (the baseline is sound), and
//! every scenario passes through the gateway, `logging/setLevel`, progress and log messages
//! included (the gateway runs with `MCP_STREAM_CALLS = "always"`, so every call of the suite's
//! client, which accepts `text/event-stream`, is a background execution relayed as an event
//! stream), and elicitation and sampling: the server's request during the call reaches the
//! suite's client on that stream and its answer goes back (`answer_execution`; the proxy
//! passes event streams on as they come). The fixture sends both on the call's own stream, as
//! the transport says a request related to a client request should travel; the gateway's
//! upstream session is shared by the team's calls, so a request arriving on the session's
//! standalone stream could not be told apart by call and is never relayed to a caller.

use std::path::Path;
use std::process::Command;

use integration::servers::python_script;
use integration::stack::Stack;
use integration::{free_port, root, tool_path};
use serde_json::json;

const SEED: &str =
    "INSERT INTO teams (id, name, tier, rate_limit_per_hour) VALUES ('team-c', 'C', 'enterprise', 100000);";

/// Every server scenario the fixture implements.
const SCENARIOS: &[&str] = &[
    "server-initialize",
    "ping",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-error",
    "dns-rebinding-protection",
    "logging-set-level",
    "tools-call-with-logging",
    "tools-call-with-progress",
    "tools-call-sampling",
    "tools-call-elicitation",
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
        output: format!(
            "{stdout}\n{}\nchecks:\n{}",
            String::from_utf8_lossy(&output.stderr),
            saved_checks(out, scenario)
        ),
    }
}

/// The checks the suite saved for `scenario` under `out` (their `details` say what the
/// client received), for a failure's message.
fn saved_checks(out: &Path, scenario: &str) -> String {
    let prefix = format!("server-{scenario}-");
    let Ok(dirs) = std::fs::read_dir(out) else {
        return String::new();
    };
    dirs.flatten()
        .filter(|d| d.file_name().to_string_lossy().starts_with(&prefix))
        .filter_map(|d| std::fs::read_to_string(d.path().join("checks.json")).ok())
        .collect::<Vec<_>>()
        .join("\n")
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
    for scenario in SCENARIOS {
        let direct = run(&direct_url, scenario, &out.path().join("direct"));
        let gateway = run(&gateway_url, scenario, &out.path().join("gateway"));
        table.push(format!(
            "{scenario:<30} {:<12} {}",
            direct.cell(),
            gateway.cell()
        ));
        if !direct.ok() {
            problems.push(format!("{scenario}: the fixture itself fails"));
        }
        if !gateway.ok() {
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
