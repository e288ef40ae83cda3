//! The `config` JSON of a server: how to reach it. It never holds secrets: credentials live
//! encrypted in `mcp_server_credentials`; plain headers here are for non-secret values only.
//!
//! Remote servers (`http`, `sse`) have a [`RemoteConfig`] (a URL). Stdio servers have a
//! [`StdioConfig`] (a command line run by the stdio bridge, DESIGN.md §7): the command must be
//! on the deployment's allow-list, and the config names the environment variables the server
//! needs but never holds their values: those come from the server's credential (a
//! `custom_headers` credential whose entries are environment variables), sealed at rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::ssrf::check_upstream_url;

pub mod auth;
pub use crate::stdio_spec::{
    bridge_key_of_path, bridge_url, AllowedCommands, BRIDGE_COMMAND_HEADER,
};
use crate::stdio_spec::{env_name_problem, CommandForm, EnvNameProblem, LaunchSpec};
pub use auth::{AuthHint, AuthKind};
use mcp_client::{ServerEndpoint, TransportPin};

crate::text_enum::text_enum! {
    /// How a server is reached (`mcp_servers.server_type`).
    pub enum ServerType {
        /// By URL, Streamable HTTP first (legacy SSE when the server only speaks that).
        Http = "http",
        /// By URL, the legacy HTTP+SSE transport pinned (unless the config pins another).
        Sse = "sse",
        /// A command run by the stdio bridge (DESIGN.md §7), never by URL.
        Stdio = "stdio",
    }
}
const MAX_HEADERS: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    pub url: String,
    #[serde(default)]
    pub transport: TransportPin,
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// How the server's credential is applied (the seed design's block; [`auth`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthHint>,
}

/// The `config.auth` block of a stored remote server's config, if it has a valid one.
pub fn auth_hint_of(config_text: &str) -> Option<AuthHint> {
    let config: Value = serde_json::from_str(config_text).ok()?;
    AuthHint::parse(config.get("auth")?).ok()
}

impl RemoteConfig {
    /// Validates an admin-supplied config for a remote (`http` or `sse`) server.
    pub fn parse(config: &Value, allow_private: bool) -> Result<RemoteConfig> {
        if let Some(block) = config.get("auth").filter(|b| !b.is_null()) {
            AuthHint::parse(block)?;
        }
        let parsed: RemoteConfig = serde_json::from_value(config.clone())
            .map_err(|e| Error::validation(format!("server config is invalid: {e}")))?;
        let url = check_upstream_url(&parsed.url, allow_private)?;
        if url.host_str().is_some_and(|h| {
            h.trim_end_matches('.')
                .eq_ignore_ascii_case(STDIO_BRIDGE_DO_HOST)
        }) {
            return Err(Error::validation(
                "server url points at the internal stdio bridge; register a stdio server instead",
            ));
        }
        if parsed.headers.len() > MAX_HEADERS {
            return Err(Error::validation("server config has too many headers"));
        }
        for (name, value) in &parsed.headers {
            let lower = name.to_ascii_lowercase();
            if !is_token(name) {
                return Err(Error::validation(format!(
                    "header name '{name}' is not valid"
                )));
            }
            if lower == "authorization"
                || lower.contains("key")
                || lower.contains("token")
                || lower.contains("secret")
            {
                return Err(Error::validation(format!(
                    "header '{name}' looks like a credential; store it with set_credential instead of the server config"
                )));
            }
            if !value
                .as_str()
                .is_some_and(|v| v.len() <= 1024 && !v.contains(['\r', '\n']))
            {
                return Err(Error::validation(format!(
                    "header '{name}' must be a single-line string"
                )));
            }
        }
        Ok(parsed)
    }

    /// Where to reach the server; `server_type` `sse` pins the legacy transport unless the
    /// config pins one explicitly.
    pub fn endpoint(&self, server_id: &str, server_type: ServerType) -> ServerEndpoint {
        let transport = match (self.transport, server_type) {
            (TransportPin::Auto, ServerType::Sse) => TransportPin::Sse,
            (pin, _) => pin,
        };
        ServerEndpoint {
            server_id: server_id.to_string(),
            url: self.url.clone(),
            headers: self
                .headers
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect(),
            transport,
        }
    }
}

