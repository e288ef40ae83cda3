//! How an action reaches a server: the endpoint (URL, or the stdio bridge's route and launch
//! spec), the server's credential opened into it, scrubbing of whatever comes back, and the
//! server row's record of a failed or successful attempt. `call_tool`, `sync_tools` and the
//! cron checks all go through here; nothing else builds an upstream request.
//!
//! Invariants:
//! - Every upstream request goes to an [`authorized_endpoint`]: the server's credential is
//!   opened here, into headers (or, for a stdio server, the child's environment) only, and a
//!   credential that cannot be used stops the request (fails closed, nothing is sent).
//! - A credential opens only for the destination it was sealed for
//!   (`crate::credentials::destination`), computed from the same config row the request is
//!   then sent to: a value set for another origin or command line never goes there.
//! - A `stdio` server is never reached by URL ([`endpoint_of`] refuses it); it goes through
//!   the stdio bridge with the bridge's bearer, and without `BRIDGE_TOKEN` nothing is sent.
//! - The [`Authorized::redactor`] covers every secret value the request carries (credential
//!   values, the encoded launch spec, the bridge's bearer); errors pass through
//!   [`scrub_error`] before they are logged or stored as a server's `last_error`.
//! - A failed attempt lands on the server row ([`mark_failed`]): `last_error`, one more
//!   consecutive failure, `error` after `Settings::error_after_failures` of them.

use serde_json::Value;

use crate::actions::{Services, Upstream};
use crate::connectors::{Catalogue, ConnectorConfig, ConnectorLaunch};
use crate::credentials as secrets;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::redact::Redactor;
use crate::repo::credentials::{self, StoredCredential};
use crate::repo::servers::{self, Server};
use crate::server_config::{
    stdio_env, AuthHint, AuthKind, RemoteConfig, ServerType, StdioConfig, STDIO_BRIDGE_DO_ORIGIN,
};
use crate::time::iso_from_ms;
use mcp_client::ServerEndpoint;

/// Records on `server`'s row that an attempt to reach it (`what`: "sync", "health check")
/// failed with `e` (already scrubbed): logged, then its public message as `last_error`, one
/// more consecutive failure, and status `error` once there are
/// `Settings::error_after_failures` of them. Answers the status the row was left in.
pub async fn mark_failed<D: Database, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
    what: &str,
    e: &Error,
    now: &str,
) -> Result<Option<servers::ConnectionStatus>> {
    (services.log)(&format!("{what} of server {} failed: {e}", server.id));
    servers::mark_failed(
        services.db,
        &server.team_id,
        &server.id,
        &e.public_message(),
        services.settings.error_after_failures,
        now,
    )
    .await
}

/// Whether a [`mark_failed`] moved `server`'s connection status from the row as read. A write
/// that failed, or found the row gone, counts as moved: what callers cache under the team's
/// configuration version is then refreshed rather than trusted.
pub fn status_moved(server: &Server, marked: &Result<Option<servers::ConnectionStatus>>) -> bool {
    !matches!(marked, Ok(Some(left)) if *left == server.connection_status)
}

/// Records on `server`'s row that it answered: `connected`, failures reset.
pub async fn mark_connected<D: Database, C, H>(
    services: &Services<'_, D, C, H>,
    server: &Server,
    now: &str,
) -> Result<()> {
    servers::mark_connected(services.db, &server.team_id, &server.id, now).await
}

/// `e` with the credential's values scrubbed from its message (upstream text may echo them,
/// and the message is logged and stored as the server's `last_error`).
pub fn scrub_error(redactor: &Redactor, e: Error) -> Error {
    if redactor.is_empty() {
        return e;
    }
    match e {
        Error::Upstream(m) => Error::Upstream(redactor.text(&m)),
        Error::Timeout(m) => Error::Timeout(redactor.text(&m)),
        Error::Tool(m) => Error::Tool(redactor.text(&m)),
        Error::Internal(m) => Error::Internal(redactor.text(&m)),
        Error::Conflict(m) => Error::Conflict(redactor.text(&m)),
        other => other,
    }
}

