//! The connector catalogue the deployment ships: `config/connectors/*.json`, one file per
//! connector, compiled into every worker ([`FILES`], `include_str!`) and parsed once.
//!
//! Invariants (checked by [`Connector::check`], for every shipped entry by the tests, and
//! when the catalogue is first read):
//! - Names are `[a-z0-9-]{1,64}`, unique, and equal to their file name without `.json`.
//! - The package is pinned: an exact version (digits and dots, optionally a `-`/`+` suffix of
//!   `[A-Za-z0-9.]`), never a range or tag, and its `bin` is a bare executable name.
//! - Every `{parameter}` of the argument template is declared, and every declared parameter is
//!   used; a literal template argument never starts with `{` without being a placeholder.
//! - Parameter defaults satisfy their own parameter's type and pattern.
//! - Environment names are well formed (`stdio_spec`'s rules, `Reserved`/`Loader` names
//!   refused) and unique; their values only ever come from the server's credential.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::pattern::Pattern;
use super::template::{check_value, ArgTemplate};
use crate::stdio_spec::{env_name_problem, CommandForm};

/// The shipped catalogue files, by file name. A file in `config/connectors/` that is not here
/// is not in the workers (a test compares this list with the folder).
pub const FILES: &[(&str, &str)] = &[
    (
        "brave-search.json",
        include_str!("../../../config/connectors/brave-search.json"),
    ),
    (
        "everything.json",
        include_str!("../../../config/connectors/everything.json"),
    ),
    (
        "fetch.json",
        include_str!("../../../config/connectors/fetch.json"),
    ),
    (
        "filesystem.json",
        include_str!("../../../config/connectors/filesystem.json"),
    ),
    (
        "git.json",
        include_str!("../../../config/connectors/git.json"),
    ),
    (
        "github.json",
        include_str!("../../../config/connectors/github.json"),
    ),
    (
        "gitlab.json",
        include_str!("../../../config/connectors/gitlab.json"),
    ),
    (
        "memory.json",
        include_str!("../../../config/connectors/memory.json"),
    ),
    (
        "postgres.json",
        include_str!("../../../config/connectors/postgres.json"),
    ),
    (
        "slack.json",
        include_str!("../../../config/connectors/slack.json"),
    ),
    (
        "time.json",
        include_str!("../../../config/connectors/time.json"),
    ),
];

crate::text_enum::text_enum! {
    /// How a connector is reached. Only stdio connectors exist today.
    pub enum Transport {
        /// Run by the stdio bridge.
        Stdio = "stdio",
    }
}

crate::text_enum::text_enum! {
    /// Whether the entry is exercised end to end on this project's machines.
    pub enum Availability {
        /// Its pinned package is installed by `scripts/install.sh` and tested through the bridge.
        RunsHere = "runs_here",
        /// Listed for teams to use where the package can be installed or fetched; tested for
        /// shape only (it needs an account or service this project's tests cannot reach).
        ShapeOnly = "shape_only",
    }
}

crate::text_enum::text_enum! {
    /// Where the pinned package comes from.
    pub enum Registry {
        /// npm: run with `npx -y <name>@<version>`, or installed (`bin` on the bridge's PATH).
        Npm = "npm",
        /// PyPI: run with `uvx --from <name>==<version> <bin>`, or installed.
        Pypi = "pypi",
    }
}

crate::text_enum::text_enum! {
    /// The type of a parameter value (all values are JSON strings).
    pub enum ParamType {
        /// Any single-line text (see the pattern).
        String = "string",
        /// An absolute, normalised path: no `.`/`..`/empty segments.
        Path = "path",
        /// An absolute URL of one of the parameter's `schemes`, without a password.
        Url = "url",
        /// One of the parameter's `values`.
        Enum = "enum",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub registry: Registry,
    pub name: String,
    pub version: String,
    /// The executable the package installs.
    pub bin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    #[serde(rename = "type")]
    pub kind: ParamType,
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// `[class]{n,m}` (see `pattern`); for `string` parameters (and allowed on others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The allowed values of an `enum` parameter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// The allowed schemes of a `url` parameter (default `https`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    pub description: String,
    /// A secret (token, password): informational, every value comes from the credential.
    pub secret: bool,
    /// Calls fail (409, naming it) until the server's credential has it.
    pub required: bool,
}

/// One catalogue entry (one file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    pub name: String,
    pub title: String,
    pub description: String,
    pub transport: Transport,
    pub availability: Availability,
    pub package: Package,
    /// The arguments after the package's executable: literals, `{parameter}` placeholders
    /// (possibly inside a literal, `--x={p}`), and groups `[…]` kept only when every
    /// parameter they name has a value.
    #[serde(default)]
    pub args: Vec<ArgTemplate>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
}

fn is_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_param_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An exact version: `1.2.3`, `2026.8.31`, `1.0.0-rc.1`, `1.0+build.5`; never a range or tag.
pub fn is_pinned_version(v: &str) -> bool {
    let (core, suffix) = match v.find(['-', '+']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && suffix.is_none_or(|s| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        })
}

