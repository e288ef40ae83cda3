//! Native implementation of the network seam over reqwest and tokio (feature `native`), for
//! tests, the conformance runner and native tools.
//!
//! Invariants:
//! - Response bodies are streamed chunk by chunk, never buffered here.
//! - Errors name the host, never the full URL (query strings may hold API keys) and never a
//!   header value.
//! - Every [`HttpClient::send`] is counted, so tests can assert request budgets.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;

use crate::error::{McpError, Result};
use crate::http::{Clock, HttpClient, HttpRequest, HttpResponse, Method};

pub struct NativeHttp {
    client: reqwest::Client,
    requests: Cell<u32>,
}

impl Default for NativeHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeHttp {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("a reqwest client without TLS always builds");
        NativeHttp {
            client,
            requests: Cell::new(0),
        }
    }

    /// Requests sent through this client so far.
    pub fn requests(&self) -> u32 {
        self.requests.get()
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                format!(
                    "{h}{}",
                    u.port().map(|p| format!(":{p}")).unwrap_or_default()
                )
            })
        })
        .unwrap_or_else(|| "the configured host".into())
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl HttpClient for NativeHttp {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.requests.set(self.requests.get() + 1);
        let host = host_of(&request.url);
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                McpError::Validation(format!(
                    "the header name \"{}\" is not valid HTTP",
                    name.escape_default()
                ))
            })?;
            let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                McpError::Validation(format!("the value of header \"{name}\" is not valid HTTP"))
            })?;
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let resp = builder.send().await.map_err(|e| {
            let e = e.without_url();
            if e.is_connect() {
                McpError::Unreachable(format!("could not connect to {host}: {}", describe(&e)))
            } else if e.is_timeout() {
                McpError::Timeout(format!("{host} did not answer in time"))
            } else {
                McpError::transport(format!("the request to {host} failed: {}", describe(&e)))
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .bytes_stream()
            .map(move |chunk| {
                chunk.map(|b| b.to_vec()).map_err(|e| {
                    McpError::ConnectionLost(format!(
                        "reading the reply from {host} failed: {}",
                        describe(&e.without_url())
                    ))
                })
            })
            .boxed_local();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

impl Clock for NativeHttp {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}