/// How to reach a server, with its credential's headers: what every upstream request uses.
pub struct Authorized {
    pub endpoint: ServerEndpoint,
    /// The credential in the headers, if the server has one.
    pub credential: Option<CredentialUse>,
    /// Scrubs the credential's values out of whatever comes back (results, errors).
    pub redactor: Redactor,
    /// The values the redactor scrubs, for a background execution's object to build its own
    /// (`crate::background::Handoff`; held in its memory only).
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialUse {
    pub id: String,
    pub team_id: String,
    /// Identifies the credential value (cache keys of cacheable results).
    pub scope: String,
}

impl Authorized {
    /// Records `last_used_at`; call right before the request goes upstream. A failure to
    /// record is logged, never fatal.
    pub async fn record_use<D: Database, C, H: Upstream>(&self, services: &Services<'_, D, C, H>) {
        if let Some(c) = &self.credential {
            let now = iso_from_ms(services.http.now_ms());
            if let Err(e) = credentials::touch(services.db, &c.team_id, &c.id, &now).await {
                (services.log)(&format!("recording use of credential {} failed: {e}", c.id));
            }
        }
    }
}

/// [`endpoint_of`] plus the server's credential, opened and checked. Fails closed: a
/// credential that does not open or an expired OAuth token is a `conflict` telling the admin
/// what to do, and the caller sends nothing upstream.
///
/// A `stdio` server is reached through the stdio bridge (DESIGN.md §7): at `STDIO_BRIDGE_URL`
/// when set (local development), otherwise at [`STDIO_BRIDGE_DO_ORIGIN`], which the worker's
/// HTTP adapter routes to the `StdioBridge` Durable Object. Its credential (`custom_headers`)
/// becomes the child's environment inside the `X-Bridge-Command` launch spec; the redactor
/// then covers each env value, the encoded launch spec and the bridge's bearer.
pub async fn authorized_endpoint<D: Database, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
) -> Result<Authorized> {
    let stored = credentials::for_server(services.db, &server.team_id, &server.id).await?;
    authorize(services, server, stored)
}

/// [`authorized_endpoint`] with the server's credential row (`stored`, `None`: it has none)
/// already read: `call_tool` reads it together with the server and the tool
/// (`crate::call_target`).
pub fn authorize<D, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
    stored: Option<StoredCredential>,
) -> Result<Authorized> {
    if server.server_type == ServerType::Stdio {
        return stdio_endpoint(services, server, stored);
    }
    let remote = remote_config_of(server, services.settings.allow_private_upstreams)?;
    let mut endpoint = remote.endpoint(&server.id, server.server_type);
    let Some((stored, material)) = open_credential(services, server, stored)? else {
        if let Some(hint) = remote.auth.filter(AuthHint::needs_credential) {
            return Err(Error::Conflict(format!(
                "server '{}' needs a{} {} credential (its config.auth) and has none;                  an admin sets it with set_credential",
                server.name,
                if hint.kind == AuthKind::ApiKey { "n" } else { "" },
                hint.kind.credential_type().unwrap_or("")
            )));
        }
        return Ok(Authorized {
            endpoint,
            credential: None,
            redactor: Redactor::default(),
            secrets: Vec::new(),
        });
    };
    for (name, value) in material.headers() {
        endpoint
            .headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        endpoint.headers.push((name, value));
    }
    let secrets = material.secret_values();
    Ok(Authorized {
        endpoint,
        redactor: Redactor::new(secrets.clone()),
        secrets,
        credential: Some(credential_use(&stored)),
    })
}

fn credential_use(stored: &StoredCredential) -> CredentialUse {
    CredentialUse {
        id: stored.id.clone(),
        team_id: stored.team_id.clone(),
        scope: stored.scope(),
    }
}

/// The server's credential, opened, if it has one; fails closed (see [`authorized_endpoint`]).
fn open_credential<D, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
    stored: Option<StoredCredential>,
) -> Result<Option<(StoredCredential, secrets::Material)>> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    // Bound to where the server points now: a value set for another origin (or command
    // line) does not open, so it can never be sent there.
    let destination = secrets::destination_of(server.server_type, &server.config);
    let material = secrets::open(
        services.settings.credential_keys.as_ref(),
        &stored.binding(destination.as_deref().unwrap_or_default()),
        &stored.key_id,
        &stored.encrypted_value,
    )
    .map_err(|why| {
        (services.log)(&format!(
            "credential {} of server {} is unusable: {why}",
            stored.id, server.id
        ));
        secrets::unusable_error(&server.name, &why)
    })?;
    if let Some(expires_at) = &stored.expires_at {
        let expired =
            secrets::parse_iso_ms(expires_at).is_none_or(|at| services.http.now_ms() >= at);
        if expired {
            return Err(secrets::expired(&server.name, expires_at));
        }
    }
    Ok(Some((stored, material)))
}

