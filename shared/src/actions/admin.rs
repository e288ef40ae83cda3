//! Admin actions: manage the team's servers, their credentials, per-tool policy and the
//! approval of changed tool definitions.
//!
//! Invariants:
//! - Every action checks the admin role first, then scopes every read and write to the team.
//! - Every change drops the cached lists it affects, so the next `list_*` is correct; a change
//!   to a server's config or credential also drops its upstream session.
//! - A credential goes in sealed (see `crate::credentials`) and never comes out: answers say
//!   that one is set, its type, attributes and when it was last used, never the value.
//! - A credential is sealed for its server's destination (URL origin; stdio: command line).
//!   `update_server` with a config that changes the destination deletes the credential and
//!   answers `credential_removed: true`; any other change keeps it (`false`).

use serde_json::{json, Map, Value};

use super::sync_tools::sync_server;
use super::{drop_team_caches, Ctx, FreeformStdio, Reply, Settings, Upstream};
use crate::api::{field_error, ActionRequest, AdminAction, MAX_ID_LEN, MAX_NAME_LEN};
use crate::cache::{keys, Cache};
use crate::connectors::{catalogue_view, Catalogue, ConnectorConfig, FREEFORM_SETTING};
use crate::credentials::{self as secrets, Binding};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::repo::credentials::{self, NewSealed};
use crate::repo::servers::Server;
use crate::repo::{new_id, servers, tools};
use crate::server_config::{auth_hint_of, check_env_name, RemoteConfig, ServerType, StdioConfig};
use crate::time::iso_from_ms;

const MAX_SERVER_NAME: usize = 128;
const MAX_DESCRIPTION: usize = 2000;
const MAX_CONNECTOR_NAME: usize = 64;
pub const MAX_TOOL_TIMEOUT_SECS: u64 = 300;

pub async fn admin<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    action: AdminAction,
    req: &ActionRequest,
) -> Result<Reply> {
    ctx.identity.require_admin(action_name(action))?;
    if ctx.services.settings.freeform_stdio == FreeformStdio::Refused {
        return Err(freeform_refused());
    }
    match action {
        AdminAction::CreateServer => create_server(ctx, req).await,
        AdminAction::UpdateServer => update_server(ctx, req).await,
        AdminAction::DeleteServer => delete_server(ctx, req).await,
        AdminAction::UpdateTool => update_tool(ctx, req).await,
        AdminAction::GetServer => get_server(ctx, req).await,
        AdminAction::SetCredential => set_credential(ctx, req).await,
        AdminAction::DeleteCredential => delete_credential(ctx, req).await,
        AdminAction::ReencryptCredentials => reencrypt_credentials(ctx).await,
        AdminAction::ApproveTool => approve_tool(ctx, req).await,
        AdminAction::SetWebhook => set_webhook(ctx, req).await,
        AdminAction::DeleteWebhook => {
            let removed = crate::repo::webhooks::delete(ctx.services.db, ctx.team()).await?;
            Ok(Reply::ok(json!({ "success": true, "removed": removed })))
        }
        // The admin worker moves the team to a new configuration version after every admin
        // action; this one does nothing else.
        AdminAction::RefreshConfig => Ok(Reply::ok(json!({
            "success": true,
            "message": "call_tool reads this team's servers, tools and credentials from D1 again on its next call",
        }))),
    }
}

fn action_name(action: AdminAction) -> &'static str {
    crate::api::Action::Admin(action).name()
}

