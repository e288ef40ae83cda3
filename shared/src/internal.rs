//! The envelope the gateway sends to an action worker over a Service Binding. Action workers
//! have no public route, so whatever arrives in it was put there by the gateway after it
//! verified the caller: the identity is trusted as is.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::identity::Identity;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub request_id: String,
    pub identity: Identity,
    /// The validated public request body.
    pub request: Value,
}

/// The URL the gateway addresses action workers by (the host is ignored by Service Bindings).
pub fn action_url(action: &str) -> String {
    format!("https://mcp-edge.internal/{action}")
}
