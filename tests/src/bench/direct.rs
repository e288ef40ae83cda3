//! The direct baseline: our MCP client, natively, one session per thread reused for every
//! call (initialized before timing), as a warm worker invocation would reuse its cached one.
//! Also drives a peer gateway's MCP endpoint (ContextForge) the same way.

use std::time::{Duration, Instant};

use mcp_client::native_http::NativeHttp;
use mcp_client::{McpClient, ServerEndpoint, TransportPin};
use serde_json::{json, Map, Value};
use shared::cache::{CacheSessions, MemoryCache};

/// Where a direct caller goes: an MCP endpoint, its headers and the tool's name there.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub tool: String,
}

impl Target {
    /// A server of our own on loopback, no headers, the tool under its own name.
    pub fn plain(url: &str, tool: &str) -> Target {
        Target {
            url: url.to_string(),
            headers: Vec::new(),
            tool: tool.to_string(),
        }
    }
}

/// `per_thread` timed warm `echo` calls on one session (one untimed call first opens it).
pub fn echo_calls(target: &Target, per_thread: usize) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = NativeHttp::new();
        let cache = MemoryCache::new();
        let endpoint = ServerEndpoint {
            server_id: format!("bench-{}", crate::free_port()),
            url: target.url.clone(),
            headers: target.headers.clone(),
            transport: TransportPin::StreamableHttp,
        };
        let args: Map<String, Value> = json!({"message": "bench"}).as_object().unwrap().clone();
        McpClient::new(&http, CacheSessions(&cache), endpoint.clone())
            .call_tool(&target.tool, args.clone(), 30_000)
            .await
            .unwrap_or_else(|e| panic!("first {} on {}: {e}", target.tool, target.url));
        let mut samples = Vec::with_capacity(per_thread);
        for _ in 0..per_thread {
            let started = Instant::now();
            let client = McpClient::new(&http, CacheSessions(&cache), endpoint.clone());
            let result = client
                .call_tool(&target.tool, args.clone(), 30_000)
                .await
                .unwrap_or_else(|e| panic!("{} on {}: {e}", target.tool, target.url));
            samples.push(started.elapsed());
            assert_ne!(result.get("isError"), Some(&Value::Bool(true)), "{result}");
        }
        samples
    })
}
