//! The gateway's decisions, free of I/O: which paths it serves, CORS, and admission (who is
//! calling, is the body a valid request). The gateway worker only does the I/O around these,
//! asks the team's gate (`membership`: team, membership, role, limits) and forwards admitted
//! requests to the action workers.
//!
//! Order of checks, so that nothing about the API leaks to unauthenticated callers:
//! size → identity → body shape → team → membership and role → rate limit.
//!
//! The size is checked twice: by the declared `Content-Length` before reading, and while the
//! body streams in ([`BodyLimit`], [`read_body`]), so a chunked body without a length is cut
//! off as soon as it passes [`MAX_BODY_BYTES`]; it is never read whole first.

use crate::api::{ActionRequest, Route, MAX_BODY_BYTES};
use crate::auth::{authenticate, bearer_token, AuthConfig, Verified};
use crate::cache::Cache;
use crate::error::{Error, Result};
use mcp_client::http::HttpClient;

/// Paths the PWA may POST to (the second is the path the existing client already uses).
pub const API_PATHS: [&str; 2] = ["/", "/functions/v1/mcp-client"];

pub fn is_api_path(path: &str) -> bool {
    API_PATHS.contains(&path)
}

/// The Service Binding name of each action worker.
pub fn binding_of(route: Route) -> &'static str {
    match route {
        Route::ListServers => "LIST_SERVERS",
        Route::ListTools => "LIST_TOOLS",
        Route::CallTool => "CALL_TOOL",
        Route::SyncTools => "SYNC_TOOLS",
        Route::Admin => "ADMIN",
    }
}

/// Refuses a body by its declared length before reading it.
pub fn check_declared_length(content_length: Option<&str>) -> Result<()> {
    match content_length.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(n) if n > MAX_BODY_BYTES as u64 => Err(Error::PayloadTooLarge(format!(
            "request body is {n} bytes; the limit is {MAX_BODY_BYTES}"
        ))),
        _ => Ok(()),
    }
}

/// Collects a body chunk by chunk and refuses it (413) the moment its running total passes
/// the limit.
#[derive(Debug)]
pub struct BodyLimit {
    limit: usize,
    body: Vec<u8>,
}

impl BodyLimit {
    pub fn new(limit: usize) -> BodyLimit {
        BodyLimit {
            limit,
            body: Vec::new(),
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<()> {
        if self.body.len().saturating_add(chunk.len()) > self.limit {
            return Err(Error::PayloadTooLarge(format!(
                "request body is over the limit of {} bytes",
                self.limit
            )));
        }
        self.body.extend_from_slice(chunk);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.body
    }
}

/// Reads a body stream up to `limit` bytes; stops reading at the first chunk past it.
pub async fn read_body<S, E>(stream: S, limit: usize) -> Result<Vec<u8>>
where
    S: futures::Stream<Item = std::result::Result<Vec<u8>, E>>,
    E: std::fmt::Display,
{
    use futures::StreamExt;
    let mut stream = std::pin::pin!(stream);
    let mut body = BodyLimit::new(limit);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::validation(format!("unreadable body: {e}")))?;
        body.push(&chunk)?;
    }
    Ok(body.into_bytes())
}

/// JSON is the only body the API takes; a missing type is tolerated (curl, simple clients).
pub fn check_content_type(content_type: Option<&str>) -> Result<()> {
    match content_type {
        None => Ok(()),
        Some(ct) => {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if mime == "application/json" || mime.ends_with("+json") {
                Ok(())
            } else {
                Err(Error::validation(format!(
                    "Content-Type must be application/json, not '{}'",
                    mime.chars().take(64).collect::<String>()
                )))
            }
        }
    }
}

/// Authenticates the caller and validates the request (the team and the role are the gate's).
pub async fn admit<H: HttpClient, C: Cache>(
    authorization: Option<&str>,
    body: &[u8],
    auth: &AuthConfig,
    now_secs: u64,
    http: &H,
    cache: &C,
) -> Result<(Verified, ActionRequest)> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge(format!(
            "request body is {} bytes; the limit is {MAX_BODY_BYTES}",
            body.len()
        )));
    }
    let token = bearer_token(authorization)?;
    let verified = authenticate(token, auth, now_secs, http, cache).await?;
    let request = ActionRequest::parse(body)?;
    Ok((verified, request))
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq)]
pub enum CorsPolicy {
    /// Any origin; answered with `*` and never with credentials.
    AnyOrigin,
    Origins(Vec<String>),
}

impl CorsPolicy {
    /// From a comma-separated list (`CORS_ALLOWED_ORIGINS`); unset means no browser origin.
    pub fn from_setting(value: Option<&str>) -> CorsPolicy {
        match value.map(str::trim) {
            Some("*") => CorsPolicy::AnyOrigin,
            Some(list) => CorsPolicy::Origins(
                list.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect(),
            ),
            None => CorsPolicy::Origins(Vec::new()),
        }
    }

