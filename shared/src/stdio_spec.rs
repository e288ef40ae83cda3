//! The stdio bridge's contract, in the one place both sides read it: core writes launch specs
//! and bridge URLs (`server_config`), the bridge (`functions/stdio_bridge`, a native binary that
//! depends on this crate, never on `worker`) reads them.
//!
//! - The launch spec: base64url JSON `{command, args, env}` in the [`BRIDGE_COMMAND_HEADER`].
//! - Environment variable names: `[A-Za-z_][A-Za-z0-9_]*` of at most 128 bytes; never one that
//!   changes how a program, interpreter or package manager loads code ([`CODE_LOADING_ENV`]:
//!   `LD_*`, `DYLD_*`, `NODE_*`, `PYTHON*`, `NPM_CONFIG_*`, `UV_*`, `PIP_*`, `BASH_ENV`, …, any
//!   case), refused by core when an admin registers it and by the bridge in every spec. Core
//!   also refuses names the bridge owns or sets (`BRIDGE_*`, [`BRIDGE_SET_ENV`]) when an admin
//!   registers them ([`EnvNameProblem::Reserved`]); the bridge overrides those with its own
//!   values (a spec's `PATH` never reaches the child nor decides which executable runs).
//! - Commands: a bare name (looked up on the bridge's own search path) or an absolute path,
//!   never a relative path; it runs only if it equals an allow-list entry exactly
//!   ([`AllowedCommands::allows`]), so `/tmp/x/npx` does not pass as `npx`.
//! - The bridge path `/t/{team}/s/{server}/{leaf}`: segments of `[A-Za-z0-9._:-]`, at most 128
//!   bytes, not `.` or `..`; ids that are not such a segment are written as `h.<sha256 hex>`.
//!
//! Env values may be secrets: [`LaunchSpec`]'s `Debug` shows env names only, and text that may
//! echo them goes through [`LaunchSpec::redact`] (the one redactor, `mcp_client::redact`).

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use mcp_client::redact::Redactor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The header carrying the launch spec to the bridge (base64url JSON `{command, args, env}`).
pub const BRIDGE_COMMAND_HEADER: &str = "X-Bridge-Command";
/// Largest accepted [`BRIDGE_COMMAND_HEADER`] value (encoded).
pub const MAX_SPEC_HEADER_BYTES: usize = 64 * 1024;
const MAX_ENV_NAME_LEN: usize = 128;

/// Environment names that change how a program, interpreter or package manager finds or loads
/// code (or its configuration, which can name code): refused in every launch spec. An entry
/// ending in `*` is a prefix; matching ignores case (`npm_config_*` is read by npm too).
pub const CODE_LOADING_ENV: &[&str] = &[
    // The dynamic loader and libc.
    "LD_*",
    "DYLD_*",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "MALLOC_*",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "RES_OPTIONS",
    "OPENSSL_CONF",
    "OPENSSL_MODULES",
    "OPENSSL_ENGINES",
    // Shells.
    "BASH_ENV",
    "ENV",
    "BASH_FUNC_*",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "CDPATH",
    "PROMPT_COMMAND",
    // Node and its package managers.
    "NODE_*",
    "NPM_CONFIG_*",
    "NPX_*",
    "COREPACK_*",
    "YARN_*",
    "PNPM_*",
    "BUN_*",
    "DENO_*",
    // Python and its package managers.
    "PYTHON*",
    "UV_*",
    "UVX_*",
    "PIP_*",
    "PIPX_*",
    "VIRTUAL_ENV",
    "CONDA_*",
    // Other interpreters.
    "PERL5*",
    "PERLLIB",
    "PERL_*",
    "RUBY*",
    "GEM_*",
    "BUNDLE_*",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "LUA_*",
    "TCLLIBPATH",
    "GIT_*",
    // Where programs look for their configuration.
    "XDG_*",
];

/// Variables the bridge sets for every child itself (the spec's values never reach it).
pub const BRIDGE_SET_ENV: &[&str] = &["PATH", "HOME", "TMPDIR", "USER", "LOGNAME", "SHELL"];

/// Whether `name` is in [`CODE_LOADING_ENV`] (any case).
pub fn loads_code(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    CODE_LOADING_ENV
        .iter()
        .any(|rule| match rule.strip_suffix('*') {
            Some(prefix) => upper.starts_with(prefix),
            None => upper == *rule,
        })
}
const MAX_SEGMENT_LEN: usize = 128;

/// What a stdio server is started with. The `env` values are secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchSpec {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl fmt::Debug for LaunchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaunchSpec")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env_names", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a launch spec is not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("X-Bridge-Command header is required")]
    Missing,
    #[error("X-Bridge-Command is not valid: {0}")]
    Invalid(String),
    #[error("command {0:?} is not in the bridge's allow-list")]
    NotAllowed(String),
    #[error("command {0:?} is allowed but was not found on the bridge's PATH")]
    NotFound(String),
}

fn decode_engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

