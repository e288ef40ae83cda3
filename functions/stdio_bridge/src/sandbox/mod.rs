//! How a child is confined: its own uid, home and limits, and where the kernel allows it its
//! own PID and mount namespaces (bubblewrap).
//!
//! Modes (the active one is logged at start and shown by `/health`):
//! - `namespaces`: `bwrap` (Debian's `bubblewrap`, run as root) gives the child its own PID,
//!   IPC and mount namespaces: `/` read-only, a fresh `/proc` showing only its own processes,
//!   an empty `/tmp` (root's, not writable), the homes root hidden, its home at
//!   [`NS_HOME`]; then `setpriv` (util-linux) drops to the child's uid with no groups,
//!   capabilities or `no_new_privs` way back;
//! - `uid`: where namespaces are refused (Docker's default seccomp profile): the child is
//!   exec'd directly as its own uid and gid (no supplementary groups, `no_new_privs`); other
//!   processes' `/proc/<pid>/environ` and every other home are unreadable to it;
//! - `shared-uid`: `BRIDGE_INSECURE_SHARED_UID=true` and only on a loopback address: children
//!   run as the bridge's user (development without root); homes and limits still apply.
//!
//! Invariants: every mode applies the limits (`limits`) and gives each child a fresh empty
//! home and `TMPDIR` (`pool`); the environment is the operator's pass-through, the spec's env
//! and the bridge's own `PATH`/`HOME`/`TMPDIR`/`USER`, the bridge's always winning; a spec
//! variable that would load code (`shared::stdio_spec::loads_code`) never reaches a child
//! (the spec decoder refuses it; this module drops it again).

pub mod limits;
pub mod pool;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use shared::stdio_spec::{loads_code, BRIDGE_SET_ENV};

pub use limits::Limits;
pub use pool::{Lease, Pool};

/// A namespaced child's home, as it sees it.
pub const NS_HOME: &str = "/tmp/home";

/// What the operator asked for (`BRIDGE_SANDBOX`, `BRIDGE_INSECURE_SHARED_UID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requested {
    /// Namespaces where they work, otherwise uid separation.
    Auto,
    Namespaces,
    Uid,
    /// The insecure development mode: no uid switch.
    SharedUid,
}

/// The mode in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Namespaces,
    Uid,
    SharedUid,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Namespaces => "namespaces",
            Mode::Uid => "uid",
            Mode::SharedUid => "shared-uid",
        })
    }
}

/// The sandbox settings of `Config`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub requested: Requested,
    /// Child uids (and gids, the same numbers): `BRIDGE_CHILD_UIDS`, `200000-200999`.
    pub uids: std::ops::RangeInclusive<u32>,
    /// Where homes are made: `BRIDGE_CHILD_HOMES`.
    pub homes: PathBuf,
    pub limits: Limits,
    /// Whether the bridge listens on loopback only (the insecure mode needs it).
    pub loopback_only: bool,
}

impl Settings {
    pub fn default_homes() -> PathBuf {
        let euid = unsafe { libc::geteuid() };
        std::env::temp_dir().join(format!("stdio-bridge-homes-{euid}"))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            requested: Requested::Auto,
            uids: 200_000..=200_999,
            homes: Settings::default_homes(),
            limits: Limits::default(),
            loopback_only: true,
        }
    }
}

/// The sandbox in force: its mode, tools, uids and homes.
pub struct Sandbox {
    pub mode: Mode,
    pub limits: Limits,
    pool: Pool,
    bwrap: Option<PathBuf>,
    setpriv: Option<PathBuf>,
}

