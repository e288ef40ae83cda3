//! The MCP protocol's data, as the client and its callers see it: endpoints, tool definitions,
//! JSON-RPC error objects and messages.
//!
//! Invariants:
//! - A leaf: this module imports nothing from the rest of the crate, so every other module (and
//!   core) can depend on it without a cycle. Behaviour on these types (parsing, describing)
//!   lives with the code that needs it (`jsonrpc`, `tools`).
//! - [`ServerEndpoint::headers`] may hold credentials: it has no `Debug` output of its values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const METHOD_NOT_FOUND: i64 = -32601;
/// `UnsupportedProtocolVersion` of 2026-07-28 as the Python SDK and most peers send it.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// The same error under the code an earlier draft of the spec used; some servers still send it.
pub const UNSUPPORTED_PROTOCOL_VERSION_DRAFT: i64 = -32004;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransportPin {
    #[default]
    Auto,
    StreamableHttp,
    Sse,
    Stateless,
}

#[derive(Clone)]
pub struct ServerEndpoint {
    /// Cache key for session state.
    pub server_id: String,
    /// MCP endpoint (Streamable HTTP: `…/mcp`; legacy SSE: `…/sse`).
    pub url: String,
    /// Extra headers sent on every request (e.g. `Authorization`). Never logged or echoed.
    pub headers: Vec<(String, String)>,
    pub transport: TransportPin,
}

impl std::fmt::Debug for ServerEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEndpoint")
            .field("server_id", &self.server_id)
            .field("url", &self.url)
            .field("header_names", &crate::redact::names(&self.headers))
            .field("transport", &self.transport)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub input_schema: Value,
    pub annotations: Option<Value>,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn is_unsupported_version(&self) -> bool {
        self.code == UNSUPPORTED_PROTOCOL_VERSION || self.code == UNSUPPORTED_PROTOCOL_VERSION_DRAFT
    }

    /// `data.supported` of an `UnsupportedProtocolVersion` error, when well formed.
    pub fn supported_versions(&self) -> Option<Vec<String>> {
        let list = self.data.as_ref()?.get("supported")?.as_array()?;
        Some(
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        )
    }
}

/// One message received from a server.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Response {
        id: Value,
        outcome: Result<Value, RpcError>,
    },
    /// A server→client request (ping, roots/list, sampling, elicitation…).
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
}
