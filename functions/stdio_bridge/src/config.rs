//! Bridge configuration, read once at start from the environment and command line.
//!
//! Invariants: a bridge never starts without a non-empty bearer token; the child environment
//! is built from `child_env` (an explicit pass-through list, never the bridge's own whole
//! environment, so `BRIDGE_TOKEN` cannot leak into a child) plus the launch spec's env.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use shared::redact::{names, Hidden};
use shared::stdio_spec::AllowedCommands;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8790";
pub const DEFAULT_IDLE_SECS: u64 = 300;
pub const DEFAULT_MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
pub const DEFAULT_STDERR_BYTES: usize = 64 * 1024;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 300;
pub const DEFAULT_INIT_TIMEOUT_SECS: u64 = 120;
pub const DEFAULT_SESSION_IDLE_SECS: u64 = 3600;

/// Variables a child inherits from the bridge's environment (unless `BRIDGE_CHILD_ENV` says
/// otherwise): enough for `npx` and `uvx` to find their runtimes, caches and registries.
pub const DEFAULT_CHILD_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "NPM_CONFIG_CACHE",
    "NPM_CONFIG_REGISTRY",
    "UV_CACHE_DIR",
    "UV_INDEX_URL",
    "UV_PYTHON_INSTALL_DIR",
    "PIP_INDEX_URL",
    "SSL_CERT_FILE",
    "NODE_EXTRA_CA_CERTS",
];

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
        }
    }

    /// Reads `BRIDGE_*` variables through `env` and `--addr ADDR` from `args`.
    pub fn from_env_and_args(
        env: impl Fn(&str) -> Option<String>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Self, String> {
        let token = env("BRIDGE_TOKEN")
            .filter(|t| !t.trim().is_empty())
            .ok_or("BRIDGE_TOKEN must be set to a non-empty shared secret")?;
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
        if cfg.max_line_bytes < 1024 {
            return Err("BRIDGE_MAX_LINE_BYTES must be at least 1024".into());
        }
        Ok(cfg)
    }
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