impl Connector {
    /// Parses one catalogue file and checks it (module invariants but the uniqueness).
    pub fn parse(file_name: &str, text: &str) -> Result<Connector, String> {
        let c: Connector =
            serde_json::from_str(text).map_err(|e| format!("{file_name}: not an entry: {e}"))?;
        c.check().map_err(|e| format!("{file_name}: {e}"))?;
        if file_name != format!("{}.json", c.name) {
            return Err(format!("{file_name}: holds connector '{}'", c.name));
        }
        Ok(c)
    }

    /// The module invariants for one entry.
    pub fn check(&self) -> Result<(), String> {
        if !is_name(&self.name) {
            return Err(format!("name '{}' is not [a-z0-9-]{{1,64}}", self.name));
        }
        for (what, text) in [("title", &self.title), ("description", &self.description)] {
            if text.trim().is_empty() || text.chars().any(char::is_control) {
                return Err(format!("{what} must be one non-empty line"));
            }
        }
        let p = &self.package;
        let name_ok = !p.name.is_empty()
            && !p.name[1..].contains('@')
            && p.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@/._-".contains(&b));
        if !name_ok {
            return Err(format!("package name '{}' is not a package name", p.name));
        }
        if !is_pinned_version(&p.version) {
            return Err(format!(
                "package version '{}' is not an exact version",
                p.version
            ));
        }
        if p.bin.is_empty()
            || CommandForm::of(&p.bin) != CommandForm::Bare
            || !p
                .bin
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(format!(
                "package bin '{}' is not a bare executable name",
                p.bin
            ));
        }
        let mut used = BTreeSet::new();
        for arg in &self.args {
            for name in arg.parameters()? {
                if !self.parameters.contains_key(&name) {
                    return Err(format!(
                        "argument template names undeclared parameter '{name}'"
                    ));
                }
                used.insert(name);
            }
        }
        for (name, param) in &self.parameters {
            if !is_param_name(name) {
                return Err(format!("parameter name '{name}' is not [a-z][a-z0-9_]*"));
            }
            if !used.contains(name) {
                return Err(format!(
                    "parameter '{name}' is not used by the argument template"
                ));
            }
            param.check(name)?;
        }
        let mut seen = BTreeSet::new();
        for var in &self.env {
            if env_name_problem(&var.name).is_some() {
                return Err(format!(
                    "env name '{}' cannot be set for a stdio server",
                    var.name
                ));
            }
            if !seen.insert(var.name.as_str()) {
                return Err(format!("env name '{}' listed twice", var.name));
            }
        }
        Ok(())
    }

    /// The names of the environment variables the server needs before it starts.
    pub fn required_env(&self) -> Vec<String> {
        self.env
            .iter()
            .filter(|v| v.required)
            .map(|v| v.name.clone())
            .collect()
    }

    /// The names every variable of its credential must be among.
    pub fn env_names(&self) -> Vec<String> {
        self.env.iter().map(|v| v.name.clone()).collect()
    }
}

impl Parameter {
    fn check(&self, name: &str) -> Result<(), String> {
        if self.description.trim().is_empty() {
            return Err(format!("parameter '{name}' has no description"));
        }
        if let Some(p) = &self.pattern {
            Pattern::parse(p).map_err(|e| format!("parameter '{name}': {e}"))?;
        }
        match self.kind {
            ParamType::Enum if self.values.is_empty() => {
                return Err(format!("enum parameter '{name}' lists no values"))
            }
            ParamType::Enum => {}
            _ if !self.values.is_empty() => {
                return Err(format!("parameter '{name}' has values but is not an enum"))
            }
            _ => {}
        }
        if self.kind != ParamType::Url && !self.schemes.is_empty() {
            return Err(format!("parameter '{name}' has schemes but is not a url"));
        }
        if let Some(default) = &self.default {
            if self.required {
                return Err(format!("required parameter '{name}' has a default"));
            }
            check_value(name, self, default)
                .map_err(|e| format!("default of parameter '{name}': {}", e.public_message()))?;
        }
        Ok(())
    }
}

/// The parsed, checked catalogue: names unique, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    entries: Vec<Connector>,
}

impl Catalogue {
    /// Parses and checks `files` (name, text) as one catalogue.
    pub fn from_files(files: &[(&str, &str)]) -> Result<Catalogue, String> {
        let mut entries = Vec::with_capacity(files.len());
        for (file, text) in files {
            entries.push(Connector::parse(file, text)?);
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = entries.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(format!("connector '{}' is listed twice", w[0].name));
        }
        Ok(Catalogue { entries })
    }

    /// The catalogue compiled into this build ([`FILES`]). The tests prove it parses; a
    /// build whose files do not is a build bug, so this panics with the reason.
    pub fn shipped() -> &'static Catalogue {
        static SHIPPED: OnceLock<Catalogue> = OnceLock::new();
        SHIPPED.get_or_init(|| {
            Catalogue::from_files(FILES).unwrap_or_else(|e| panic!("connector catalogue: {e}"))
        })
    }

    pub fn get(&self, name: &str) -> Option<&Connector> {
        self.entries.iter().find(|c| c.name == name)
    }

    pub fn entries(&self) -> &[Connector] {
        &self.entries
    }

    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|c| c.name.as_str()).collect()
    }
}
