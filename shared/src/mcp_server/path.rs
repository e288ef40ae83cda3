//! The MCP endpoint's paths: `/mcp` (the team) and `/mcp/servers/<name>` (one server; the
//! name percent-decoded, as clients encode it in a URL).
//!
//! Invariant: any other path, a path with an empty or undecodable name, or one with more
//! segments after the name, is not an MCP path (the gateway answers 404).

pub const TEAM_PATH: &str = "/mcp";
const SERVERS_PREFIX: &str = "/mcp/servers/";

/// Which MCP endpoint a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpPath {
    Team,
    Server(String),
}

pub fn parse(path: &str) -> Option<McpPath> {
    if path == TEAM_PATH || path == "/mcp/" {
        return Some(McpPath::Team);
    }
    let raw = path.strip_prefix(SERVERS_PREFIX)?.trim_end_matches('/');
    if raw.is_empty() || raw.contains('/') {
        return None;
    }
    percent_decode(raw).map(McpPath::Server)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_and_server_paths_are_recognised_and_names_decoded() {
        assert_eq!(parse("/mcp"), Some(McpPath::Team));
        assert_eq!(
            parse("/mcp/servers/demo"),
            Some(McpPath::Server("demo".into()))
        );
        assert_eq!(
            parse("/mcp/servers/my%20server%2Fx"),
            Some(McpPath::Server("my server/x".into()))
        );
    }

    #[test]
    fn other_paths_are_not_mcp_paths() {
        for p in [
            "/",
            "/mcpx",
            "/mcp/servers/",
            "/mcp/servers/a/b",
            "/mcp/servers/%zz",
            "/mcp/servers/%ff",
            "/mcp/other",
        ] {
            assert_eq!(parse(p), None, "{p}");
        }
    }
}