impl LaunchSpec {
    /// Decodes and checks a header value: base64url (padding optional) JSON.
    pub fn decode(header: &str) -> Result<Self, SpecError> {
        if header.len() > MAX_SPEC_HEADER_BYTES {
            return Err(SpecError::Invalid("header too large".into()));
        }
        let bytes = decode_engine()
            .decode(header.trim())
            .map_err(|e| SpecError::Invalid(format!("not base64url: {e}")))?;
        let spec: LaunchSpec = serde_json::from_slice(&bytes)
            .map_err(|e| SpecError::Invalid(format!("not a launch spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// The header value for this spec: base64url (no padding) of the JSON. It carries the env
    /// values: treat it as a secret.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a launch spec serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn validate(&self) -> Result<(), SpecError> {
        let bad = |m: &str| Err(SpecError::Invalid(m.to_string()));
        if self.command.is_empty() {
            return bad("command is empty");
        }
        if self.command.contains('\0') || self.args.iter().any(|a| a.contains('\0')) {
            return bad("NUL byte in command or args");
        }
        for (k, v) in &self.env {
            match env_name_problem(k) {
                Some(EnvNameProblem::Malformed) => {
                    return Err(SpecError::Invalid(format!("bad env name {k:?}")))
                }
                Some(EnvNameProblem::Loader) => {
                    return Err(SpecError::Invalid(format!("env name {k:?} is not allowed")))
                }
                Some(EnvNameProblem::Reserved) | None => {}
            }
            if v.contains('\0') {
                return Err(SpecError::Invalid(format!("NUL byte in env value of {k}")));
            }
        }
        Ok(())
    }

    /// `text` with every env value of this spec (and its encoded forms) masked.
    pub fn redact(&self, text: &str) -> String {
        Redactor::new(self.env.values().cloned()).text(text)
    }
}

/// Why a name cannot be a stdio server's environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvNameProblem {
    /// Not `[A-Za-z_][A-Za-z0-9_]*` of at most 128 bytes.
    Malformed,
    /// Changes how a program, interpreter or package manager loads code ([`CODE_LOADING_ENV`]):
    /// refused by core and the bridge.
    Loader,
    /// Owned or set by the bridge (`BRIDGE_*`, [`BRIDGE_SET_ENV`]): refused when an admin
    /// registers it; the bridge sets its own value instead.
    Reserved,
}

/// The first rule `name` breaks, if any (see the module docs).
pub fn env_name_problem(name: &str) -> Option<EnvNameProblem> {
    let well_formed = !name.is_empty()
        && name.len() <= MAX_ENV_NAME_LEN
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return Some(EnvNameProblem::Malformed);
    }
    if loads_code(name) {
        return Some(EnvNameProblem::Loader);
    }
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("BRIDGE_") || BRIDGE_SET_ENV.contains(&upper.as_str()) {
        return Some(EnvNameProblem::Reserved);
    }
    None
}

/// How a stdio command names its executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandForm {
    /// No `/`: looked up on the bridge's own search path.
    Bare,
    /// Starts with `/`: run as is.
    Absolute,
    /// Has a `/` but is not absolute: never run (it would depend on a working directory).
    Relative,
}

impl CommandForm {
    pub fn of(command: &str) -> CommandForm {
        if !command.contains('/') {
            CommandForm::Bare
        } else if command.starts_with('/') {
            CommandForm::Absolute
        } else {
            CommandForm::Relative
        }
    }
}

/// The commands stdio servers may run (`STDIO_ALLOWED_COMMANDS` on the workers, the same list
/// the bridge gets as `BRIDGE_ALLOWED_COMMANDS`; comma-separated): bare names or exact
/// absolute paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedCommands(Vec<String>);

impl AllowedCommands {
    pub fn parse(list: &str) -> AllowedCommands {
        AllowedCommands(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        )
    }

    pub fn new(entries: Vec<String>) -> AllowedCommands {
        AllowedCommands(entries)
    }

    pub fn entries(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Exact match: `/tmp/x/npx` is not `npx`.
    pub fn allows(&self, command: &str) -> bool {
        self.0.iter().any(|e| e == command)
    }
}

/// A bridge request path `/t/{team}/s/{server}/{leaf}` with both ids valid segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgePath<'a> {
    pub team: &'a str,
    pub server: &'a str,
    pub leaf: &'a str,
}