/// The config to store from a request's `config` (or, for stdio, `connector` +
/// `parameters`), checked; `None` when the request changes neither. `existing`: the stored
/// config of the server being updated (its connector parameters are the base of a change).
fn validated_config(
    req: &ActionRequest,
    server_type: ServerType,
    settings: &Settings,
    existing: Option<&str>,
) -> Result<Option<String>> {
    let connector = req.optional_str("connector", MAX_CONNECTOR_NAME)?;
    let parameters = req.optional_object("parameters")?;
    let config = req.optional_object("config")?;
    if server_type != ServerType::Stdio {
        if connector.is_some() || parameters.is_some() {
            return Err(field_error(
                "connector",
                "names a stdio connector; it cannot be used with server_type http or sse",
            ));
        }
        let Some(config) = config else {
            return Ok(None);
        };
        let config = Value::Object(config.clone());
        RemoteConfig::parse(&config, settings.allow_private_upstreams)?;
        return Ok(Some(config.to_string()));
    }
    if let Some(config) = config {
        if connector.is_some() || parameters.is_some() {
            return Err(field_error(
                "config",
                "cannot be combined with connector/parameters: a stdio server is either a \
                 connector or (for deployment operators) a free-form command",
            ));
        }
        freeform_allowed(settings)?;
        // Stored normalised (defaults filled in), so what runs is exactly what was checked.
        let stdio = StdioConfig::parse(
            &Value::Object(config.clone()),
            &settings.stdio_allowed_commands,
        )?;
        return Ok(Some(
            serde_json::to_string(&stdio).map_err(|e| Error::internal(e.to_string()))?,
        ));
    }
    let stored = existing
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|c| ConnectorConfig::from_stored(&c))
        .and_then(|c| c.ok());
    let (name, mut values) = match (connector, &stored) {
        (Some(name), _) => (name.to_string(), Map::new()),
        (None, Some(stored)) if parameters.is_some() => (
            stored.connector.clone(),
            stored
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
        (None, None) if parameters.is_some() => {
            return Err(field_error(
                "parameters",
                "are a connector's: name the connector too (list_connectors)",
            ))
        }
        _ => return Ok(None),
    };
    // An update merges: a given value replaces, null removes (an optional parameter).
    for (k, v) in parameters.into_iter().flatten() {
        values.insert(k.clone(), v.clone());
    }
    let catalogue = Catalogue::shipped();
    let built = ConnectorConfig::build(catalogue, &name, Some(&values))?;
    let rendered = built.render(catalogue, settings.connector_launch)?;
    settings
        .stdio_allowed_commands
        .check(&rendered.command)
        .map_err(|e| {
            Error::validation_with(
                format!(
                    "connector '{name}' runs '{}', which this deployment's \
                     STDIO_ALLOWED_COMMANDS does not allow: {}",
                    rendered.command,
                    e.public_message()
                ),
                json!({ "field": "connector" }),
            )
        })?;
    Ok(Some(built.to_json_text()))
}

/// Free-form stdio commands are for deployment operators only (see `FreeformStdio`).
fn freeform_allowed(settings: &Settings) -> Result<()> {
    match settings.freeform_stdio {
        FreeformStdio::On => Ok(()),
        FreeformStdio::Refused => Err(freeform_refused()),
        FreeformStdio::Off => Err(Error::validation_with(
            format!(
                "free-form stdio commands (config.command) are for deployment operators only \
                 ({FREEFORM_SETTING} is off): pick a connector instead, {{\"connector\": …, \
                 \"parameters\": {{…}}}}; list_connectors shows them"
            ),
            json!({ "field": "connector", "connectors": Catalogue::shipped().names() }),
        )),
    }
}

fn freeform_refused() -> Error {
    Error::internal(format!(
        "{FREEFORM_SETTING}=true is refused because this deployment looks like production \
         (STDIO_BRIDGE_URL is unset or not on loopback): free-form stdio commands are for \
         local bridges only; remove the setting"
    ))
}

/// `list_connectors`: the deployment's connector catalogue (members: what each is; admins:
/// also its parameters, environment and package).
pub fn list_connectors<D, C, H>(ctx: &Ctx<'_, D, C, H>) -> Reply {
    let admin = ctx.identity.require_admin("list_connectors").is_ok();
    Reply::ok(catalogue_view(Catalogue::shipped(), admin))
}

/// A stdio server's credential is its secret environment: a `custom_headers` credential whose
/// entries are environment variables (names checked as such; values never echoed).
fn check_stdio_credential(server: &Server, material: &secrets::Material) -> Result<()> {
    let secrets::Material::CustomHeaders { headers } = material else {
        return Err(field_error(
            "credential_type",
            &format!(
                "must be custom_headers for stdio server '{}': each entry of credential.headers \
                 is an environment variable of the server",
                server.name
            ),
        ));
    };
    for name in headers.keys() {
        check_env_name(name, "credential.headers")?;
    }
    // A connector's server gets the variables its connector declares, no others.
    let connector = serde_json::from_str::<Value>(&server.config)
        .ok()
        .and_then(|c| ConnectorConfig::from_stored(&c))
        .and_then(|c| c.ok())
        .and_then(|c| Catalogue::shipped().get(&c.connector).cloned());
    if let Some(connector) = connector {
        let declared = connector.env_names();
        if let Some(extra) = headers.keys().find(|n| !declared.contains(*n)) {
            return Err(Error::validation_with(
                format!(
                    "connector '{}' does not take environment variable '{extra}'",
                    connector.name
                ),
                json!({ "field": "credential.headers", "allowed": declared }),
            ));
        }
    }
    Ok(())
}

