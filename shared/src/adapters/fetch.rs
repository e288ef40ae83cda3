//! [`HttpClient`] and [`Clock`] over `worker::Fetch`, `Date` and `Delay`.
//!
//! Redirects are not followed: a 3xx reaches the MCP client as a status it reports, so an
//! upstream can never bounce us to a target the SSRF policy would refuse.

use std::cell::Cell;
use std::time::Duration;

use futures::StreamExt;
use worker::{Fetch, Headers, Method as WMethod, Request, RequestInit, RequestRedirect};

use crate::error::{Error, Result};
use crate::http::{Clock, HttpClient, HttpRequest, HttpResponse, Method};

#[derive(Default)]
pub struct FetchHttp {
    sent: Cell<u32>,
}

impl FetchHttp {
    pub fn new() -> Self {
        Self::default()
    }
    /// Requests sent through this client so far.
    pub fn sent(&self) -> u32 {
        self.sent.get()
    }
}

fn upstream(context: &str, e: worker::Error) -> Error {
    Error::Upstream(format!("{context}: {e}"))
}

impl HttpClient for FetchHttp {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers.set(name, value).map_err(|_| {
                Error::Upstream(format!("header '{name}' is not valid for an HTTP request"))
            })?;
        }
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
        let mut resp = Fetch::Request(req)
            .send()
            .await
            .map_err(|e| upstream("could not reach the server", e))?;
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

fn js_sys_bytes(bytes: &[u8]) -> worker::wasm_bindgen::JsValue {
    let array = worker::js_sys::Uint8Array::new_with_length(bytes.len() as u32);
    array.copy_from(bytes);
    array.into()
}

impl Clock for FetchHttp {
    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }
    async fn sleep_ms(&self, ms: u64) {
        worker::Delay::from(Duration::from_millis(ms)).await
    }
}
