//! Bridge configuration, read once at start from the environment and command line.
//!
//! Invariants: a bridge never starts without a non-empty bearer token (from `BRIDGE_TOKEN_FILE`,
//! or `BRIDGE_TOKEN`, which `main` scrubs from its own environment); the child environment
//! is built from `child_env` (an explicit pass-through list, never the bridge's own whole
//! environment, so `BRIDGE_TOKEN` cannot leak into a child) plus the launch spec's env, with
//! the sandbox's own `PATH`/`HOME`/`TMPDIR`/`USER` on top (`sandbox`).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use shared::redact::{names, Hidden};
use shared::stdio_spec::AllowedCommands;

use crate::sandbox::{Limits, Requested, Settings};

pub const DEFAULT_ADDR: &str = "127.0.0.1:8790";
pub const DEFAULT_IDLE_SECS: u64 = 300;
pub const DEFAULT_MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
pub const DEFAULT_STDERR_BYTES: usize = 64 * 1024;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 300;
pub const DEFAULT_INIT_TIMEOUT_SECS: u64 = 120;
pub const DEFAULT_SESSION_IDLE_SECS: u64 = 3600;
pub const DEFAULT_MAX_CHILDREN: usize = 64;
pub const DEFAULT_MAX_CHILDREN_PER_TEAM: usize = 16;

/// Variables a child inherits from the bridge's environment (unless `BRIDGE_CHILD_ENV` says
/// otherwise). `HOME`, `TMPDIR`, `USER` and `PATH` are the sandbox's own (npm's and uv's
/// caches live in the child's fresh home); an operator who needs a registry mirror names
/// `NPM_CONFIG_REGISTRY`/`UV_INDEX_URL` in `BRIDGE_CHILD_ENV`.
pub const DEFAULT_CHILD_ENV: &[&str] = &["PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE"];

/// `Debug` hides the token and shows the children's environment by names only.
#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// Shared secret every request but `/health` must present as `Bearer <token>`.
    pub token: String,
    /// Executable names (looked up on `search_path`) or exact absolute paths.
    pub allowed_commands: Vec<String>,
    /// A child with nothing in flight for this long is killed (it restarts on the next call).
    pub idle_timeout: Duration,
    /// Longest line accepted from a child's stdout, and largest HTTP request body.
    pub max_line_bytes: usize,
    /// Bytes of each child's stderr kept (a ring buffer).
    pub stderr_bytes: usize,
    pub request_timeout: Duration,
    pub init_timeout: Duration,
    /// An HTTP session unused for this long is forgotten.
    pub session_idle_timeout: Duration,
    /// Where allowed bare command names are looked up (the bridge's own `PATH`).
    pub search_path: OsString,
    /// The base environment of every child, before the launch spec's env.
    pub child_env: Vec<(String, String)>,
    /// Uids, homes, limits and the sandbox mode asked for.
    pub sandbox: Settings,
    /// Children running at once, in all (`BRIDGE_MAX_CHILDREN`).
    pub max_children: usize,
    /// Children running at once for one team (`BRIDGE_MAX_CHILDREN_PER_TEAM`).
    pub max_children_per_team: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("token", &Hidden)
            .field("allowed_commands", &self.allowed_commands)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_line_bytes", &self.max_line_bytes)
            .field("stderr_bytes", &self.stderr_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("init_timeout", &self.init_timeout)
            .field("session_idle_timeout", &self.session_idle_timeout)
            .field("search_path", &self.search_path)
            .field("child_env_names", &names(&self.child_env))
            .field("sandbox", &self.sandbox)
            .field("max_children", &self.max_children)
            .field("max_children_per_team", &self.max_children_per_team)
            .finish()
    }
}