async fn create_server<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let name = req.required_str("name", MAX_SERVER_NAME)?;
    let description = req.optional_str("description", MAX_DESCRIPTION)?;
    // A connector implies its transport (stdio, the only one today).
    let server_type = match req.optional_str("server_type", 16)? {
        None if req.optional_str("connector", MAX_CONNECTOR_NAME)?.is_some() => ServerType::Stdio,
        None => {
            return Err(field_error(
                "server_type",
                "is required for create_server (or connector)",
            ))
        }
        Some(t) => ServerType::parse(t).ok_or_else(|| {
            field_error(
                "server_type",
                &format!("must be one of {}", ServerType::names().join(", ")),
            )
        })?,
    };
    let config = validated_config(req, server_type, s.settings, None)?.ok_or_else(|| match server_type {
        ServerType::Stdio => field_error(
            "connector",
            "is required for a stdio server: {\"connector\": …, \"parameters\": {…}} (list_connectors)",
        ),
        _ => field_error("config", "is required for http/sse: {\"url\": …}"),
    })?;
    let sync_now = req.optional_bool("sync")?.unwrap_or(false);
    let id = new_id();
    let now = iso_from_ms(s.http.now_ms());
    servers::insert(
        s.db,
        servers::NewServer {
            id: &id,
            team_id: ctx.team(),
            name,
            description,
            server_type,
            config: &config,
            created_by: &ctx.identity.user_id,
            now: &now,
            default_max_servers: s.settings.max_servers_per_team,
        },
    )
    .await?;
    drop_team_caches(s.cache, ctx.team(), Some(&id)).await;
    let sync = if sync_now {
        let server = servers::get(s.db, ctx.team(), &id).await?;
        Some(match sync_server(s, &server).await {
            Ok(o) => {
                json!({"success": true, "tools_synced": o.tools_synced, "tools_removed": o.tools_removed,
                       "tools_pending_approval": o.tools_pending_approval})
            }
            Err(e) => json!({"success": false, "code": e.code(), "error": e.public_message()}),
        })
    } else {
        None
    };
    let server = servers::get(s.db, ctx.team(), &id).await?;
    Ok(Reply {
        status: 201,
        body: json!({ "success": true, "server": admin_view(s.db, &server).await?, "sync": sync }),
    })
}

async fn update_server<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let existing = named_server(ctx, req).await?;
    let server_id = existing.id.as_str();
    let config = validated_config(
        req,
        existing.server_type,
        s.settings,
        Some(&existing.config),
    )?;
    // A new origin (stdio: a new command line) is somewhere the credential was not set for.
    let moved = config.as_deref().is_some_and(|new| {
        let before = secrets::destination_of(existing.server_type, &existing.config);
        before.is_none() || before != secrets::destination_of(existing.server_type, new)
    });
    let update = servers::ServerUpdate {
        name: req.optional_str("name", MAX_SERVER_NAME)?,
        description: req.optional_str("description", MAX_DESCRIPTION)?,
        config: config.as_deref(),
        is_active: req.optional_bool("is_active")?,
    };
    let now = iso_from_ms(s.http.now_ms());
    servers::update(s.db, ctx.team(), server_id, update, &now).await?;
    // After the update (which may be refused): the sealed value no longer opens for the new
    // destination anyway (its AAD holds the old one); deleting it makes that visible.
    let credential_removed = moved && credentials::delete(s.db, ctx.team(), server_id).await?;
    if credential_removed {
        ctx.log(&format!(
            "credential of server {server_id} removed by {}: the server now points elsewhere",
            ctx.identity.user_id
        ));
    }
    drop_server_caches(s.cache, ctx.team(), server_id).await;
    let server = servers::get(s.db, ctx.team(), server_id).await?;
    Ok(Reply::ok(json!({
        "success": true,
        "server": admin_view(s.db, &server).await?,
        "credential_removed": credential_removed,
    })))
}

async fn delete_server<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let server_id = req.required_str("server_id", MAX_ID_LEN)?;
    servers::delete(s.db, ctx.team(), server_id).await?;
    drop_server_caches(s.cache, ctx.team(), server_id).await;
    Ok(Reply::ok(
        json!({ "success": true, "server_id": server_id }),
    ))
}

