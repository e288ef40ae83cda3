//! [`HttpClient`] and [`Clock`] over `worker::Fetch`, `Date` and `Delay`.
//!
//! Redirects are not followed: a 3xx reaches the MCP client as a status it reports, so an
//! upstream can never bounce us to a target the SSRF policy would refuse.
//!
//! Stdio servers in production: a request to [`STDIO_BRIDGE_DO_ORIGIN`] (what a stdio server's
//! endpoint is when `STDIO_BRIDGE_URL` is unset) never goes to the network: it goes to the
//! `StdioBridge` Durable Object (binding `STDIO_BRIDGE`) named after the URL's
//! `{team}/{server}`, which starts that key's container and forwards to the bridge in it.
//! Without the binding such a request fails with a message saying what to configure.
//!
//! Tracing: a client made `with_traceparent` adds that W3C `traceparent` to every request that
//! does not carry one already (the upstream MCP servers see the PWA's trace), and remembers the
//! host of the last request it sent (`last_host`, the log line's `server.address`).

use std::cell::{Cell, RefCell};
use std::time::Duration;

use futures::StreamExt;
use worker::{
    Env, Fetch, Headers, Method as WMethod, ObjectNamespace, Request, RequestInit, RequestRedirect,
};

use mcp_client::error::{McpError, Result};
use mcp_client::http::{Clock, HttpClient, HttpRequest, HttpResponse, Method};
use shared::server_config::{bridge_key_of_path, STDIO_BRIDGE_DO_ORIGIN};

/// The Durable Object binding of the stdio bridge (class `StdioBridge`, in call_tool).
pub const STDIO_BRIDGE_BINDING: &str = "STDIO_BRIDGE";

#[derive(Default)]
pub struct FetchHttp {
    sent: Cell<u32>,
    stdio_bridge: Option<ObjectNamespace>,
    traceparent: Option<String>,
    last_host: RefCell<Option<String>>,
}

impl FetchHttp {
    pub fn new() -> Self {
        Self::default()
    }
    /// A client that can also reach the `StdioBridge` Durable Object, when `env` binds it.
    pub fn for_env(env: &Env) -> Self {
        FetchHttp {
            stdio_bridge: env.durable_object(STDIO_BRIDGE_BINDING).ok(),
            ..FetchHttp::default()
        }
    }
    /// The same client, adding `traceparent` to the requests it sends (when given).
    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }
    /// The host (and port) of the last request sent, if any.
    pub fn last_host(&self) -> Option<String> {
        self.last_host.borrow().clone()
    }
    /// Requests sent through this client so far.
    pub fn sent(&self) -> u32 {
        self.sent.get()
    }
}

/// workerd reports fetch failures as text: classified once, here ([`McpError::transport`]).
fn upstream(context: &str, e: worker::Error) -> McpError {
    McpError::transport(format!("{context}: {e}"))
}

impl HttpClient for FetchHttp {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers.set(name, value).map_err(|_| {
                McpError::Validation(format!("header '{name}' is not valid for an HTTP request"))
            })?;
        }
        if let Some(traceparent) = &self.traceparent {
            let has_one = request
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(shared::trace::HEADER));
            if !has_one {
                headers
                    .set(shared::trace::HEADER, traceparent)
                    .map_err(|_| {
                        McpError::Validation("traceparent is not a valid header".into())
                    })?;
            }
        }
        *self.last_host.borrow_mut() =
            shared::action_log::host_of(&request.url).map(str::to_string);
        let mut init = RequestInit::new();
        init.with_method(match request.method {
            Method::Get => WMethod::Get,
            Method::Post => WMethod::Post,
            Method::Delete => WMethod::Delete,
        })
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
        if let Some(body) = request.body {
            init.with_body(Some(js_sys_bytes(&body)));
        }
        let req = Request::new_with_init(&request.url, &init)
            .map_err(|e| upstream("building the upstream request", e))?;
        self.sent.set(self.sent.get() + 1);
        let bridge_path = request
            .url
            .strip_prefix(STDIO_BRIDGE_DO_ORIGIN)
            .filter(|p| p.starts_with('/'));
        let mut resp = if let Some(path) = bridge_path {
            self.to_stdio_bridge(path, req).await?
        } else {
            Fetch::Request(req)
                .send()
                .await
                .map_err(|e| upstream("could not reach the server", e))?
        };
        let status = resp.status_code();
        let headers = resp
            .headers()
            .entries()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let body = match resp.stream() {
            Ok(stream) => stream
                .map(|chunk| chunk.map_err(|e| upstream("reading the server's reply", e)))
                .boxed_local(),
            Err(_) => futures::stream::empty().boxed_local(),
        };
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

impl FetchHttp {
    async fn to_stdio_bridge(&self, path: &str, req: Request) -> Result<worker::Response> {
        let namespace = self.stdio_bridge.as_ref().ok_or_else(|| {
            McpError::Validation(format!(
                "stdio servers need the StdioBridge Durable Object (binding {STDIO_BRIDGE_BINDING}) \
                 or STDIO_BRIDGE_URL; this worker has neither"
            ))
        })?;
        let path = path.split('?').next().unwrap_or_default();
        let key = bridge_key_of_path(path)
            .ok_or_else(|| McpError::Internal(format!("not a stdio bridge path: {path}")))?;
        let stub = namespace
            .id_from_name(&key)
            .and_then(|id| id.get_stub())
            .map_err(|e| upstream("the stdio bridge object", e))?;
        stub.fetch_with_request(req)
            .await
            .map_err(|e| upstream("could not reach the stdio bridge", e))
    }
}

fn js_sys_bytes(bytes: &[u8]) -> worker::wasm_bindgen::JsValue {
    let array = worker::js_sys::Uint8Array::new_with_length(bytes.len() as u32);
    array.copy_from(bytes);
    array.into()
}

impl Clock for FetchHttp {
    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }
    fn now_precise_ms(&self) -> f64 {
        worker::js_sys::Date::now()
    }
    async fn sleep_ms(&self, ms: u64) {
        worker::Delay::from(Duration::from_millis(ms)).await
    }
}
