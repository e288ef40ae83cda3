//! DNS-rebinding protection for the MCP endpoint: which browser origins may call it.
//!
//! Invariants: a request without `Origin` (not from a browser) passes; a request with one
//! passes only when the origin is on the allow-list (`MCP_ALLOWED_ORIGINS`, else the listed
//! `CORS_ALLOWED_ORIGINS`; `*` allows every origin), or when both the origin and the
//! request's own host are loopback (a local deployment called from a local page). A page
//! on a rebound name (`evil.example` resolving to 127.0.0.1) sends its own origin and is refused.

/// The allow-list, from `MCP_ALLOWED_ORIGINS` or else `CORS_ALLOWED_ORIGINS`.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginPolicy {
    any: bool,
    origins: Vec<String>,
}

impl OriginPolicy {
    pub fn from_settings(mcp: Option<&str>, cors: Option<&str>) -> OriginPolicy {
        let list = mcp.or(cors).unwrap_or_default();
        let origins: Vec<String> = list
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        // CORS's `*` is about reading answers; for MCP only an explicit `*` opts out.
        let any = mcp.is_some() && origins.iter().any(|o| o == "*");
        OriginPolicy { any, origins }
    }

    /// Whether a request with `origin` to `host` (the request URL's host) may proceed.
    pub fn allows(&self, origin: Option<&str>, host: &str) -> bool {
        let Some(origin) = origin.map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
        else {
            return true;
        };
        if self.any || self.origins.contains(&origin) {
            return true;
        }
        is_loopback_host(host) && origin_host(&origin).is_some_and(is_loopback_host)
    }
}

fn origin_host(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, rest)| rest)
}

/// `host` (`name`, `name:port`, `[v6]:port` or a bare v6 address) without its port.
fn host_only(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split_once(']').map_or(v6, |(h, _)| h);
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') => name,
        _ => host,
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host_only(host);
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_without_an_origin_pass_and_listed_origins_pass() {
        let p = OriginPolicy::from_settings(None, Some("https://app.example.com"));
        assert!(p.allows(None, "edge.example.com"));
        assert!(p.allows(Some("https://app.example.com/"), "edge.example.com"));
        assert!(!p.allows(Some("https://evil.example"), "edge.example.com"));
    }

    #[test]
    fn a_rebound_name_is_refused_even_on_loopback() {
        let p = OriginPolicy::from_settings(None, None);
        assert!(!p.allows(Some("http://evil.example.com"), "127.0.0.1:8787"));
        assert!(p.allows(Some("http://localhost:8787"), "127.0.0.1:8787"));
        assert!(p.allows(Some("http://127.0.0.1:3000"), "localhost"));
        assert!(p.allows(Some("http://[::1]:3000"), "[::1]:8787"));
        // A loopback page calling a public deployment is not on the list.
        assert!(!p.allows(Some("http://localhost:3000"), "edge.example.com"));
    }

    #[test]
    fn only_an_explicit_mcp_wildcard_allows_every_origin() {
        let cors_star = OriginPolicy::from_settings(None, Some("*"));
        assert!(!cors_star.allows(Some("https://evil.example"), "edge.example.com"));
        let mcp_star = OriginPolicy::from_settings(Some("*"), Some("https://a.example"));
        assert!(mcp_star.allows(Some("https://evil.example"), "edge.example.com"));
    }
}