async fn update_tool<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let tool_id = tool_of(ctx, req, "update_tool").await?.id;
    let tool_id = tool_id.as_str();
    let policy = tools::ToolPolicy {
        is_enabled: req.optional_bool("is_enabled")?,
        requires_confirmation: req.optional_bool("requires_confirmation")?,
        timeout_seconds: req.optional_u64("timeout_seconds", 1, MAX_TOOL_TIMEOUT_SECS)?,
        cacheable: req.optional_bool("cacheable")?,
        long_running: req.optional_bool("long_running")?,
        async_timeout_seconds: req.optional_u64(
            "async_timeout_seconds",
            1,
            crate::background::MAX_ASYNC_TIMEOUT_SECS,
        )?,
    };
    let now = iso_from_ms(s.http.now_ms());
    tools::update_policy(s.db, ctx.team(), tool_id, policy, &now).await?;
    tool_changed(ctx, tool_id).await
}

/// After a change to a tool: drops the lists it is in and answers the tool as it is now.
async fn tool_changed<D: Database, C: Cache, H>(
    ctx: &Ctx<'_, D, C, H>,
    tool_id: &str,
) -> Result<Reply> {
    let s = &ctx.services;
    let tool = tools::get_by_id(s.db, ctx.team(), tool_id).await?;
    drop_team_caches(s.cache, ctx.team(), Some(&tool.server_id)).await;
    Ok(Reply::ok(
        json!({ "success": true, "tool": tool.admin_json() }),
    ))
}

/// The tool a request names by `tool_id`, or by `server_id` and `tool_name`.
async fn tool_of<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
    action: &str,
) -> Result<tools::Tool> {
    let db = ctx.services.db;
    match (
        req.optional_str("tool_id", MAX_ID_LEN)?,
        req.optional_str("server_id", MAX_ID_LEN)?,
        req.optional_str("tool_name", MAX_NAME_LEN)?,
    ) {
        (Some(id), _, _) => tools::get_by_id(db, ctx.team(), id).await,
        (None, Some(server_id), Some(name)) => {
            tools::get_by_name(db, ctx.team(), server_id, name).await
        }
        _ => Err(field_error(
            "tool_id",
            &format!("is required for {action} (or server_id and tool_name)"),
        )),
    }
}

/// `approve_tool`: makes a tool's pending definition (found changed by a sync) the approved
/// one. With `definition_hash`, only if that is still the pending definition's hash, so an
/// admin approves exactly what they reviewed.
async fn approve_tool<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let tool = tool_of(ctx, req, "approve_tool").await?;
    let expected = req.optional_str("definition_hash", 64)?;
    let Some(pending) = tool.pending_definition_hash.clone() else {
        return Err(Error::Conflict(format!(
            "tool '{}' has no changed definition awaiting approval (its approved definition is {})",
            tool.tool_name,
            tool.definition_hash.as_deref().unwrap_or("not pinned yet")
        )));
    };
    if expected.is_some_and(|h| !h.eq_ignore_ascii_case(&pending)) {
        return Err(stale_definition(&tool.tool_name, &pending));
    }
    let now = iso_from_ms(s.http.now_ms());
    if !tools::approve(s.db, ctx.team(), &tool, &pending, &now).await? {
        let current = tools::get_by_id(s.db, ctx.team(), &tool.id).await?;
        return Err(stale_definition(
            &tool.tool_name,
            current
                .pending_definition_hash
                .as_deref()
                .unwrap_or("none pending"),
        ));
    }
    ctx.log(&format!(
        "definition {pending} of tool {} approved by {}",
        tool.id, ctx.identity.user_id
    ));
    tool_changed(ctx, &tool.id).await
}

fn stale_definition(tool_name: &str, now_pending: &str) -> Error {
    Error::Conflict(format!(
        "the pending definition of tool '{tool_name}' changed since it was reviewed (now \
         {now_pending}); review it again (update_tool shows it) and approve that hash"
    ))
}

/// A server as its admins see it: the public fields, its config (never secret) and whether a
/// credential is set.
async fn admin_view<D: Database>(db: &D, server: &Server) -> Result<Value> {
    let mut view = server.public_json();
    let credential = credentials::for_server(db, &server.team_id, &server.id).await?;
    if let Some(m) = view.as_object_mut() {
        m.insert(
            "config".into(),
            serde_json::from_str(&server.config).unwrap_or(Value::Null),
        );
        m.insert(
            "credential".into(),
            credential.map_or(json!({ "is_set": false }), |c| c.public_json()),
        );
        m.insert(
            "consecutive_failures".into(),
            server.consecutive_failures.into(),
        );
        m.insert("created_at".into(), server.created_at.clone().into());
        m.insert("updated_at".into(), server.updated_at.clone().into());
    }
    Ok(view)
}

