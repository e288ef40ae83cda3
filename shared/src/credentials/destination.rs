//! Where a server's credential may go: the destination a sealed value is bound to (part of its
//! AES-GCM associated data, see [`super::Binding`]).
//!
//! Invariants:
//! - A remote (`http`, `sse`) server's destination is the origin of its URL, normalised:
//!   `origin:<scheme>://<lowercase host>:<port>`, the port always explicit (80/443 filled in
//!   for http/https), path, query, fragment and user info left out. Two URLs reach the same
//!   origin exactly when their destinations are equal.
//! - A `stdio` server's destination is its command line: `stdio:` and the JSON array
//!   `[command, arg…]`, so a changed command or argument is a different destination.
//! - A connector server's destination is `connector:<name>:<parameters as JSON>`
//!   (`crate::connectors`): another parameter is another destination, another catalogue
//!   version of the same connector is not.
//! - A config that cannot be read has no destination (`None`): nothing opens for it.

use serde_json::Value;
use url::Url;

use crate::connectors::ConnectorConfig;
use crate::server_config::{ServerType, StdioConfig};

/// The destination of a server of `server_type` whose stored `config` (JSON text) is given.
pub fn destination_of(server_type: ServerType, config: &str) -> Option<String> {
    let config: Value = serde_json::from_str(config).ok()?;
    match server_type {
        ServerType::Stdio => {
            if let Some(connector) = ConnectorConfig::from_stored(&config) {
                return connector.ok().map(|c| c.destination());
            }
            let stdio = StdioConfig::from_stored(&config).ok()?;
            let mut line = vec![stdio.command];
            line.extend(stdio.args);
            Some(format!("stdio:{}", Value::from(line)))
        }
        ServerType::Http | ServerType::Sse => {
            origin_of(config.get("url")?.as_str()?).map(|o| format!("origin:{o}"))
        }
    }
}

/// `scheme://host:port` of an http(s) URL (the `url` crate lowercases scheme and host and
/// normalises IP literals); `None` for anything else.
pub fn origin_of(url: &str) -> Option<String> {
    let url = Url::parse(url.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts, for each of `configs`, that its destination equals `base` (`same`) or is
    /// another one.
    fn each_is(
        same: bool,
        base: &Option<String>,
        configs: &[&str],
        d: impl Fn(&str) -> Option<String>,
    ) {
        for config in configs {
            assert_eq!(d(config) == *base, same, "{config}");
        }
    }

    fn remote(url: &str) -> Option<String> {
        destination_of(
            ServerType::Http,
            &serde_json::json!({ "url": url }).to_string(),
        )
    }

    #[test]
    fn urls_of_one_origin_share_a_destination_whatever_their_path_case_or_default_port() {
        let base = remote("https://api.example.com/mcp");
        assert_eq!(base.as_deref(), Some("origin:https://api.example.com:443"));
        let same = [
            "https://API.Example.COM/mcp",
            "HTTPS://api.example.com:443/other/path?q=1#f",
            "https://user@api.example.com/mcp",
            " https://api.example.com ",
        ];
        each_is(true, &base, &same, remote);
        assert_eq!(
            remote("http://127.0.0.1/mcp").as_deref(),
            Some("origin:http://127.0.0.1:80")
        );
        assert_eq!(
            remote("http://[::1]:8080/mcp").as_deref(),
            Some("origin:http://[::1]:8080")
        );
    }

    #[test]
    fn another_scheme_host_or_port_is_another_destination() {
        let base = remote("https://api.example.com/mcp");
        let others = [
            "http://api.example.com/mcp",
            "https://api.example.com:8443/mcp",
            "https://evil.example.com/mcp",
            "https://api.example.com.evil.net/mcp",
        ];
        each_is(false, &base, &others, remote);
        assert!(others.iter().all(|url| remote(url).is_some()));
        let sse = destination_of(ServerType::Sse, r#"{"url":"https://api.example.com/sse"}"#);
        assert_eq!(sse, base, "the transport is not part of the destination");
    }

    #[test]
    fn a_stdio_destination_is_the_exact_command_line() {
        let d = |config: &str| destination_of(ServerType::Stdio, config);
        let base = d(r#"{"command":"npx","args":["-y","pkg"],"env_names":["API_KEY"]}"#);
        assert_eq!(base.as_deref(), Some(r#"stdio:["npx","-y","pkg"]"#));
        assert_eq!(
            d(r#"{"command":"npx","args":["-y","pkg"]}"#),
            base,
            "env names say which variables, not where they go"
        );
        let others = [
            r#"{"command":"npx","args":["-y","pkg2"]}"#,
            r#"{"command":"npx","args":["-y pkg"]}"#,
            r#"{"command":"npx","args":["-y","pkg","--x"]}"#,
            r#"{"command":"uvx","args":["-y","pkg"]}"#,
        ];
        each_is(false, &base, &others, d);
    }

    #[test]
    fn unreadable_configs_have_no_destination() {
        assert_eq!(destination_of(ServerType::Http, "not json"), None);
        assert_eq!(
            destination_of(ServerType::Http, r#"{"url":"ftp://x/"}"#),
            None
        );
        assert_eq!(destination_of(ServerType::Http, r#"{}"#), None);
        assert_eq!(
            destination_of(ServerType::Stdio, r#"{"url":"http://x/"}"#),
            None
        );
        // An unknown server type has no destination: it is not a `ServerType` at all.
        assert_eq!(ServerType::parse("other"), None);
    }
}