/// The origin of stdio bridge URLs when no `STDIO_BRIDGE_URL` is configured: requests to it are
/// routed to the `StdioBridge` Durable Object (and its container) by the worker's HTTP
/// adapter, never sent to the network. `.internal` is refused as an upstream by the SSRF
/// policy, and [`RemoteConfig::parse`] refuses this host outright, so no admin can point a
/// remote server at it.
pub const STDIO_BRIDGE_DO_ORIGIN: &str = "http://stdio-bridge.internal";
/// Host part of [`STDIO_BRIDGE_DO_ORIGIN`].
pub const STDIO_BRIDGE_DO_HOST: &str = "stdio-bridge.internal";

const MAX_COMMAND_LEN: usize = 512;
const MAX_ARGS: usize = 64;
const MAX_ARG_LEN: usize = 4096;
const MAX_ARGS_TOTAL: usize = 16 * 1024;
const MAX_ENV_NAMES: usize = 32;

/// The `config` of a `stdio` server: what the bridge runs. No env values: secret environment
/// variables come from the server's credential (see [`stdio_env`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdioConfig {
    /// A bare executable name (looked up on the bridge's `PATH`) or an absolute path; either
    /// way it must be on `STDIO_ALLOWED_COMMANDS`.
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables the server needs; their values must be in the server's
    /// credential (a call without them fails before anything is started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_names: Vec<String>,
    /// The only names the server's credential may hold (a connector's declared environment);
    /// `None`: any well-formed name (free-form commands). Never stored: rendered from the
    /// catalogue (`crate::connectors`).
    #[serde(skip)]
    pub env_allowed: Option<Vec<String>>,
}

impl StdioConfig {
    /// Validates an admin-supplied config for a stdio server against the allow-list.
    pub fn parse(config: &Value, allowed: &AllowedCommands) -> Result<StdioConfig> {
        if let Some(map) = config.as_object() {
            if map.contains_key("env") {
                return Err(Error::validation_with(
                    "a stdio server's config never holds environment values: list the names in \
                     config.env_names and set the values with set_credential (credential_type \
                     custom_headers, one entry per variable)",
                    json!({ "field": "config.env" }),
                ));
            }
            if map.contains_key("url") {
                return Err(Error::validation_with(
                    "a stdio server has no url: its config is {command, args?, env_names?}",
                    json!({ "field": "config.url" }),
                ));
            }
        }
        let parsed: StdioConfig = serde_json::from_value(config.clone())
            .map_err(|e| Error::validation(format!("stdio server config is invalid: {e}")))?;
        parsed.check_shape()?;
        allowed.check(&parsed.command)?;
        Ok(parsed)
    }

    /// A stored config, re-checked for shape only (the allow-list is the bridge's to enforce
    /// at run time; admins get it checked when they write the config).
    pub fn from_stored(config: &Value) -> Result<StdioConfig> {
        let parsed: StdioConfig = serde_json::from_value(config.clone())
            .map_err(|e| Error::validation(format!("stdio server config is invalid: {e}")))?;
        parsed.check_shape()?;
        Ok(parsed)
    }

    fn check_shape(&self) -> Result<()> {
        let c = &self.command;
        if c.is_empty() || c.len() > MAX_COMMAND_LEN || c.chars().any(|ch| ch.is_control()) {
            return Err(field_error_at(
                "config.command",
                "must be a non-empty single-line string",
            ));
        }
        if CommandForm::of(c) == CommandForm::Relative {
            return Err(field_error_at(
                "config.command",
                "must be a bare executable name or an absolute path",
            ));
        }
        if c.chars().any(char::is_whitespace) {
            return Err(field_error_at(
                "config.command",
                "is one executable; put its arguments in config.args",
            ));
        }
        if self.args.len() > MAX_ARGS
            || self.args.iter().map(String::len).sum::<usize>() > MAX_ARGS_TOTAL
        {
            return Err(field_error_at(
                "config.args",
                &format!("must hold at most {MAX_ARGS} arguments, {MAX_ARGS_TOTAL} bytes in all"),
            ));
        }
        if self
            .args
            .iter()
            .any(|a| a.len() > MAX_ARG_LEN || a.contains(['\0', '\r', '\n']))
        {
            return Err(field_error_at(
                "config.args",
                &format!("each argument must be one line of at most {MAX_ARG_LEN} bytes"),
            ));
        }
        if self.env_names.len() > MAX_ENV_NAMES {
            return Err(field_error_at(
                "config.env_names",
                &format!("must hold at most {MAX_ENV_NAMES} names"),
            ));
        }
        for (i, name) in self.env_names.iter().enumerate() {
            check_env_name(name, "config.env_names")?;
            if self.env_names[..i].contains(name) {
                return Err(field_error_at(
                    "config.env_names",
                    &format!("names '{name}' twice"),
                ));
            }
        }
        Ok(())
    }

