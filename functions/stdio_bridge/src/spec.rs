//! The launch spec that arrives with each request (`X-Bridge-Command`) and the allow-list.
//!
//! Invariants:
//! - env values may be secrets: `Debug` shows env names only, and every text that may echo
//!   them (stderr tails in errors) goes through `redact`;
//! - a command runs only if the allow-list names it: a bare name is resolved on the bridge's
//!   own search path (never the spec's `PATH`) and spawned by absolute path; a command with a
//!   `/` must equal an allow-list entry exactly, so `/tmp/x/npx` does not pass as `npx`;
//! - env names that change how any program loads (`LD_*`, `DYLD_*`) are refused.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Largest accepted `X-Bridge-Command` header (encoded).
pub const MAX_SPEC_HEADER_BYTES: usize = 64 * 1024;

const REDACTED: &str = "[redacted]";
/// Env values shorter than this are not redacted (they would shred ordinary text).
const MIN_REDACT_LEN: usize = 4;

#[derive(Clone, PartialEq, Eq, Deserialize)]
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

fn engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

impl LaunchSpec {
    /// Decodes the base64url (padding optional) JSON header value.
    pub fn decode(header: &str) -> Result<Self, SpecError> {
        if header.len() > MAX_SPEC_HEADER_BYTES {
            return Err(SpecError::Invalid("header too large".into()));
        }
        let bytes = engine()
            .decode(header.trim())
            .map_err(|e| SpecError::Invalid(format!("not base64url: {e}")))?;
        let spec: LaunchSpec = serde_json::from_slice(&bytes)
            .map_err(|e| SpecError::Invalid(format!("not a launch spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// The header value for this spec (what the gateway sends).
    pub fn encode(&self) -> String {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            command: &'a str,
            args: &'a [String],
            env: &'a BTreeMap<String, String>,
        }
        let json = serde_json::to_vec(&Out {
            command: &self.command,
            args: &self.args,
            env: &self.env,
        })
        .expect("spec serializes");
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
            let valid_name = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Err(SpecError::Invalid(format!("bad env name {k:?}")));
            }
            if k.starts_with("LD_") || k.starts_with("DYLD_") {
                return Err(SpecError::Invalid(format!("env name {k:?} is not allowed")));
            }
            if v.contains('\0') {
                return Err(SpecError::Invalid(format!("NUL byte in env value of {k}")));
            }
        }
        Ok(())
    }

    /// `text` with every env value of this spec (of at least 4 bytes) replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut values: Vec<&str> = self
            .env
            .values()
            .map(String::as_str)
            .filter(|v| v.len() >= MIN_REDACT_LEN)
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut out = text.to_string();
        for v in values {
            if out.contains(v) {
                out = out.replace(v, REDACTED);
            }
        }
        out
    }
}

/// Which executables the bridge may start.
#[derive(Clone, Debug)]
pub struct AllowList {
    entries: Vec<String>,
}

impl AllowList {
    pub fn new(entries: Vec<String>) -> Self {
        AllowList { entries }
    }

    /// The absolute path to spawn for `command`, or why it may not run.
    pub fn resolve(&self, command: &str, search_path: &OsStr) -> Result<PathBuf, SpecError> {
        if !self.entries.iter().any(|e| e == command) {
            return Err(SpecError::NotAllowed(command.to_string()));
        }
        if command.contains('/') {
            let p = PathBuf::from(command);
            if !p.is_absolute() {
                // A relative path would depend on the bridge's working directory.
                return Err(SpecError::NotAllowed(command.to_string()));
            }
            return if is_executable(&p) {
                Ok(p)
            } else {
                Err(SpecError::NotFound(command.to_string()))
            };
        }
        std::env::split_paths(search_path)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(command))
            .find(|p| is_executable(p))
            .ok_or_else(|| SpecError::NotFound(command.to_string()))
    }
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
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
    fn allow_list_matches_names_on_search_path_and_exact_paths_only() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().as_os_str();
        let exe_s = exe.to_str().unwrap().to_string();

        let by_name = AllowList::new(vec!["tool".into()]);
        assert_eq!(by_name.resolve("tool", path).unwrap(), exe);
        assert_eq!(
            by_name.resolve(&exe_s, path),
            Err(SpecError::NotAllowed(exe_s.clone()))
        );
        assert_eq!(
            by_name.resolve("sh", path),
            Err(SpecError::NotAllowed("sh".into()))
        );
        assert_eq!(
            AllowList::new(vec!["nothere".into()]).resolve("nothere", path),
            Err(SpecError::NotFound("nothere".into()))
        );
        let by_path = AllowList::new(vec![exe_s.clone()]);
        assert_eq!(by_path.resolve(&exe_s, path).unwrap(), exe);
        assert!(by_path.resolve("tool", path).is_err());
    }
}