/// A stdio server's endpoint on the bridge, with its secret environment in the launch spec.
fn stdio_endpoint<D, C, H: Upstream>(
    services: &Services<'_, D, C, H>,
    server: &Server,
    stored: Option<StoredCredential>,
) -> Result<Authorized> {
    let settings = services.settings;
    let config = stdio_config_of(server, settings.connector_launch)?;
    let token = settings.bridge_token.as_ref().ok_or_else(|| {
        Error::Upstream(format!(
            "server '{}' is a stdio server and this deployment has no BRIDGE_TOKEN configured",
            server.name
        ))
    })?;
    let opened = open_credential(services, server, stored)?;
    let (entries, credential) = match opened {
        None => (Vec::new(), None),
        Some((stored, material @ secrets::Material::CustomHeaders { .. })) => {
            (material.headers(), Some(credential_use(&stored)))
        }
        Some((stored, material)) => {
            (services.log)(&format!(
                "credential {} of stdio server {} is a {}, not custom_headers",
                stored.id,
                server.id,
                material.credential_type()
            ));
            return Err(Error::Conflict(format!(
                "stdio server '{}' takes its environment from a custom_headers credential (one \
                 entry per variable), not a {}; set it again with set_credential",
                server.name,
                material.credential_type()
            )));
        }
    };
    let env = stdio_env(&server.name, &config, entries)?;
    let base = settings
        .stdio_bridge_url
        .as_deref()
        .unwrap_or(STDIO_BRIDGE_DO_ORIGIN);
    let endpoint = config.bridge_endpoint(&server.team_id, &server.id, base, token.expose(), &env);
    let mut secret_values: Vec<String> = env.values().cloned().collect();
    secret_values.extend(endpoint.headers.iter().map(|(_, v)| v.clone()));
    secret_values.push(token.expose().to_string());
    Ok(Authorized {
        endpoint,
        redactor: Redactor::new(secret_values.clone()),
        secrets: secret_values,
        credential,
    })
}

/// A stdio server's stored config (a connector's rendered with the shipped catalogue and
/// `launch`); one the admin must fix is an `upstream_error` naming it.
pub fn stdio_config_of(server: &Server, launch: ConnectorLaunch) -> Result<StdioConfig> {
    let config: Value = serde_json::from_str(&server.config).map_err(|_| {
        Error::Upstream(format!("server '{}' has an unreadable config", server.name))
    })?;
    if let Some(connector) = ConnectorConfig::from_stored(&config) {
        return connector
            .and_then(|c| c.render(Catalogue::shipped(), launch))
            .map_err(|e| match e {
                Error::Conflict(_) => e,
                e => Error::Upstream(format!(
                    "server '{}' config: {}",
                    server.name,
                    e.public_message()
                )),
            });
    }
    StdioConfig::from_stored(&config).map_err(|e| {
        Error::Upstream(format!(
            "server '{}' config: {}",
            server.name,
            e.public_message()
        ))
    })
}

/// A remote server's config: how to reach it, without its credential (see
/// [`authorized_endpoint`], which also reaches stdio servers), and how its credential is
/// applied; a config the admin must fix is an `upstream_error` naming it.
pub fn remote_config_of(server: &Server, allow_private: bool) -> Result<RemoteConfig> {
    if server.server_type == ServerType::Stdio {
        return Err(Error::Upstream(format!(
            "server '{}' is a stdio server: it is reached through the stdio bridge \
             (authorized_endpoint), not by URL",
            server.name
        )));
    }
    let config: Value = serde_json::from_str(&server.config).map_err(|_| {
        Error::Upstream(format!("server '{}' has an unreadable config", server.name))
    })?;
    RemoteConfig::parse(&config, allow_private).map_err(|e| {
        Error::Upstream(format!(
            "server '{}' config: {}",
            server.name,
            e.public_message()
        ))
    })
}

#[cfg(test)]
mod stdio_tests {
    use base64::Engine;
    use serde_json::json;

    use super::*;
    use crate::actions::testing::{NoNetwork, SqliteDb, TWO_TEAMS};
    use crate::actions::Settings;
    use crate::cache::MemoryCache;
    use crate::credentials::{Binding, KeyRing, Material};
    use crate::repo::credentials::NewSealed;
    use crate::server_config::{AllowedCommands, BridgeToken, BRIDGE_COMMAND_HEADER};

    const SECRET: &str = "env-secret-7c1d";

    fn ring() -> KeyRing {
        let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        KeyRing::from_settings(Some(&format!("k1:{key}")), None).unwrap()
    }

    fn settings(bridge_url: Option<&str>, token: Option<&str>) -> Settings {
        Settings {
            credential_keys: Ok(ring()),
            stdio_bridge_url: bridge_url.map(String::from),
            bridge_token: BridgeToken::new(token.map(String::from)),
            stdio_allowed_commands: AllowedCommands::parse("npx"),
            ..Settings::default()
        }
    }

