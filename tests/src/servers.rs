//! Real MCP servers for the tests: the reference `server-everything` from npm and our Python
//! MCP SDK server (`tests/servers/py_server.py`), on free loopback ports.

use std::process::Command;
use std::time::Duration;

use crate::proc::Proc;
use crate::{free_port, root, tool_path};

pub struct McpServer {
    pub proc: Proc,
    pub port: u16,
    /// The MCP endpoint URL.
    pub url: String,
}

/// `@modelcontextprotocol/server-everything` over Streamable HTTP (`/mcp`).
pub fn everything_streamable() -> McpServer {
    everything("streamableHttp", "/mcp")
}

/// `@modelcontextprotocol/server-everything` over the 2024-11-05 HTTP+SSE transport (`/sse`).
pub fn everything_sse() -> McpServer {
    everything("sse", "/sse")
}

fn everything(mode: &str, path: &str) -> McpServer {
    let port = free_port();
    let bin = root().join("node_modules/.bin/mcp-server-everything");
    assert!(
        bin.exists(),
        "{} missing: run scripts/install.sh",
        bin.display()
    );
    let mut cmd = Command::new(bin);
    cmd.arg(mode)
        .env("PORT", port.to_string())
        .env("PATH", tool_path());
    let mut proc = Proc::spawn(&format!("server-everything-{mode}"), cmd);
    proc.wait_for_port(port, Duration::from_secs(30));
    McpServer {
        proc,
        port,
        url: format!("http://127.0.0.1:{port}{path}"),
    }
}

/// Our Python MCP SDK server over Streamable HTTP (`/mcp`).
pub fn python_streamable() -> McpServer {
    python_streamable_on(free_port())
}

/// The same on a given port (e.g. to bring a "dead" server back).
pub fn python_streamable_on(port: u16) -> McpServer {
    python_script(
        "py-server",
        "tests/servers/py_server.py",
        &["--transport", "streamable-http"],
        port,
        "/mcp",
    )
}

/// A Python script of ours run with the repo's venv on `port`; `url` is its base plus `path`.
pub fn python_script(name: &str, script: &str, args: &[&str], port: u16, path: &str) -> McpServer {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/install.sh",
        python.display()
    );
    let mut cmd = Command::new(python);
    cmd.arg(root().join(script))
        .args(args)
        .args(["--port", &port.to_string()])
        .env("PATH", tool_path());
    let mut proc = Proc::spawn(name, cmd);
    proc.wait_for_port(port, Duration::from_secs(30));
    McpServer {
        proc,
        port,
        url: format!("http://127.0.0.1:{port}{path}"),
    }
}

/// A Node script of ours (`tests/servers/*.mjs`, on the repo's `node_modules`) on `port`;
/// `url` is its base plus `path`.
pub fn node_script(name: &str, script: &str, args: &[&str], port: u16, path: &str) -> McpServer {
    let mut cmd = Command::new("node");
    cmd.arg(root().join(script))
        .args(args)
        .args(["--port", &port.to_string()])
        .current_dir(root())
        .env("PATH", tool_path());
    let mut proc = Proc::spawn(name, cmd);
    proc.wait_for_port(port, Duration::from_secs(30));
    McpServer {
        proc,
        port,
        url: format!("http://127.0.0.1:{port}{path}"),
    }
}

/// The misbehaving server (`tests/servers/fault_server.py`): `/mcp/<mode>` answers
/// `initialize`/`tools/list` normally and misbehaves on `tools/call` as the mode says;
/// `GET /__stats` counts what it received. `url` is its base (`http://127.0.0.1:<port>`).
pub fn fault_server() -> McpServer {
    fault_server_on(free_port())
}

/// The same on a given port (e.g. to bring a "dead" server back).
pub fn fault_server_on(port: u16) -> McpServer {
    python_script(
        "fault-server",
        "tests/servers/fault_server.py",
        &[],
        port,
        "",
    )
}
