//! The actions, as plain async functions over the storage and network seams. Worker crates
//! only build a [`Services`] from their bindings, decode the gateway's envelope and call in.
//!
//! Invariants:
//! - Every function takes the caller's [`Identity`] and scopes every read and write to its team.
//! - Admin-only work checks the role here too, not only in the gateway.
//! - A function answers a [`Reply`] (status + JSON body) or an [`Error`]; the shell turns the
//!   error into the contract body.

pub mod admin;
pub mod analytics;
pub mod call_tool;
pub mod cron;
pub mod list_servers;
pub mod list_tools;
pub mod members;
pub mod sync_tools;

use serde_json::{Map, Value};

use crate::cache::{keys, Cache, Memo};
use crate::call_target::Versioned;
use crate::confirmation::ConfirmationKey;
use crate::connectors::{ConnectorLaunch, FREEFORM_SETTING, LAUNCH_SETTING};
use crate::credentials::{KeyRing, KeyRingError};
use crate::error::Error;
use crate::identity::Identity;
use crate::ledger::Ledger;
use crate::server_config::{AllowedCommands, BridgeToken};
use crate::timing::Timings;
use mcp_client::http::{Clock, HttpClient};

/// Deployment settings the actions honour (read from worker vars by the shells).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Allow upstream URLs on loopback/private networks (local development).
    pub allow_private_upstreams: bool,
    /// Consecutive failures after which a server is marked `error`.
    pub error_after_failures: u32,
    /// Credential keys (secrets `CREDENTIAL_KEYS`, `CREDENTIAL_KEY_ID`); only the workers
    /// that seal or inject credentials (admin, call_tool, sync_tools) have them.
    pub credential_keys: Result<KeyRing, KeyRingError>,
    /// HMAC key of confirmation tokens (secret `CONFIRMATION_SECRET`; call_tool only).
    pub confirmation_key: Option<ConfirmationKey>,
    /// Base URL of a stdio bridge process (`STDIO_BRIDGE_URL`; local development). Unset or
    /// empty: stdio servers are reached through the `StdioBridge` Durable Object (binding
    /// `STDIO_BRIDGE`) and its container (see `server_config::STDIO_BRIDGE_DO_ORIGIN`).
    pub stdio_bridge_url: Option<String>,
    /// The bearer the stdio bridge requires (secret `BRIDGE_TOKEN`; admin, call_tool,
    /// sync_tools).
    pub bridge_token: Option<BridgeToken>,
    /// Commands stdio servers may run (`STDIO_ALLOWED_COMMANDS`); empty: no stdio servers.
    pub stdio_allowed_commands: AllowedCommands,
    /// Whether admins may register free-form stdio commands instead of connectors
    /// (`ALLOW_FREEFORM_STDIO_COMMANDS`; weakens security, off by default).
    pub freeform_stdio: FreeformStdio,
    /// How connector packages are started (`CONNECTOR_LAUNCH`, default `registry`).
    pub connector_launch: ConnectorLaunch,
    /// Whether a signed-in user in no team may create one (`TEAM_SELF_SERVICE`, default on;
    /// off: operators create teams with `scripts/seed-team.py`).
    pub team_self_service: bool,
    /// Servers a team may have when its `teams.max_servers` is NULL (`MAX_SERVERS_PER_TEAM`;
    /// admin and list_servers).
    pub max_servers_per_team: u32,
    /// Background executions a team may run at once (`MAX_RUNNING_EXECUTIONS`; call_tool).
    pub max_running_executions: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allow_private_upstreams: false,
            error_after_failures: 3,
            credential_keys: Err(KeyRingError::NotConfigured),
            confirmation_key: None,
            stdio_bridge_url: None,
            bridge_token: None,
            stdio_allowed_commands: AllowedCommands::default(),
            freeform_stdio: FreeformStdio::Off,
            connector_launch: ConnectorLaunch::Registry,
            team_self_service: true,
            max_servers_per_team: crate::repo::servers::DEFAULT_MAX_SERVERS_PER_TEAM,
            max_running_executions: crate::background::DEFAULT_MAX_RUNNING,
        }
    }
}