impl Config {
    /// Defaults with the given token and allow-list, inheriting the pass-through variables
    /// from this process's environment.
    pub fn new(token: impl Into<String>, allowed_commands: Vec<String>) -> Self {
        Config {
            addr: DEFAULT_ADDR.parse().expect("default address"),
            token: token.into(),
            allowed_commands,
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_SECS),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            stderr_bytes: DEFAULT_STDERR_BYTES,
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            init_timeout: Duration::from_secs(DEFAULT_INIT_TIMEOUT_SECS),
            session_idle_timeout: Duration::from_secs(DEFAULT_SESSION_IDLE_SECS),
            search_path: std::env::var_os("PATH").unwrap_or_default(),
            child_env: pass_through(DEFAULT_CHILD_ENV.iter().copied(), |k| std::env::var(k).ok()),
            sandbox: Settings::default(),
            max_children: DEFAULT_MAX_CHILDREN,
            max_children_per_team: DEFAULT_MAX_CHILDREN_PER_TEAM,
        }
    }

    /// Reads `BRIDGE_*` variables through `env` (the token file from disk) and `--addr ADDR`
    /// from `args`.
    pub fn from_env_and_args(
        env: impl Fn(&str) -> Option<String>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Self, String> {
        let token = match (env("BRIDGE_TOKEN_FILE"), env("BRIDGE_TOKEN")) {
            (Some(_), Some(_)) => {
                return Err("set BRIDGE_TOKEN_FILE or BRIDGE_TOKEN, not both".into())
            }
            (Some(file), None) => crate::token::read_file(std::path::Path::new(&file))?,
            (None, token) => token
                .filter(|t| !t.trim().is_empty())
                .ok_or("BRIDGE_TOKEN_FILE (or BRIDGE_TOKEN) must give a non-empty shared secret")?,
        };
        let allowed = AllowedCommands::parse(&env("BRIDGE_ALLOWED_COMMANDS").unwrap_or_default())
            .entries()
            .to_vec();
        let mut cfg = Config::new(token.trim(), allowed);
        let mut addr = env("BRIDGE_ADDR");
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--addr" => addr = Some(args.next().ok_or("--addr needs a value")?),
                other => match other.strip_prefix("--addr=") {
                    Some(v) => addr = Some(v.to_string()),
                    None => {
                        return Err(format!(
                            "unknown argument {other:?} (usage: stdio_bridge [--addr HOST:PORT])"
                        ))
                    }
                },
            }
        }
        if let Some(a) = addr {
            cfg.addr = a
                .parse()
                .map_err(|e| format!("bad bind address {a:?}: {e}"))?;
        }
        let secs = |name: &str, default: u64| -> Result<Duration, String> {
            num(&env, name, default).map(Duration::from_secs)
        };
        cfg.idle_timeout = secs("BRIDGE_IDLE_SECS", DEFAULT_IDLE_SECS)?;
        cfg.request_timeout = secs("BRIDGE_REQUEST_TIMEOUT_SECS", DEFAULT_REQUEST_TIMEOUT_SECS)?;
        cfg.init_timeout = secs("BRIDGE_INIT_TIMEOUT_SECS", DEFAULT_INIT_TIMEOUT_SECS)?;
        cfg.session_idle_timeout = secs("BRIDGE_SESSION_IDLE_SECS", DEFAULT_SESSION_IDLE_SECS)?;
        cfg.max_line_bytes =
            num(&env, "BRIDGE_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES as u64)? as usize;
        cfg.stderr_bytes = num(&env, "BRIDGE_STDERR_BYTES", DEFAULT_STDERR_BYTES as u64)? as usize;
        cfg.search_path = env("PATH").map(OsString::from).unwrap_or_default();
        let names: Vec<String> = match env("BRIDGE_CHILD_ENV") {
            Some(list) => list
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => DEFAULT_CHILD_ENV.iter().map(|s| s.to_string()).collect(),
        };
        cfg.child_env = pass_through(names.iter().map(String::as_str), &env);
        cfg.max_children = num(&env, "BRIDGE_MAX_CHILDREN", DEFAULT_MAX_CHILDREN as u64)? as usize;
        cfg.max_children_per_team = num(
            &env,
            "BRIDGE_MAX_CHILDREN_PER_TEAM",
            DEFAULT_MAX_CHILDREN_PER_TEAM as u64,
        )? as usize;
        cfg.sandbox = sandbox_settings(&env, cfg.addr.ip().is_loopback())?;
        if cfg.max_line_bytes < 1024 {
            return Err("BRIDGE_MAX_LINE_BYTES must be at least 1024".into());
        }
        Ok(cfg)
    }
}

fn sandbox_settings(
    env: &impl Fn(&str) -> Option<String>,
    loopback_only: bool,
) -> Result<Settings, String> {
    let d = Limits::default();
    let insecure = match env("BRIDGE_INSECURE_SHARED_UID").as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(format!(
                "BRIDGE_INSECURE_SHARED_UID must be true or false, got {v:?}"
            ))
        }
    };
    let requested = match (insecure, env("BRIDGE_SANDBOX").as_deref().map(str::trim)) {
        (true, _) => Requested::SharedUid,
        (false, None | Some("") | Some("auto")) => Requested::Auto,
        (false, Some("namespaces")) => Requested::Namespaces,
        (false, Some("uid")) => Requested::Uid,
        (false, Some(v)) => {
            return Err(format!(
                "BRIDGE_SANDBOX must be auto, namespaces or uid, got {v:?}"
            ))
        }
    };
    let uids = match env("BRIDGE_CHILD_UIDS") {
        None => Settings::default().uids,
        Some(v) => {
            let bad =
                || format!("BRIDGE_CHILD_UIDS must be FIRST-LAST (e.g. 200000-200999), got {v:?}");
            let (a, b) = v.trim().split_once('-').ok_or_else(bad)?;
            let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b {
                return Err(bad());
            }
            a..=b
        }
    };
    Ok(Settings {
        requested,
        uids,
        homes: env("BRIDGE_CHILD_HOMES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(Settings::default_homes),
        limits: Limits {
            memory_mb: num(env, "BRIDGE_CHILD_MEMORY_MB", d.memory_mb)?,
            cpu_secs: num(env, "BRIDGE_CHILD_CPU_SECS", d.cpu_secs)?,
            processes: num(env, "BRIDGE_CHILD_PROCESSES", d.processes)?,
            open_files: num(env, "BRIDGE_CHILD_OPEN_FILES", d.open_files)?,
            file_size_mb: num(env, "BRIDGE_CHILD_FILE_SIZE_MB", d.file_size_mb)?,
        },
        loopback_only,
    })
}

