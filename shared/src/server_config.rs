//! The `config` JSON of a server: how to reach it. It never holds secrets: credentials live
//! encrypted in `mcp_server_credentials`; plain headers here are for non-secret values only.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::mcp::{ServerEndpoint, TransportPin};
use crate::ssrf::check_upstream_url;

pub const SERVER_TYPES: [&str; 3] = ["http", "sse", "stdio"];
const MAX_HEADERS: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    pub url: String,
    #[serde(default)]
    pub transport: TransportPin,
    #[serde(default)]
    pub headers: Map<String, Value>,
}

impl RemoteConfig {
    /// Validates an admin-supplied config for a remote (`http` or `sse`) server.
    pub fn parse(config: &Value, allow_private: bool) -> Result<RemoteConfig> {
        let parsed: RemoteConfig = serde_json::from_value(config.clone())
            .map_err(|e| Error::validation(format!("server config is invalid: {e}")))?;
        check_upstream_url(&parsed.url, allow_private)?;
        if parsed.headers.len() > MAX_HEADERS {
            return Err(Error::validation("server config has too many headers"));
        }
        for (name, value) in &parsed.headers {
            let lower = name.to_ascii_lowercase();
            if !is_token(name) {
                return Err(Error::validation(format!(
                    "header name '{name}' is not valid"
                )));
            }
            if lower == "authorization"
                || lower.contains("key")
                || lower.contains("token")
                || lower.contains("secret")
            {
                return Err(Error::validation(format!(
                    "header '{name}' looks like a credential; store it with set_credential instead of the server config"
                )));
            }
            if !value
                .as_str()
                .is_some_and(|v| v.len() <= 1024 && !v.contains(['\r', '\n']))
            {
                return Err(Error::validation(format!(
                    "header '{name}' must be a single-line string"
                )));
            }
        }
        Ok(parsed)
    }

    /// Where to reach the server; `server_type` `sse` pins the legacy transport unless the
    /// config pins one explicitly.
    pub fn endpoint(&self, server_id: &str, server_type: &str) -> ServerEndpoint {
        let transport = match (self.transport, server_type) {
            (TransportPin::Auto, "sse") => TransportPin::Sse,
            (pin, _) => pin,
        };
        ServerEndpoint {
            server_id: server_id.to_string(),
            url: self.url.clone(),
            headers: self
                .headers
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect(),
            transport,
        }
    }
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sse_servers_pin_the_legacy_transport_by_default() {
        let c = RemoteConfig::parse(&json!({"url": "https://x.example/sse"}), false).unwrap();
        assert_eq!(c.endpoint("s", "sse").transport, TransportPin::Sse);
        assert_eq!(c.endpoint("s", "http").transport, TransportPin::Auto);
    }

    #[test]
    fn credential_like_headers_are_refused() {
        for h in [
            "Authorization",
            "X-Api-Key",
            "x-auth-token",
            "Client-Secret",
        ] {
            let err = RemoteConfig::parse(
                &json!({"url": "https://x.example/mcp", "headers": {h: "v"}}),
                false,
            )
            .unwrap_err();
            assert!(err.to_string().contains("set_credential"), "{h}: {err}");
        }
    }

    #[test]
    fn unknown_fields_and_bad_headers_are_refused() {
        assert!(RemoteConfig::parse(
            &json!({"url": "https://x.example/mcp", "password": "x"}),
            false
        )
        .is_err());
        assert!(RemoteConfig::parse(
            &json!({"url": "https://x.example/mcp", "headers": {"X-A": "a\r\nb"}}),
            false
        )
        .is_err());
        assert!(RemoteConfig::parse(
            &json!({"url": "https://x.example/mcp", "headers": {"bad header": "a"}}),
            false
        )
        .is_err());
        assert!(RemoteConfig::parse(
            &json!({"url": "https://x.example/mcp", "transport": "carrier_pigeon"}),
            false
        )
        .is_err());
    }
}
