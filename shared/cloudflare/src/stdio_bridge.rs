//! The `StdioBridge` Durable Object (DESIGN.md §7): one instance per (team, server), named
//! `{team}/{server}` by the HTTP adapter ([`crate::fetch`]), each with its own
//! Cloudflare Container running the stdio bridge image (`functions/stdio_bridge/Dockerfile`).
//! It starts the container when it is not running, waits until the bridge answers
//! `GET /health`, and forwards the request unchanged (path `/t/{team}/s/{server}/mcp`,
//! bearer, `X-Bridge-Command`, body) to port 8790; the answer streams back as it comes.
//!
//! The container gets its settings at start: `BRIDGE_TOKEN` (this worker's secret) and
//! `BRIDGE_ALLOWED_COMMANDS` (= `STDIO_ALLOWED_COMMANDS`, the list admins are checked
//! against). The bridge itself checks the bearer, the allow-list and the key on every request.
//!
//! Idle containers are stopped: every request pushes an alarm `STDIO_BRIDGE_SLEEP_SECS`
//! (default 600) ahead; when it fires with nothing newer, the container is destroyed (the next
//! request starts it again; the bridge re-initializes the stdio server on its first call).
//!
//! Hosted by call_tool (feature `stdio-bridge`, re-exported by that crate). Only reached from
//! workers that bind it (call_tool; sync_tools and admin through `script_name`), never from the
//! public internet.

use std::cell::Cell;
use std::time::Duration;

use worker::js_sys::{Function, Object, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{
    durable_object, Container, Date, Delay, DurableObject, Env, Fetcher, Request, Response, State,
};

use crate::log::log;

const WORKER: &str = "stdio_bridge";
/// The port the bridge listens on in the container (`BRIDGE_ADDR` in the Dockerfile).
pub const BRIDGE_PORT: u16 = 8790;
/// How long a starting container may take to answer `/health`.
const START_TIMEOUT_MS: u64 = 60_000;
const START_POLL_MS: u64 = 250;
const DEFAULT_SLEEP_SECS: u64 = 600;
const LAST_USED_KEY: &str = "last_used_ms";

#[durable_object]
pub struct StdioBridge {
    state: State,
    env: Env,
    /// `/health` answered since this instance started the container (or found it running).
    ready: Cell<bool>,
}

impl DurableObject for StdioBridge {
    fn new(state: State, env: Env) -> Self {
        StdioBridge {
            state,
            env,
            ready: Cell::new(false),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let port = match self.ready_port().await {
            Ok(port) => port,
            Err(why) => {
                log(
                    "error",
                    WORKER,
                    "-",
                    &format!("container unavailable: {why}"),
                );
                return bridge_error(503, &format!("stdio bridge container unavailable: {why}"));
            }
        };
        self.keep_awake().await;
        match port.fetch_request(req).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                // The container may have stopped under us: start it again on the next request.
                self.ready.set(false);
                log("error", WORKER, "-", &format!("forwarding failed: {e}"));
                bridge_error(502, &format!("stdio bridge container did not answer: {e}"))
            }
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let storage = self.state.storage();
        let last: u64 = storage.get(LAST_USED_KEY).await?.unwrap_or(0);
        let sleep_ms = self.sleep_secs() * 1000;
        let now = Date::now().as_millis();
        if now.saturating_sub(last) + 1000 < sleep_ms {
            storage
                .set_alarm(Duration::from_millis(sleep_ms - (now - last)))
                .await?;
        } else if let Some(container) = self.state.container() {
            if container.running() {
                log(
                    "info",
                    WORKER,
                    "-",
                    "stopping an idle stdio bridge container",
                );
                container.destroy(None).await?;
            }
            self.ready.set(false);
        }
        Response::ok("")
    }
}

impl StdioBridge {
    fn sleep_secs(&self) -> u64 {
        self.env
            .var("STDIO_BRIDGE_SLEEP_SECS")
            .ok()
            .and_then(|v| v.to_string().parse().ok())
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_SLEEP_SECS)
    }

    /// The bridge's port, with the container started and answering.
    async fn ready_port(&self) -> Result<Fetcher, String> {
        let container = self.state.container().ok_or(
            "this Durable Object has no container (is the [[containers]] block of \
             functions/call_tool/wrangler.toml deployed?)",
        )?;
        if !container.running() {
            self.ready.set(false);
            self.start(&container)?;
        }
        let port = container
            .get_tcp_port(BRIDGE_PORT)
            .map_err(|e| format!("port {BRIDGE_PORT}: {e}"))?;
        if self.ready.get() {
            return Ok(port);
        }
        let deadline = Date::now().as_millis() + START_TIMEOUT_MS;
        loop {
            let healthy = port
                .fetch(format!("http://container:{BRIDGE_PORT}/health"), None)
                .await
                .map(|r| r.status_code() == 200)
                .unwrap_or(false);
            if healthy {
                self.ready.set(true);
                return Ok(port);
            }
            if Date::now().as_millis() >= deadline {
                return Err(format!(
                    "the bridge did not answer /health within {} s",
                    START_TIMEOUT_MS / 1000
                ));
            }
            Delay::from(Duration::from_millis(START_POLL_MS)).await;
        }
    }

    /// Starts the container with the bridge's settings. `Container::start` of workers-rs
    /// 0.8.7 hands the runtime a wasm-bindgen object and a `Map` for `env`; the runtime wants
    /// plain objects, so the options are built as such and `start` is called directly.
    fn start(&self, container: &Container) -> Result<(), String> {
        let token = self
            .env
            .secret("BRIDGE_TOKEN")
            .map(|s| s.to_string())
            .map_err(|_| "the BRIDGE_TOKEN secret is not set on the call_tool worker")?;
        let allowed = self
            .env
            .var("STDIO_ALLOWED_COMMANDS")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let env = Object::new();
        let set =
            |o: &Object, k: &str, v: &JsValue| Reflect::set(o, &JsValue::from_str(k), v).map(drop);
        let options = Object::new();
        set(&env, "BRIDGE_TOKEN", &JsValue::from_str(&token))
            .and_then(|_| {
                set(
                    &env,
                    "BRIDGE_ALLOWED_COMMANDS",
                    &JsValue::from_str(&allowed),
                )
            })
            .and_then(|_| set(&options, "env", &env))
            .and_then(|_| set(&options, "enableInternet", &JsValue::TRUE))
            .map_err(|e| format!("building start options: {e:?}"))?;
        let target: &JsValue = container.as_ref();
        let start: Function = Reflect::get(target, &JsValue::from_str("start"))
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or("the container has no start()")?;
        start
            .call1(target, &options)
            .map(drop)
            .map_err(|e| format!("starting the container: {e:?}"))
    }

    /// Records this use and keeps an alarm ahead of it (best effort: a failure only means the
    /// container may sleep early or late).
    async fn keep_awake(&self) {
        let storage = self.state.storage();
        let now = Date::now().as_millis();
        let _ = storage.put(LAST_USED_KEY, now).await;
        if matches!(storage.get_alarm().await, Ok(None)) {
            let _ = storage
                .set_alarm(Duration::from_secs(self.sleep_secs()))
                .await;
        }
    }
}

/// An answer the MCP client reports as the bridge's: a JSON-RPC error body with a status.
fn bridge_error(status: u16, message: &str) -> worker::Result<Response> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32005, "message": message},
    });
    Ok(Response::from_json(&body)?.with_status(status))
}
