//! Connectors: stdio servers a team admin picks from the deployment's catalogue
//! (`config/connectors/*.json`, [`catalogue`]) and fills in with parameters, instead of typing
//! a command. The stored config of such a server is [`ConnectorConfig`]
//! `{"connector", "version", "parameters"}`; every read re-renders it against the shipped
//! catalogue into the [`StdioConfig`] the bridge runs.
//!
//! Invariants:
//! - Admins never choose a command, an argument or an environment name: the command is the
//!   catalogue's (package pinned, see [`ConnectorLaunch`]), arguments come from its template
//!   with checked values ([`template`]), the environment names are its declared ones, and a
//!   connector server's credential may only hold those names.
//! - Parameters are exactly the declared ones: unknown names are refused, missing required
//!   ones are refused, optional ones take their default.
//! - A connector server's credential destination is `connector:<name>:<canonical
//!   parameters>`: changing a parameter removes the credential, a catalogue upgrade (another
//!   version) does not.
//! - What runs is always the shipped catalogue's entry; `version` records the catalogue version
//!   the server was last written with (create/update).
//!
//! No migration: the connector, version and parameters live in `mcp_servers.config` (JSON
//! text, `server_type` `stdio`), which free-form configs can never be mistaken for (they have
//! no `connector` key and refuse unknown fields).

pub mod catalogue;
pub mod pattern;
pub mod template;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::server_config::StdioConfig;
pub use catalogue::{Availability, Catalogue, Connector, ParamType, Registry};
use template::{check_value, render_args};

/// The setting that lets free-form stdio commands through `create_server`/`update_server`.
pub const FREEFORM_SETTING: &str = "ALLOW_FREEFORM_STDIO_COMMANDS";
/// How connector packages are started (`CONNECTOR_LAUNCH`).
pub const LAUNCH_SETTING: &str = "CONNECTOR_LAUNCH";

crate::text_enum::text_enum! {
    /// How the bridge starts a connector's pinned package (`CONNECTOR_LAUNCH`).
    pub enum ConnectorLaunch {
        /// From its registry at the pinned version on first start: npm packages with
        /// `npx -y <name>@<version>`, PyPI packages with `uvx --from <name>==<version> <bin>`
        /// (the production image has `npx` and `uvx`). The default.
        Registry = "registry",
        /// Already installed at the pinned version, its `bin` on the bridge's `PATH`
        /// (`scripts/install.sh` installs the `runs_here` entries; local development and tests).
        Installed = "installed",
    }
}

impl ConnectorLaunch {
    /// `CONNECTOR_LAUNCH`; unset or unknown: [`ConnectorLaunch::Registry`].
    pub fn from_setting(value: Option<&str>) -> ConnectorLaunch {
        value
            .and_then(|v| ConnectorLaunch::parse(v.trim()))
            .unwrap_or(ConnectorLaunch::Registry)
    }
}

/// The stored config of a connector server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    pub connector: String,
    pub version: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

fn unknown_connector(name: &str, catalogue: &Catalogue) -> Error {
    Error::validation_with(
        format!("unknown connector '{name}': list_connectors shows this deployment's catalogue"),
        json!({ "field": "connector", "allowed": catalogue.names() }),
    )
}