    async fn world(material: Option<Material>) -> SqliteDb {
        let db = SqliteDb::migrated();
        db.exec(TWO_TEAMS);
        db.exec(
            r#"INSERT INTO mcp_servers (id, team_id, name, server_type, config) VALUES
               ('srv-s', 'team-a', 'stdio', 'stdio',
                '{"command":"npx","args":["-y","pkg"],"env_names":["API_KEY"]}');"#,
        );
        if let Some(m) = material {
            let binding = Binding {
                team_id: "team-a",
                server_id: "srv-s",
                credential_type: m.credential_type(),
                header_name: None,
                expires_at: None,
                destination: r#"stdio:["npx","-y","pkg"]"#,
            };
            let sealed = crate::credentials::seal(&ring(), &binding, &m);
            credentials::upsert(
                &db,
                NewSealed {
                    id: "cred-s",
                    team_id: "team-a",
                    server_id: "srv-s",
                    credential_type: binding.credential_type,
                    encrypted_value: &sealed.value,
                    key_id: &sealed.key_id,
                    header_name: None,
                    expires_at: None,
                    now: "2026-01-01T00:00:00.000Z",
                },
            )
            .await
            .unwrap();
        }
        db
    }

    fn env_credential() -> Material {
        Material::CustomHeaders {
            headers: [("API_KEY".to_string(), SECRET.to_string())].into(),
        }
    }

    async fn authorize(db: &SqliteDb, settings: &Settings) -> Result<Authorized> {
        let (cache, net) = (MemoryCache::new(), NoNetwork::default());
        let log = |_: &str| {};
        let services = Services {
            db,
            cache: &cache,
            http: &net,
            settings,
            log: &log,
        };
        let server = servers::get(db, "team-a", "srv-s").await?;
        authorized_endpoint(&services, &server).await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn stdio_servers_go_to_the_bridge_with_their_env_in_the_launch_spec() {
        let db = world(Some(env_credential())).await;
        let local = settings(Some("http://127.0.0.1:8790"), Some("bridge-token-1"));
        let a = authorize(&db, &local).await.unwrap();
        assert_eq!(a.endpoint.url, "http://127.0.0.1:8790/t/team-a/s/srv-s/mcp");
        assert_eq!(a.credential.as_ref().unwrap().id, "cred-s");
        let header = |n: &str| {
            a.endpoint
                .headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(header("Authorization"), "Bearer bridge-token-1");
        let spec = header(BRIDGE_COMMAND_HEADER);
        let decoded: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&spec)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            decoded,
            json!({"command": "npx", "args": ["-y", "pkg"], "env": {"API_KEY": SECRET}})
        );
        // Whatever echoes the env value, the launch spec or the bridge's bearer is scrubbed.
        let echoed = format!("saw {SECRET} in {spec} with bridge-token-1");
        assert_eq!(
            a.redactor.text(&echoed),
            "saw [redacted] in [redacted] with [redacted]"
        );

        // Production: no STDIO_BRIDGE_URL, the Durable Object's origin.
        let prod = settings(None, Some("bridge-token-1"));
        let a = authorize(&db, &prod).await.unwrap();
        assert_eq!(
            a.endpoint.url,
            format!("{STDIO_BRIDGE_DO_ORIGIN}/t/team-a/s/srv-s/mcp")
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stdio_credential_never_goes_to_another_command_line() {
        let local = settings(Some("http://127.0.0.1:8790"), Some("bridge-token-1"));
        for config in [
            r#"{"command":"npx","args":["-y","evil"],"env_names":["API_KEY"]}"#,
            r#"{"command":"/bin/sh","args":["-y","pkg"],"env_names":["API_KEY"]}"#,
        ] {
            let db = world(Some(env_credential())).await;
            db.exec(&format!(
                "UPDATE mcp_servers SET config = '{config}' WHERE id = 'srv-s'"
            ));
            let err = authorize(&db, &local).await.err().expect(config);
            assert!(
                matches!(err, Error::Conflict(ref m) if m.contains("cannot be opened")),
                "{config}: {err}"
            );
            assert!(!err.to_string().contains(SECRET));
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn stdio_servers_fail_closed_without_their_env_or_the_bridge_token() {
        let local = settings(Some("http://127.0.0.1:8790"), Some("bridge-token-1"));
        let missing = authorize(&world(None).await, &local)
            .await
            .err()
            .expect("declared env without a credential");
        assert!(matches!(missing, Error::Conflict(ref m) if m.contains("API_KEY")));

        let wrong = world(Some(Material::Bearer {
            token: SECRET.into(),
        }))
        .await;
        let err = authorize(&wrong, &local).await.err().expect("bearer");
        assert!(matches!(err, Error::Conflict(ref m) if m.contains("custom_headers")));
        assert!(!err.to_string().contains(SECRET));

        let no_token = settings(Some("http://127.0.0.1:8790"), None);
        let err = authorize(&world(Some(env_credential())).await, &no_token)
            .await
            .err()
            .expect("no token");
        assert!(matches!(err, Error::Upstream(ref m) if m.contains("BRIDGE_TOKEN")));
    }
}