impl<'a> BridgePath<'a> {
    pub fn parse(path: &'a str) -> Option<BridgePath<'a>> {
        match path.split('/').collect::<Vec<_>>().as_slice() {
            ["", "t", team, "s", server, leaf] if is_segment(team) && is_segment(server) => {
                Some(BridgePath { team, server, leaf })
            }
            _ => None,
        }
    }
}

/// `{base}/t/{team}/s/{server}/mcp`; ids that are not valid segments are replaced by a hash,
/// so every (team, server) still has its own key.
pub fn bridge_url(bridge_base: &str, team_id: &str, server_id: &str) -> String {
    format!(
        "{}/t/{}/s/{}/mcp",
        bridge_base.trim_end_matches('/'),
        bridge_segment(team_id),
        bridge_segment(server_id)
    )
}

/// The Durable Object name of a bridge URL's key (`{team}/{server}`), if it is one.
pub fn bridge_key_of_path(path: &str) -> Option<String> {
    BridgePath::parse(path).map(|p| format!("{}/{}", p.team, p.server))
}

fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SEGMENT_LEN
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

fn bridge_segment(id: &str) -> String {
    // Literal ids never start with "h.", so a hashed segment can never equal a literal one.
    if is_segment(id) && !id.starts_with("h.") {
        return id.to_string();
    }
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("h.{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(env: &[(&str, &str)]) -> LaunchSpec {
        LaunchSpec {
            command: "npx".into(),
            args: vec!["-y".into(), "x".into()],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn round_trips_and_accepts_padding() {
        let s = spec(&[("API_KEY", "abc123")]);
        assert_eq!(LaunchSpec::decode(&s.encode()).unwrap(), s);
        let padded = base64::engine::general_purpose::URL_SAFE.encode(br#"{"command":"uvx"}"#);
        assert_eq!(LaunchSpec::decode(&padded).unwrap().command, "uvx");
    }

    #[test]
    fn debug_shows_env_names_not_values() {
        let text = format!("{:?}", spec(&[("API_KEY", "hunter2-secret")]));
        assert!(text.contains("API_KEY"));
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn refuses_loader_variables_and_bad_names() {
        let enc = |s: &LaunchSpec| s.encode();
        assert!(LaunchSpec::decode(&enc(&spec(&[("LD_PRELOAD", "/x.so")]))).is_err());
        assert!(LaunchSpec::decode(&enc(&spec(&[("NODE_OPTIONS", "-r /x.js")]))).is_err());
        assert!(LaunchSpec::decode(&enc(&spec(&[("PATH", "/tmp")]))).is_ok());
        assert!(LaunchSpec::decode(&enc(&spec(&[("A=B", "1")]))).is_err());
        assert!(LaunchSpec::decode("%%%").is_err());
    }

    #[test]
    fn redacts_env_values_longest_first() {
        let s = spec(&[("A", "secret-token"), ("B", "secret"), ("C", "1")]);
        assert_eq!(
            s.redact("got secret-token and secret, 1 thing"),
            "got [redacted] and [redacted], 1 thing"
        );
    }

    #[test]
    fn env_names_break_one_rule_each() {
        assert_eq!(env_name_problem("API_KEY"), None);
        assert_eq!(env_name_problem("_x1"), None);
        for bad in ["", "1A", "A-B", "A=B", &"A".repeat(129)] {
            assert_eq!(
                env_name_problem(bad),
                Some(EnvNameProblem::Malformed),
                "{bad}"
            );
        }
        for loader in [
            "LD_PRELOAD",
            "ld_library_path",
            "DYLD_INSERT_LIBRARIES",
            "NODE_OPTIONS",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "NPM_CONFIG_REGISTRY",
            "npm_config_registry",
            "UV_INDEX_URL",
            "PIP_INDEX_URL",
            "PERL5LIB",
            "RUBYOPT",
            "JAVA_TOOL_OPTIONS",
            "BASH_ENV",
            "ENV",
        ] {
            assert_eq!(
                env_name_problem(loader),
                Some(EnvNameProblem::Loader),
                "{loader}"
            );
        }
        for ok in ["ENVIRONMENT", "NODEJS_TOKEN", "GITHUB_TOKEN", "MY_NODE_ID"] {
            assert_eq!(env_name_problem(ok), None, "{ok}");
        }
        for reserved in ["PATH", "home", "BRIDGE_TOKEN", "TMPDIR", "USER"] {
            assert_eq!(
                env_name_problem(reserved),
                Some(EnvNameProblem::Reserved),
                "{reserved}"
            );
        }
    }

    #[test]
    fn commands_are_bare_absolute_or_relative() {
        assert_eq!(CommandForm::of("npx"), CommandForm::Bare);
        assert_eq!(CommandForm::of("/usr/bin/npx"), CommandForm::Absolute);
        assert_eq!(CommandForm::of("bin/npx"), CommandForm::Relative);
        assert_eq!(CommandForm::of("./npx"), CommandForm::Relative);
        let allowed = AllowedCommands::parse(" npx, /usr/bin/python3 ,,");
        assert_eq!(allowed.entries(), ["npx", "/usr/bin/python3"]);
        assert!(allowed.allows("npx") && allowed.allows("/usr/bin/python3"));
        assert!(!allowed.allows("/tmp/x/npx") && !allowed.allows("python3"));
    }

    #[test]
    fn bridge_paths_parse_only_with_valid_segments() {
        assert_eq!(
            BridgePath::parse("/t/team-a/s/srv-1/stderr"),
            Some(BridgePath {
                team: "team-a",
                server: "srv-1",
                leaf: "stderr"
            })
        );
        assert_eq!(BridgePath::parse("/t/../s/x/mcp"), None);
        assert_eq!(BridgePath::parse("/t/a/s/b"), None);
        assert_eq!(BridgePath::parse("/t/a/b/s/c/mcp"), None);
    }
}