fn num(env: &impl Fn(&str) -> Option<String>, name: &str, default: u64) -> Result<u64, String> {
    match env(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a whole number, got {v:?}")),
    }
}

fn pass_through<'a>(
    names: impl Iterator<Item = &'a str>,
    env: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    names
        .filter(|n| !n.starts_with("BRIDGE_"))
        .filter_map(|n| env(n).map(|v| (n.to_string(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn debug_shows_neither_the_token_nor_the_childrens_environment_values() {
        let mut cfg = Config::new("bridge-tok-5e4d3c2b1a", vec!["npx".into()]);
        cfg.child_env = vec![("API_KEY".into(), "env-secret-0f1e2d".into())];
        let text = format!("{cfg:?}");
        assert!(!text.contains("bridge-tok-5e4d3c2b1a"), "{text}");
        assert!(!text.contains("env-secret-0f1e2d"), "{text}");
        assert!(text.contains("API_KEY") && text.contains("npx"), "{text}");
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn requires_a_token() {
        assert!(Config::from_env_and_args(env_of(&[]), vec![]).is_err());
        assert!(Config::from_env_and_args(env_of(&[("BRIDGE_TOKEN", " ")]), vec![]).is_err());
    }

    #[test]
    fn reads_the_token_from_a_private_file_and_never_from_two_places() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "file-tok\n").unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let f = file.to_str().unwrap();
        let cfg = Config::from_env_and_args(env_of(&[("BRIDGE_TOKEN_FILE", f)]), vec![]).unwrap();
        assert_eq!(cfg.token, "file-tok");
        let both = env_of(&[("BRIDGE_TOKEN_FILE", f), ("BRIDGE_TOKEN", "x")]);
        assert!(Config::from_env_and_args(both, vec![]).is_err());
    }

    #[test]
    fn reads_the_sandbox_settings() {
        let cfg = Config::from_env_and_args(
            env_of(&[
                ("BRIDGE_TOKEN", "t"),
                ("BRIDGE_CHILD_UIDS", "300000-300009"),
                ("BRIDGE_CHILD_CPU_SECS", "2"),
                ("BRIDGE_SANDBOX", "uid"),
                ("BRIDGE_MAX_CHILDREN_PER_TEAM", "3"),
            ]),
            vec![],
        )
        .unwrap();
        assert_eq!(cfg.sandbox.uids, 300_000..=300_009);
        assert_eq!(cfg.sandbox.limits.cpu_secs, 2);
        assert_eq!(cfg.sandbox.requested, Requested::Uid);
        assert_eq!(cfg.max_children_per_team, 3);
        assert!(cfg.sandbox.loopback_only);
        let public = Config::from_env_and_args(
            env_of(&[
                ("BRIDGE_TOKEN", "t"),
                ("BRIDGE_INSECURE_SHARED_UID", "true"),
            ]),
            vec!["--addr".into(), "0.0.0.0:1".into()],
        )
        .unwrap();
        assert_eq!(public.sandbox.requested, Requested::SharedUid);
        assert!(
            !public.sandbox.loopback_only,
            "Sandbox::new refuses this one"
        );
        for bad in [("BRIDGE_CHILD_UIDS", "9-1"), ("BRIDGE_SANDBOX", "none")] {
            assert!(
                Config::from_env_and_args(env_of(&[("BRIDGE_TOKEN", "t"), bad]), vec![]).is_err()
            );
        }
    }

    #[test]
    fn reads_settings_and_never_passes_bridge_variables_to_children() {
        let cfg = Config::from_env_and_args(
            env_of(&[
                ("BRIDGE_TOKEN", "s3cret"),
                ("BRIDGE_ALLOWED_COMMANDS", "npx, uvx,,node"),
                ("BRIDGE_IDLE_SECS", "7"),
                ("BRIDGE_CHILD_ENV", "HOME,BRIDGE_TOKEN"),
                ("HOME", "/home/x"),
                ("PATH", "/bin"),
            ]),
            vec!["--addr".into(), "127.0.0.1:9999".into()],
        )
        .unwrap();
        assert_eq!(cfg.allowed_commands, vec!["npx", "uvx", "node"]);
        assert_eq!(cfg.idle_timeout, Duration::from_secs(7));
        assert_eq!(cfg.addr.port(), 9999);
        assert_eq!(
            cfg.child_env,
            vec![("HOME".to_string(), "/home/x".to_string())]
        );
        assert_eq!(cfg.search_path, OsString::from("/bin"));
    }
}