/// The team's server a request names by `server_id`.
async fn named_server<D: Database, C, H>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Server> {
    let server_id = req.required_str("server_id", MAX_ID_LEN)?;
    servers::get(ctx.services.db, ctx.team(), server_id).await
}

/// The credential keyring, which `action` needs; its absence is our misconfiguration.
/// `set_webhook`: the team's completion webhook (`crate::background::webhook`), with a new
/// secret, shown in this answer only.
async fn set_webhook<D: Database, C, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    use crate::background::webhook;
    let s = &ctx.services;
    let url = webhook::check_url(
        req.required_str("url", 2048)?,
        s.settings.allow_private_upstreams,
    )?;
    let ring = keyring(s.settings, "set_webhook")?;
    let secret = webhook::new_secret();
    let sealed = ring.seal(&webhook::aad(ctx.team()), secret.as_bytes());
    let now = iso_from_ms(s.http.now_ms());
    crate::repo::webhooks::set(s.db, ctx.team(), &url, &sealed, &ctx.identity.user_id, &now)
        .await?;
    Ok(Reply::ok(json!({
        "success": true,
        "webhook": { "url": url, "created_at": now },
        "secret": secret,
        "message": "the secret is shown only now: keep it to check each delivery's X-Mcp-Edge-Webhook-Signature; set_webhook again makes a new one",
    })))
}

fn keyring<'s>(settings: &'s Settings, action: &str) -> Result<&'s secrets::KeyRing> {
    settings
        .credential_keys
        .as_ref()
        .map_err(|e| Error::internal(format!("{action} on the admin worker: {e}")))
}

/// Drops the lists a server change affects and the server's upstream session.
async fn drop_server_caches<C: Cache>(cache: &C, team_id: &str, server_id: &str) {
    drop_team_caches(cache, team_id, Some(server_id)).await;
    let _ = cache.delete(&keys::mcp_session(server_id)).await;
}

/// `get_server`: one server by `server_id` or `name`, active or not, with its credential status.
async fn get_server<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let db = ctx.services.db;
    let server = match (
        req.optional_str("server_id", MAX_ID_LEN)?,
        req.optional_str("name", MAX_SERVER_NAME)?,
    ) {
        (Some(id), _) => servers::get(db, ctx.team(), id).await?,
        (None, Some(name)) => servers::get_by_name(db, ctx.team(), name).await?,
        (None, None) => {
            return Err(field_error(
                "server_id",
                "is required for get_server (or name)",
            ))
        }
    };
    Ok(Reply::ok(
        json!({ "server": admin_view(db, &server).await? }),
    ))
}

/// A credential checked against the server's `config.auth` block (`server_config::auth`): of
/// the type it names, and an `api_key` in its header unless the request names another.
fn as_configured(
    server: &Server,
    credential_type: &str,
    fields: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    let mut fields = fields.clone();
    let Some(hint) = (server.server_type != ServerType::Stdio)
        .then(|| auth_hint_of(&server.config))
        .flatten()
    else {
        return Ok(fields);
    };
    if let Some(expected) = hint.kind.credential_type() {
        if expected != credential_type {
            return Err(Error::validation_with(
                format!(
                    "server '{}' takes a {expected} credential (its config.auth.type);                      set one of that type, or change config.auth with update_server",
                    server.name
                ),
                json!({ "field": "credential_type", "expected": expected }),
            ));
        }
    }
    if let (Some(header), false) = (&hint.header, fields.contains_key("header_name")) {
        fields.insert("header_name".into(), Value::String(header.clone()));
    }
    Ok(fields)
}

