//! The outbound network seam. The MCP client speaks to upstream servers only through
//! [`HttpClient`]; workers implement it over `worker::Fetch`, native code over reqwest
//! (feature `native`), so the same client code is tested natively against real servers.
//!
//! Invariants:
//! - Response bodies are streams: SSE replies are read event by event and may be abandoned.
//! - Header names in [`HttpResponse::headers`] are lower-case.
//! - Time comes from [`Clock`], never from the platform directly, so timeouts are testable.

use futures::stream::LocalBoxStream;
use futures::StreamExt;

use crate::error::{McpError, Result};
use crate::redact::names;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// `Debug` shows header names and the body's size only: values carry credentials and session
/// ids, bodies tool arguments.
#[derive(Clone, PartialEq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
}

pub type ByteStream = LocalBoxStream<'static, Result<Vec<u8>>>;

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ByteStream,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("header_names", &names(&self.headers))
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// `Debug` shows header names only (`Mcp-Session-Id`, cookies).
impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("header_names", &names(&self.headers))
            .finish_non_exhaustive()
    }
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads the whole body, failing once it exceeds `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = self.body.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Err(McpError::Protocol(format!(
                    "upstream response is larger than the {limit}-byte limit"
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

#[allow(async_fn_in_trait)]
pub trait HttpClient {
    /// Sends a request. A connection never made is [`McpError::Unreachable`], one that broke
    /// [`McpError::ConnectionLost`] (see [`McpError::transport`]), a client-side timeout
    /// [`McpError::Timeout`].
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse>;
}

#[allow(async_fn_in_trait)]
pub trait Clock {
    fn now_ms(&self) -> u64;
    /// The same clock with sub-millisecond precision where the platform has it (stage timings).
    fn now_precise_ms(&self) -> f64 {
        self.now_ms() as f64
    }
    async fn sleep_ms(&self, ms: u64);
}