    /// The launch spec the bridge expects in [`BRIDGE_COMMAND_HEADER`]: base64url (no padding)
    /// of `{"command", "args", "env"}`. The value carries `env`'s secrets: treat it as one.
    pub fn launch_header(&self, env: &BTreeMap<String, String>) -> String {
        LaunchSpec {
            command: self.command.clone(),
            args: self.args.clone(),
            env: env.clone(),
        }
        .encode()
    }

    /// How to reach this server through the bridge at `bridge_base` (`STDIO_BRIDGE_URL`, or
    /// [`STDIO_BRIDGE_DO_ORIGIN`] for the Durable Object): `…/t/{team}/s/{server}/mcp` with
    /// the bridge's bearer and the launch spec. Streamable HTTP is pinned: the bridge speaks
    /// nothing else, so discovery would only cost a request.
    pub fn bridge_endpoint(
        &self,
        team_id: &str,
        server_id: &str,
        bridge_base: &str,
        bridge_token: &str,
        env: &BTreeMap<String, String>,
    ) -> ServerEndpoint {
        ServerEndpoint {
            server_id: server_id.to_string(),
            url: bridge_url(bridge_base, team_id, server_id),
            headers: vec![
                ("Authorization".into(), format!("Bearer {bridge_token}")),
                (BRIDGE_COMMAND_HEADER.into(), self.launch_header(env)),
            ],
            transport: TransportPin::StreamableHttp,
        }
    }
}

/// The stdio bridge's shared secret (`BRIDGE_TOKEN`); `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct BridgeToken(String);

impl BridgeToken {
    /// `None` for an empty or unset value.
    pub fn new(token: Option<String>) -> Option<BridgeToken> {
        token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(BridgeToken)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BridgeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BridgeToken(redacted)")
    }
}

impl AllowedCommands {
    /// [`AllowedCommands::allows`] as a validation error for the admin.
    pub fn check(&self, command: &str) -> Result<()> {
        if self.is_empty() {
            return Err(Error::validation_with(
                "stdio servers are not enabled on this deployment (STDIO_ALLOWED_COMMANDS is empty)",
                json!({ "field": "server_type" }),
            ));
        }
        if self.allows(command) {
            return Ok(());
        }
        Err(Error::validation_with(
            format!("command '{command}' is not allowed on this deployment"),
            json!({ "field": "config.command", "allowed": self.entries() }),
        ))
    }
}

/// Checks an environment variable name a stdio server gets: `[A-Za-z_][A-Za-z0-9_]*`, and
/// none that changes how code loads (`stdio_spec::CODE_LOADING_ENV`: `LD_*`, `NODE_*`,
/// `PYTHON*`, `NPM_CONFIG_*`, …) or belongs to the bridge (`BRIDGE_*`, and `PATH`, `HOME`,
/// `TMPDIR`…, which the bridge sets).
pub fn check_env_name(name: &str, field: &str) -> Result<()> {
    match env_name_problem(name) {
        None => Ok(()),
        Some(EnvNameProblem::Malformed) => Err(field_error_at(
            field,
            &format!("'{name}' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"),
        )),
        Some(EnvNameProblem::Loader | EnvNameProblem::Reserved) => Err(field_error_at(
            field,
            &format!("'{name}' cannot be set for a stdio server"),
        )),
    }
}