    /// Headers for a response to a request from `origin` (none when it is not allowed).
    pub fn headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let Some(origin) = origin else {
            return Vec::new();
        };
        let allow = match self {
            CorsPolicy::AnyOrigin => "*".to_string(),
            CorsPolicy::Origins(list) if list.iter().any(|o| o == origin) => origin.to_string(),
            CorsPolicy::Origins(_) => return Vec::new(),
        };
        vec![
            ("access-control-allow-origin", allow),
            ("vary", "Origin".into()),
            (
                "access-control-expose-headers",
                "X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, Retry-After, Server-Timing"
                    .into(),
            ),
        ]
    }

    /// Extra headers for a preflight answer.
    pub fn preflight_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let mut headers = self.headers(origin);
        if !headers.is_empty() {
            headers.push(("access-control-allow-methods", "POST, OPTIONS".into()));
            headers.push((
                "access-control-allow-headers",
                // X-Client-Info and Apikey: what supabase-js's functions.invoke() sends;
                // Traceparent: a PWA's W3C trace context (`crate::trace`); the MCP headers:
                // browser MCP clients of `/mcp`; Last-Event-ID: resuming `watch_execution`.
                "Authorization, Content-Type, X-Request-Id, X-Team-Id, X-Client-Info, Apikey, \
                 Traceparent, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID"
                    .into(),
            ));
            headers.push(("access-control-max-age", "86400".into()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_origins_are_echoed_and_others_get_nothing() {
        let p = CorsPolicy::from_setting(Some("https://app.example.com, http://localhost:5173/"));
        let h = p.headers(Some("http://localhost:5173"));
        assert!(h.contains(&(
            "access-control-allow-origin",
            "http://localhost:5173".into()
        )));
        assert!(p.headers(Some("https://evil.example")).is_empty());
        assert!(p.headers(None).is_empty());
        assert!(CorsPolicy::from_setting(None)
            .headers(Some("https://app.example.com"))
            .is_empty());
    }

    #[test]
    fn preflight_allows_what_supabase_js_sends() {
        let h = CorsPolicy::AnyOrigin.preflight_headers(Some("https://x.example"));
        let allowed = &h
            .iter()
            .find(|(k, _)| *k == "access-control-allow-headers")
            .unwrap()
            .1
            .to_ascii_lowercase();
        for header in ["authorization", "content-type", "x-client-info", "apikey"] {
            assert!(allowed.contains(header), "{header} in {allowed}");
        }
    }

    #[test]
    fn wildcard_never_comes_with_credentials() {
        let h = CorsPolicy::AnyOrigin.preflight_headers(Some("https://x.example"));
        assert!(h.contains(&("access-control-allow-origin", "*".into())));
        assert!(h
            .iter()
            .all(|(k, _)| *k != "access-control-allow-credentials"));
        assert!(h
            .iter()
            .any(|(k, v)| *k == "access-control-allow-headers" && v.contains("Authorization")));
    }

    #[test]
    fn declared_length_and_content_type_are_checked() {
        assert_eq!(
            check_declared_length(Some("999999999"))
                .unwrap_err()
                .status(),
            413
        );
        assert!(check_declared_length(Some("10")).is_ok());
        assert!(check_declared_length(None).is_ok());
        assert!(check_content_type(Some("application/json; charset=utf-8")).is_ok());
        assert!(check_content_type(None).is_ok());
        assert_eq!(
            check_content_type(Some("text/plain")).unwrap_err().code(),
            "validation_error"
        );
    }

    #[test]
    fn the_body_limit_refuses_the_chunk_that_passes_it() {
        let mut b = BodyLimit::new(10);
        b.push(b"12345").unwrap();
        b.push(b"67890").unwrap();
        let err = b.push(b"x").unwrap_err();
        assert_eq!(err.status(), 413);
        assert_eq!(err.code(), "payload_too_large");
        let mut exact = BodyLimit::new(3);
        exact.push(b"abc").unwrap();
        exact.push(b"").unwrap();
        assert_eq!(exact.into_bytes(), b"abc");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_endless_chunked_body_is_cut_off_at_the_limit() {
        use std::cell::Cell;
        let pulled = Cell::new(0usize);
        // Endless: reading it all first would never end.
        let endless = futures::stream::repeat_with(|| {
            pulled.set(pulled.get() + 1);
            Ok::<_, String>(vec![b'x'; 1000])
        });
        let err = read_body(endless, MAX_BODY_BYTES).await.unwrap_err();
        assert_eq!(err.code(), "payload_too_large");
        assert_eq!(
            pulled.get(),
            MAX_BODY_BYTES / 1000 + 1,
            "not one chunk more"
        );

        let small = futures::stream::iter(vec![
            Ok::<_, String>(b"{\"a\"".to_vec()),
            Ok(b":1}".to_vec()),
        ]);
        assert_eq!(
            read_body(small, MAX_BODY_BYTES).await.unwrap(),
            br#"{"a":1}"#
        );
        let broken = futures::stream::iter(vec![Ok(b"{".to_vec()), Err("reset".to_string())]);
        assert_eq!(
            read_body(broken, MAX_BODY_BYTES).await.unwrap_err().code(),
            "validation_error"
        );
    }

    #[test]
    fn every_route_has_a_binding() {
        use crate::api::Action;
        for name in Action::NAMES {
            let route = Action::parse(name).unwrap().route();
            assert!(!binding_of(route).is_empty());
        }
    }
}