impl Settings {
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Settings {
        let d = Settings::default();
        Settings {
            allow_private_upstreams: get("ALLOW_PRIVATE_UPSTREAMS")
                .map(|v| v == "true" || v == "1")
                .unwrap_or(d.allow_private_upstreams),
            error_after_failures: get("ERROR_AFTER_FAILURES")
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(d.error_after_failures),
            credential_keys: KeyRing::from_settings(
                get("CREDENTIAL_KEYS").as_deref(),
                get("CREDENTIAL_KEY_ID").as_deref(),
            ),
            confirmation_key: get("CONFIRMATION_SECRET")
                .and_then(|s| ConfirmationKey::from_secret(&s)),
            stdio_bridge_url: get("STDIO_BRIDGE_URL")
                .map(|u| u.trim().trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            bridge_token: BridgeToken::new(get("BRIDGE_TOKEN")),
            stdio_allowed_commands: AllowedCommands::parse(
                &get("STDIO_ALLOWED_COMMANDS").unwrap_or_default(),
            ),
            freeform_stdio: FreeformStdio::from_vars(
                get(FREEFORM_SETTING).as_deref(),
                get("STDIO_BRIDGE_URL").as_deref(),
            ),
            connector_launch: ConnectorLaunch::from_setting(get(LAUNCH_SETTING).as_deref()),
            team_self_service: get("TEAM_SELF_SERVICE")
                .map(|v| v != "false" && v != "0")
                .unwrap_or(d.team_self_service),
            max_servers_per_team: get("MAX_SERVERS_PER_TEAM")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(d.max_servers_per_team),
            max_running_executions: get("MAX_RUNNING_EXECUTIONS")
                .and_then(|v| v.trim().parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(d.max_running_executions),
        }
    }
}

/// `ALLOW_FREEFORM_STDIO_COMMANDS`: free-form stdio commands are for deployment operators
/// (local development, tests with their own Python servers). Team admins pick connectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeformStdio {
    /// Unset or not `true`: `create_server`/`update_server` with `config.command` answer 400.
    Off,
    /// `true` with a loopback `STDIO_BRIDGE_URL` (a local bridge): allowed.
    On,
    /// `true` in a production-looking setup (no `STDIO_BRIDGE_URL`: the bridge's Durable
    /// Object and container; or a non-loopback one): refused, every stdio registration is an
    /// internal error naming the setting until it is removed.
    Refused,
}

impl FreeformStdio {
    pub fn from_vars(setting: Option<&str>, bridge_url: Option<&str>) -> FreeformStdio {
        if !setting.is_some_and(|v| v.trim() == "true" || v.trim() == "1") {
            return FreeformStdio::Off;
        }
        match bridge_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) if crate::auth::is_loopback_url(url) => FreeformStdio::On,
            _ => FreeformStdio::Refused,
        }
    }
}

/// What a worker provides: storage, cache, network and clock, settings, and a log sink.
pub struct Services<'a, D, C, H> {
    pub db: &'a D,
    pub cache: &'a C,
    pub http: &'a H,
    pub settings: &'a Settings,
    pub log: &'a dyn Fn(&str),
}

/// One request's context: the services plus who is asking.
pub struct Ctx<'a, D, C, H> {
    pub services: Services<'a, D, C, H>,
    pub identity: &'a Identity,
    pub request_id: &'a str,
    /// The request's stage timings (`Server-Timing`).
    pub timings: &'a Timings,
    /// Where `call_tool` records its calls: the team's Durable Object on Workers; `None`:
    /// the database itself ([`crate::ledger::DirectLedger`]).
    pub ledger: Option<&'a dyn Ledger>,
    /// The isolate's cache of call targets and the configuration version this request may
    /// read it under (`crate::call_target`); `None`: read D1 every time.
    pub targets: Option<Versioned<'a>>,
    /// The isolate's memory of upstream MCP session ids (in front of KV; `None`: KV alone).
    /// A remembered id that the server no longer knows costs one re-initialisation.
    pub sessions: Option<&'a Memo>,
    /// Where a background execution's call is handed over (`crate::background`; the
    /// `Execution` objects on Workers); `None`: `"mode": "async"` is refused.
    pub background: Option<&'a dyn crate::background::Background>,
}

impl<D, C, H> Ctx<'_, D, C, H> {
    pub fn team(&self) -> &str {
        &self.identity.team_id
    }
    pub fn log(&self, message: &str) {
        (self.services.log)(message)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply { status: 200, body }
    }

    /// The error contract body, with extra details merged in (e.g. the execution id).
    pub fn error(err: &Error, request_id: &str, extra: Map<String, Value>) -> Reply {
        let mut body = err.to_body(request_id);
        if let Some(details) = body.get_mut("details").and_then(Value::as_object_mut) {
            details.extend(extra);
        }
        Reply {
            status: err.status(),
            body,
        }
    }
}

/// Drops every cached list that a change to this server's tools or status can affect.
pub(crate) async fn drop_team_caches<C: Cache>(cache: &C, team_id: &str, server_id: Option<&str>) {
    let mut keys_to_drop = vec![keys::servers_of_team(team_id), keys::tools_of_team(team_id)];
    if let Some(key) = server_id.and_then(|id| keys::tools_of_server(team_id, id)) {
        keys_to_drop.push(key);
    }
    for key in keys_to_drop {
        // A failed delete only means a stale list for at most the TTL; never fail the change.
        let _ = cache.delete(&key).await;
    }
}

/// Marker bound for the network side of the services.
pub trait Upstream: HttpClient + Clock {}
impl<T: HttpClient + Clock> Upstream for T {}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