/// `set_credential`: seals the credential under the write key and stores it for the server.
async fn set_credential<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let server = named_server(ctx, req).await?;
    let credential_type = req.required_str("credential_type", 32)?;
    let fields = req.optional_object("credential")?.ok_or_else(|| {
        field_error(
            "credential",
            "is required: an object with the secret fields of the credential type",
        )
    })?;
    let now_ms = s.http.now_ms();
    let fields = as_configured(&server, credential_type, fields)?;
    let new = secrets::parse_new(credential_type, &fields, now_ms)?;
    if server.server_type == ServerType::Stdio {
        check_stdio_credential(&server, &new.material)?;
    }
    let ring = keyring(s.settings, "set_credential")?;
    let expires_at = new.expires_at_ms.map(iso_from_ms);
    let destination =
        secrets::destination_of(server.server_type, &server.config).ok_or_else(|| {
            Error::Conflict(format!(
                "server '{}' has a config without a usable address; fix it with update_server \
                 before setting its credential",
                server.name
            ))
        })?;
    let binding = Binding {
        team_id: ctx.team(),
        server_id: &server.id,
        credential_type: new.material.credential_type(),
        header_name: new.header_name.as_deref(),
        expires_at: expires_at.as_deref(),
        destination: &destination,
    };
    let sealed = secrets::seal(ring, &binding, &new.material);
    credentials::upsert(
        s.db,
        NewSealed {
            id: &new_id(),
            team_id: ctx.team(),
            server_id: &server.id,
            credential_type: binding.credential_type,
            encrypted_value: &sealed.value,
            key_id: &sealed.key_id,
            header_name: binding.header_name,
            expires_at: binding.expires_at,
            now: &iso_from_ms(now_ms),
        },
    )
    .await?;
    drop_server_caches(s.cache, ctx.team(), &server.id).await;
    ctx.log(&format!(
        "credential ({}) set for server {} by {}",
        binding.credential_type, server.id, ctx.identity.user_id
    ));
    let stored = credentials::for_server(s.db, ctx.team(), &server.id)
        .await?
        .ok_or_else(|| Error::internal("credential vanished right after it was set"))?;
    Ok(Reply::ok(json!({
        "success": true,
        "server_id": server.id,
        "credential": stored.public_json(),
    })))
}

/// `delete_credential`: the server is called without credential from now on.
async fn delete_credential<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
    req: &ActionRequest,
) -> Result<Reply> {
    let s = &ctx.services;
    let server = named_server(ctx, req).await?;
    let deleted = credentials::delete(s.db, ctx.team(), &server.id).await?;
    drop_server_caches(s.cache, ctx.team(), &server.id).await;
    Ok(Reply::ok(json!({
        "success": true,
        "server_id": server.id,
        "deleted": deleted,
    })))
}

/// `reencrypt_credentials`: re-seals every credential of the team that is not under the
/// current write key (key rotation). Credentials that do not open (under any key) are
/// reported, not changed.
async fn reencrypt_credentials<D: Database, C: Cache, H: Upstream>(
    ctx: &Ctx<'_, D, C, H>,
) -> Result<Reply> {
    let s = &ctx.services;
    let ring = keyring(s.settings, "reencrypt_credentials")?;
    let (mut reencrypted, mut current, mut failed) = (0u64, 0u64, Vec::new());
    // Every value is opened, current ones too, so that the answer lists every credential
    // that no longer opens (moved in D1, sealed in the first format, altered).
    for stored in credentials::list_for_team(s.db, ctx.team()).await? {
        let server = servers::get(s.db, ctx.team(), &stored.server_id).await.ok();
        let destination = server
            .as_ref()
            .and_then(|srv| secrets::destination_of(srv.server_type, &srv.config))
            .unwrap_or_default();
        let binding = stored.binding(&destination);
        match secrets::open(Ok(ring), &binding, &stored.key_id, &stored.encrypted_value) {
            Ok(_) if stored.key_id == ring.write_key_id() => current += 1,
            Ok(material) => {
                let sealed = secrets::seal(ring, &binding, &material);
                if credentials::replace_sealed(s.db, &stored, &sealed.value, &sealed.key_id).await?
                {
                    reencrypted += 1;
                }
            }
            Err(why) => {
                ctx.log(&format!(
                    "re-encrypting credential {} of server {} failed: {why}",
                    stored.id, stored.server_id
                ));
                let name = server.map_or_else(|| stored.server_id.clone(), |srv| srv.name);
                failed.push(json!({
                    "server_id": stored.server_id,
                    "error": secrets::unusable_error(&name, &why).public_message(),
                }));
            }
        }
    }
    let mut body = json!({
        "success": failed.is_empty(),
        "key_id": ring.write_key_id(),
        "reencrypted": reencrypted,
        "already_current": current,
    });
    if !failed.is_empty() {
        body["error"] = format!(
            "{} credentials could not be re-encrypted; each one's error is in failed[]",
            failed.len()
        )
        .into();
    }
    body["failed"] = failed.into();
    Ok(Reply::ok(body))
}