/// The environment a stdio server gets from its credential's entries (`custom_headers`:
/// name → value), checked against the names its config declares. Errors name variables,
/// never values.
pub fn stdio_env(
    server_name: &str,
    config: &StdioConfig,
    entries: Vec<(String, String)>,
) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (name, value) in entries {
        check_env_name(&name, "credential.headers").map_err(|_| {
            Error::Conflict(format!(
                "the credential of stdio server '{server_name}' has entry '{name}', which is not \
                 a usable environment variable name; set it again with set_credential"
            ))
        })?;
        if let Some(allowed) = &config.env_allowed {
            if !allowed.contains(&name) {
                return Err(Error::Conflict(format!(
                    "the credential of stdio server '{server_name}' has entry '{name}', which its \
                     connector does not declare ({}); set it again with set_credential",
                    allowed.join(", ")
                )));
            }
        }
        env.insert(name, value);
    }
    let missing: Vec<&str> = config
        .env_names
        .iter()
        .filter(|n| !env.contains_key(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::Conflict(format!(
            "stdio server '{server_name}' needs the environment variable(s) {}: set them with \
             set_credential (credential_type custom_headers, one entry per variable)",
            missing.join(", ")
        )));
    }
    Ok(env)
}

fn field_error_at(field: &str, problem: &str) -> Error {
    Error::validation_with(format!("'{field}' {problem}"), json!({ "field": field }))
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    #[test]
    fn sse_servers_pin_the_legacy_transport_by_default() {
        let c = RemoteConfig::parse(&json!({"url": "https://x.example/sse"}), false).unwrap();
        assert_eq!(
            c.endpoint("s", ServerType::Sse).transport,
            TransportPin::Sse
        );
        assert_eq!(
            c.endpoint("s", ServerType::Http).transport,
            TransportPin::Auto
        );
    }

    #[test]
    fn credential_like_headers_are_refused() {
        for h in [
            "Authorization",
            "X-Api-Key",
            "x-auth-token",
            "Client-Secret",
        ] {
            let err = RemoteConfig::parse(
                &json!({"url": "https://x.example/mcp", "headers": {h: "v"}}),
                false,
            )
            .unwrap_err();
            assert!(err.to_string().contains("set_credential"), "{h}: {err}");
        }
    }

    #[test]
    fn unknown_fields_and_bad_headers_are_refused() {
        assert!(RemoteConfig::parse(
            &json!({"url": "https://x.example/mcp", "password": "x"}),
            false
        )
        .is_err());
        assert!(RemoteConfig::parse(
            &json!({"url": "https://x.example/mcp", "headers": {"X-A": "a\r\nb"}}),
            false
        )
        .is_err());
        assert!(RemoteConfig::parse(
            &json!({"url": "https://x.example/mcp", "headers": {"bad header": "a"}}),
            false
        )
        .is_err());
        assert!(RemoteConfig::parse(
            &json!({"url": "https://x.example/mcp", "transport": "carrier_pigeon"}),
            false
        )
        .is_err());
    }

    fn allowed() -> AllowedCommands {
        AllowedCommands::parse(" npx, mcp-server-filesystem ,/opt/venv/bin/python,")
    }

    #[test]
    fn stdio_configs_are_checked_against_the_allow_list_exactly() {
        assert_eq!(allowed().entries().len(), 3);
        let ok = StdioConfig::parse(
            &json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}),
            &allowed(),
        )
        .unwrap();
        assert_eq!(ok.args.len(), 2);
        assert!(ok.env_names.is_empty());
        assert!(
            StdioConfig::parse(&json!({"command": "/opt/venv/bin/python"}), &allowed()).is_ok()
        );
        for command in ["bash", "/usr/bin/npx", "/tmp/x/npx", "NPX"] {
            let err = StdioConfig::parse(&json!({"command": command}), &allowed()).unwrap_err();
            assert_eq!(err.details()["field"], "config.command", "{command}");
            assert_eq!(err.details()["allowed"][0], "npx", "{command}");
        }
        let none = StdioConfig::parse(&json!({"command": "npx"}), &AllowedCommands::default())
            .unwrap_err();
        assert!(
            none.to_string().contains("STDIO_ALLOWED_COMMANDS"),
            "{none}"
        );
    }

    #[test]
    fn stdio_configs_never_hold_env_values_and_are_well_formed() {
        let a = allowed();
        let env =
            StdioConfig::parse(&json!({"command": "npx", "env": {"TOKEN": "x"}}), &a).unwrap_err();
        assert!(env.to_string().contains("set_credential"), "{env}");
        for bad in [
            json!({"command": ""}),
            json!({"command": "npx -y"}),
            json!({"command": "bin/npx"}),
            json!({"command": "npx", "args": ["a\nb"]}),
            json!({"command": "npx", "args": "not-a-list"}),
            json!({"command": "npx", "env_names": ["LD_PRELOAD"]}),
            json!({"command": "npx", "env_names": ["BRIDGE_TOKEN"]}),
            json!({"command": "npx", "env_names": ["A-B"]}),
            json!({"command": "npx", "env_names": ["A", "A"]}),
            json!({"command": "npx", "url": "https://x.example/mcp"}),
            json!({"command": "npx", "cwd": "/"}),
        ] {
            assert!(StdioConfig::parse(&bad, &a).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_bridge_endpoint_carries_the_launch_spec_and_the_bearer() {
        let c = StdioConfig::parse(
            &json!({"command": "npx", "args": ["-y", "pkg"], "env_names": ["API_KEY"]}),
            &allowed(),
        )
        .unwrap();
        let env = BTreeMap::from([("API_KEY".to_string(), "sk-123".to_string())]);
        let ep = c.bridge_endpoint("team-a", "srv-1", "http://127.0.0.1:8790/", "tok", &env);
        assert_eq!(ep.url, "http://127.0.0.1:8790/t/team-a/s/srv-1/mcp");
        assert_eq!(ep.transport, TransportPin::StreamableHttp);
        assert_eq!(ep.headers[0], ("Authorization".into(), "Bearer tok".into()));
        let (name, spec) = &ep.headers[1];
        assert_eq!(name, BRIDGE_COMMAND_HEADER);
        let decoded: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(spec)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            decoded,
            json!({"command": "npx", "args": ["-y", "pkg"], "env": {"API_KEY": "sk-123"}})
        );
    }

    #[test]
    fn bridge_keys_are_path_safe_and_distinct() {
        let url = bridge_url(STDIO_BRIDGE_DO_ORIGIN, "team a/ü", "srv-1");
        let path = url.strip_prefix(STDIO_BRIDGE_DO_ORIGIN).unwrap();
        let key = bridge_key_of_path(path).unwrap();
        assert!(key.starts_with("h.") && key.ends_with("/srv-1"), "{key}");
        // A literal id that looks like a hashed one is hashed too, so they never meet.
        let hashed = key.split('/').next().unwrap().to_string();
        let lit = bridge_url("http://b", &hashed, "s");
        assert!(!lit.contains(&format!("/t/{hashed}/")), "{lit}");
        assert_eq!(
            bridge_key_of_path("/t/team-a/s/srv-1/mcp").as_deref(),
            Some("team-a/srv-1")
        );
        assert_eq!(bridge_key_of_path("/t/../s/x/mcp"), None);
        assert_eq!(bridge_key_of_path("/other"), None);
    }

    #[test]
    fn remote_servers_cannot_point_at_the_internal_bridge() {
        let err = RemoteConfig::parse(
            &json!({"url": "http://stdio-bridge.internal/t/a/s/b/mcp"}),
            true,
        )
        .unwrap_err();
        assert!(err.to_string().contains("stdio"), "{err}");
    }

    #[test]
    fn stdio_env_comes_from_the_credential_and_must_cover_the_declared_names() {
        let c = StdioConfig::parse(
            &json!({"command": "npx", "env_names": ["A_KEY", "B_KEY"]}),
            &allowed(),
        )
        .unwrap();
        let missing = stdio_env("srv", &c, vec![("A_KEY".into(), "secret-a".into())]).unwrap_err();
        let text = missing.to_string();
        assert!(
            text.contains("B_KEY") && !text.contains("secret-a"),
            "{text}"
        );
        let env = stdio_env(
            "srv",
            &c,
            vec![
                ("A_KEY".into(), "1".into()),
                ("B_KEY".into(), "2".into()),
                ("EXTRA".into(), "3".into()),
            ],
        )
        .unwrap();
        assert_eq!(env.len(), 3);
        let bad = stdio_env("srv", &c, vec![("X-Header".into(), "v".into())]).unwrap_err();
        assert!(matches!(bad, Error::Conflict(_)));
        assert!(
            format!("{:?}", BridgeToken::new(Some("tok-123".into())).unwrap())
                == "BridgeToken(redacted)"
        );
        assert_eq!(BridgeToken::new(Some("  ".into())), None);
    }
}