impl ConnectorConfig {
    /// Checks an admin's `connector` + `parameters` against `catalogue`: the parameters are
    /// exactly the declared ones, each value of its type; defaults are filled in.
    pub fn build(
        catalogue: &Catalogue,
        connector: &str,
        parameters: Option<&Map<String, Value>>,
    ) -> Result<ConnectorConfig> {
        let entry = catalogue
            .get(connector)
            .ok_or_else(|| unknown_connector(connector, catalogue))?;
        let empty = Map::new();
        let given = parameters.unwrap_or(&empty);
        if let Some(extra) = given.keys().find(|k| !entry.parameters.contains_key(*k)) {
            return Err(Error::validation_with(
                format!("connector '{connector}' has no parameter '{extra}'",),
                json!({ "field": format!("parameters.{extra}"),
                        "allowed": entry.parameters.keys().collect::<Vec<_>>() }),
            ));
        }
        let mut values = BTreeMap::new();
        for (name, param) in &entry.parameters {
            let value = match given.get(name) {
                None | Some(Value::Null) => match (&param.default, param.required) {
                    (Some(d), _) => d.clone(),
                    (None, true) => {
                        return Err(Error::validation_with(
                            format!(
                                "connector '{connector}' needs parameter '{name}': {}",
                                param.description
                            ),
                            json!({ "field": format!("parameters.{name}") }),
                        ))
                    }
                    (None, false) => continue,
                },
                Some(Value::String(s)) => s.clone(),
                Some(_) => {
                    return Err(Error::validation_with(
                        format!("parameter '{name}' must be a string"),
                        json!({ "field": format!("parameters.{name}") }),
                    ))
                }
            };
            check_value(name, param, &value)?;
            values.insert(name.clone(), value);
        }
        Ok(ConnectorConfig {
            connector: entry.name.clone(),
            version: entry.package.version.clone(),
            parameters: values,
        })
    }

    /// A stored config (a JSON object with `connector`), if it is one.
    pub fn from_stored(config: &Value) -> Option<Result<ConnectorConfig>> {
        config.get("connector")?;
        Some(
            serde_json::from_value(config.clone())
                .map_err(|e| Error::validation(format!("connector config is invalid: {e}"))),
        )
    }

    /// What the bridge runs for this server with the shipped `catalogue`, parameters checked
    /// again (the catalogue may have changed since the config was written).
    pub fn render(&self, catalogue: &Catalogue, launch: ConnectorLaunch) -> Result<StdioConfig> {
        let entry = catalogue.get(&self.connector).ok_or_else(|| {
            Error::Conflict(format!(
                "connector '{}' is no longer in this deployment's catalogue",
                self.connector
            ))
        })?;
        let given: Map<String, Value> = self
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let checked = ConnectorConfig::build(catalogue, &self.connector, Some(&given))?;
        let mut args = render_args(&entry.args, &checked.parameters);
        let p = &entry.package;
        let command = match (launch, p.registry) {
            (ConnectorLaunch::Installed, _) => p.bin.clone(),
            (ConnectorLaunch::Registry, Registry::Npm) => {
                args.splice(
                    0..0,
                    ["-y".to_string(), format!("{}@{}", p.name, p.version)],
                );
                "npx".to_string()
            }
            (ConnectorLaunch::Registry, Registry::Pypi) => {
                args.splice(
                    0..0,
                    [
                        "--from".to_string(),
                        format!("{}=={}", p.name, p.version),
                        p.bin.clone(),
                    ],
                );
                "uvx".to_string()
            }
        };
        Ok(StdioConfig {
            command,
            args,
            env_names: entry.required_env(),
            env_allowed: Some(entry.env_names()),
        })
    }

    /// The credential destination (see the module doc).
    pub fn destination(&self) -> String {
        format!(
            "connector:{}:{}",
            self.connector,
            serde_json::to_string(&self.parameters).unwrap_or_default()
        )
    }

    pub fn to_json_text(&self) -> String {
        serde_json::to_string(self).expect("a connector config serializes")
    }
}

/// The catalogue as `list_connectors` shows it: members see what each connector is; admins
/// also see how it is configured (parameters, environment, package).
pub fn catalogue_view(catalogue: &Catalogue, admin: bool) -> Value {
    let entries: Vec<Value> = catalogue
        .entries()
        .iter()
        .map(|c| {
            let mut v = json!({
                "name": c.name,
                "title": c.title,
                "description": c.description,
                "transport": c.transport,
                "availability": c.availability,
            });
            if admin {
                let m = v.as_object_mut().expect("an object");
                m.insert("package".into(), json!(c.package));
                m.insert("parameters".into(), json!(c.parameters));
                m.insert("env".into(), json!(c.env));
            }
            v
        })
        .collect();
    json!({ "connectors": entries })
}

#[cfg(test)]
mod tests;