fn find(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Whether `bwrap` can make the namespaces here (it cannot under Docker's default seccomp).
fn namespaces_work(bwrap: &Path, setpriv: &Path) -> bool {
    std::process::Command::new(bwrap)
        .args(["--unshare-pid", "--unshare-ipc", "--die-with-parent"])
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
        .args(["--tmpfs", "/tmp", "--"])
        .arg(setpriv)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--no-new-privs",
        ])
        .args(["--inh-caps=-all", "--bounding-set=-all", "--", "/bin/true"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Sandbox {
    /// Decides the mode (or why the bridge may not start) and prepares the homes root.
    pub fn new(s: &Settings) -> Result<Sandbox, String> {
        let root = unsafe { libc::geteuid() } == 0;
        let mode = match s.requested {
            Requested::SharedUid => {
                if !s.loopback_only {
                    return Err(
                        "BRIDGE_INSECURE_SHARED_UID=true is refused on a non-loopback \
                        address (it is for local development only): run the bridge as root \
                        so each child gets its own uid"
                            .into(),
                    );
                }
                Mode::SharedUid
            }
            _ if !root => {
                return Err(
                    "the bridge must run as root to run each child as its own uid \
                    (BRIDGE_CHILD_UIDS); for local development only, \
                    BRIDGE_INSECURE_SHARED_UID=true runs children as the bridge's user"
                        .into(),
                )
            }
            Requested::Uid => Mode::Uid,
            Requested::Namespaces | Requested::Auto => {
                let tools = find("bwrap").zip(find("setpriv"));
                let works = tools.as_ref().is_some_and(|(b, p)| namespaces_work(b, p));
                match (works, s.requested) {
                    (true, _) => Mode::Namespaces,
                    (false, Requested::Auto) => Mode::Uid,
                    (false, _) => {
                        return Err("BRIDGE_SANDBOX=namespaces but bwrap (bubblewrap) and \
                            setpriv cannot create namespaces here"
                            .into())
                    }
                }
            }
        };
        let uids = (mode != Mode::SharedUid).then(|| s.uids.clone());
        if let Some(r) = &uids {
            if r.is_empty() || *r.start() < 1000 {
                return Err(format!(
                    "BRIDGE_CHILD_UIDS must be a non-empty range above 999, got {}-{}",
                    r.start(),
                    r.end()
                ));
            }
        }
        let pool = Pool::new(s.homes.clone(), uids)
            .map_err(|e| format!("cannot prepare {}: {e}", s.homes.display()))?;
        Ok(Sandbox {
            mode,
            limits: s.limits,
            pool,
            bwrap: find("bwrap"),
            setpriv: find("setpriv"),
        })
    }

    pub fn lease(&self) -> std::io::Result<Lease> {
        self.pool.lease()
    }

    /// The command that runs `exe args` for `lease`, with `env` as its whole environment
    /// (before the bridge's own variables), in the lease's home.
    pub fn command(
        &self,
        lease: &Lease,
        exe: &Path,
        args: &[String],
        base: &[(String, String)],
        spec_env: &std::collections::BTreeMap<String, String>,
        path: &OsString,
    ) -> tokio::process::Command {
        let (home, tmp) = match self.mode {
            Mode::Namespaces => (PathBuf::from(NS_HOME), Path::new(NS_HOME).join("tmp")),
            _ => (lease.home.clone(), lease.tmp()),
        };
        let user = lease
            .uid
            .map(|u| format!("mcp-{u}"))
            .unwrap_or_else(|| "mcp".into());
        // The operator's pass-through is trusted (registry mirrors, certificates); the spec's
        // env is the admin's: never a code-loading name.
        let mut env: Vec<(String, OsString)> = base
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(
                spec_env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .filter(|(k, _)| !loads_code(k)),
            )
            .filter(|(k, _)| !is_bridge_set(k))
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        env.push(("PATH".into(), path.clone()));
        env.push(("HOME".into(), home.clone().into()));
        env.push(("TMPDIR".into(), tmp.into()));
        env.push(("USER".into(), user.clone().into()));
        env.push(("LOGNAME".into(), user.into()));
        if !env.iter().any(|(k, _)| k == "LANG") {
            env.push(("LANG".into(), "C.UTF-8".into()));
        }
        let rlimits = self.limits.rlimits(lease.uid.is_some());
        let mut cmd = match (self.mode, lease.uid) {
            (Mode::Namespaces, Some(uid)) => {
                let mut c = tokio::process::Command::new(self.bwrap.as_ref().expect("bwrap"));
                c.args(["--unshare-pid", "--unshare-ipc", "--die-with-parent"])
                    .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
                    .args(["--tmpfs", "/tmp"]);
                if !self.pool.homes().starts_with("/tmp") {
                    c.arg("--tmpfs").arg(self.pool.homes());
                }
                c.arg("--bind")
                    .arg(&lease.home)
                    .arg(NS_HOME)
                    .args(["--chdir", NS_HOME, "--"])
                    .arg(self.setpriv.as_ref().expect("setpriv"))
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .args(["--clear-groups", "--no-new-privs"])
                    .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
                    .arg(exe)
                    .args(args);
                c
            }
            (_, uid) => {
                let mut c = tokio::process::Command::new(exe);
                c.args(args).current_dir(&lease.home);
                if let Some(uid) = uid {
                    c.uid(uid).gid(uid);
                }
                unsafe {
                    c.pre_exec(|| {
                        // No setuid binary regains privileges; the child dies with the bridge
                        // (bwrap's --die-with-parent in the other mode).
                        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                            || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0
                        {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                c
            }
        };
        unsafe {
            cmd.pre_exec(move || limits::apply(&rlimits));
        }
        cmd.env_clear().envs(env);
        cmd
    }
}

fn is_bridge_set(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("BRIDGE_") || BRIDGE_SET_ENV.contains(&upper.as_str())
}
