//! The TypeScript client in a real browser: `tests/browser/drive.mjs` bundles `clients/ts`,
//! serves the test page on a port of its own (an origin other than the gateway's) and runs the
//! page's scenarios in headless Chromium (Debian's `chromium`, driven by `playwright-core`).
//! The page's results come back as JSON. The background call the `watch_execution` scenario
//! watches runs [`watch_seconds`] long (`MCP_EDGE_BROWSER_WATCH_SECONDS`, default 1).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::proc::Proc;
use crate::{free_port, root, tool_path};

/// How long the watched background call runs: `MCP_EDGE_BROWSER_WATCH_SECONDS`, default 1
/// (the suite's value; a long run shows a real browser holding the stream for minutes).
pub fn watch_seconds() -> u64 {
    std::env::var("MCP_EDGE_BROWSER_WATCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// The test page's own origin, chosen before the gateway starts (its CORS setting names it).
pub struct BrowserPage {
    pub port: u16,
}

impl BrowserPage {
    pub fn new() -> BrowserPage {
        BrowserPage { port: free_port() }
    }

    /// `http://127.0.0.1:<port>`, the page's origin.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Opens the page against `gateway` with `token` and answers its results: one entry per
    /// scenario of `tests/browser/scenarios.js`, plus `page_origin`, `browser`, `console`.
    /// Every request carries `traceparent`, when given.
    pub fn run(
        &self,
        gateway: &str,
        token: &str,
        server_name: &str,
        scenarios: &[&str],
        traceparent: Option<&str>,
    ) -> Value {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            std::path::Path::new(&chromium).exists(),
            "{chromium} missing: run scripts/install.sh (Debian's chromium)"
        );
        let mut cmd = Command::new("node");
        cmd.arg(root().join("tests/browser/drive.mjs"))
            .env("PATH", tool_path())
            .env("GATEWAY", gateway)
            .env("TOKEN", token)
            .env("PAGE_PORT", self.port.to_string())
            .env("SERVER_NAME", server_name)
            .env("SCENARIOS", scenarios.join(","))
            .env("CHROMIUM", &chromium)
            .env("TRACEPARENT", traceparent.unwrap_or_default())
            .env("WATCH_SECONDS", watch_seconds().to_string());
        let mut driver = Proc::spawn("browser-driver", cmd);
        let deadline = Instant::now() + Duration::from_secs(180 + watch_seconds());
        let status = loop {
            if let Some(status) = driver.exit_status() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the browser driver did not finish; log:\n{}",
                driver.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let log = driver.log_text();
        assert!(status.success(), "the browser driver failed:\n{log}");
        let line = log
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("no results line in the driver's output:\n{log}"));
        serde_json::from_str(line).unwrap_or_else(|e| panic!("results are not JSON ({e}): {line}"))
    }
}

impl Default for BrowserPage {
    fn default() -> Self {
        Self::new()
    }
}
