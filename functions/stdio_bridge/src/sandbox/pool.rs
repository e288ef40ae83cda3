//! Uids for children, and each child's home: claimed when it starts, wiped when it ends.
//!
//! Invariants:
//! - a uid serves at most one child at a time on this machine, across every bridge that
//!   shares the homes root: it is claimed with an exclusive `flock` on `<homes>/<uid>.lock`,
//!   held for the child's life and released by the kernel if the bridge dies;
//! - before a claimed uid is used, and after its child ends, every process of that uid is
//!   killed (`kill(-1, SIGKILL)` run as that uid) and its home is removed, so nothing of one
//!   child reaches the next one given the same uid;
//! - a home is `<homes>/<uid>` (mode 0700, owned by the uid) with `tmp/` inside (the child's
//!   `TMPDIR`); the homes root itself is root's, mode 0711 (no listing), and a real directory
//!   (a symlink or another user's directory there is refused). With a shared uid
//!   (the insecure development mode) the homes are the bridge user's and carry no uid.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::RangeInclusive;
use std::os::unix::fs::{chown, DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Where child uids come from (`None`: children share the bridge's uid).
pub struct Pool {
    homes: PathBuf,
    uids: Option<RangeInclusive<u32>>,
    cursor: Mutex<u32>,
    counter: AtomicU64,
}

/// One child's uid (if it has its own) and home. Dropping it kills what is left of the
/// uid's processes, removes the home and releases the uid.
pub struct Lease {
    pub uid: Option<u32>,
    pub home: PathBuf,
    _lock: Option<File>,
}

impl Lease {
    pub fn tmp(&self) -> PathBuf {
        self.home.join("tmp")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(uid) = self.uid {
            kill_all_of(uid);
        }
        let _ = fs::remove_dir_all(&self.home);
        // The lock (if any) goes with `self._lock`: the uid is free again.
    }
}

impl Pool {
    /// Creates the homes root: root's and 0711 with own uids, the bridge user's and 0700
    /// without.
    pub fn new(homes: PathBuf, uids: Option<RangeInclusive<u32>>) -> io::Result<Pool> {
        fs::create_dir_all(&homes)?;
        // Not a symlink planted in a shared /tmp, nor somebody else's directory.
        let meta = fs::symlink_metadata(&homes)?;
        let euid = unsafe { libc::geteuid() };
        if !meta.file_type().is_dir() || std::os::unix::fs::MetadataExt::uid(&meta) != euid {
            return Err(io::Error::other(format!(
                "{} is not a directory of this user's (BRIDGE_CHILD_HOMES)",
                homes.display()
            )));
        }
        let mode = if uids.is_some() { 0o711 } else { 0o700 };
        fs::set_permissions(&homes, fs::Permissions::from_mode(mode))?;
        if uids.is_some() {
            chown(&homes, Some(0), Some(0))?;
        }
        let start = uids.as_ref().map(|r| *r.start()).unwrap_or(0);
        Ok(Pool {
            homes,
            uids,
            cursor: Mutex::new(start),
            counter: AtomicU64::new(0),
        })
    }

    pub fn homes(&self) -> &Path {
        &self.homes
    }

    /// A fresh lease: a free uid (if children get their own) and an empty home.
    pub fn lease(&self) -> io::Result<Lease> {
        let Some(range) = &self.uids else {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let home = self
                .homes
                .join(format!("shared-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&home);
            make_dir(&home, None)?;
            make_dir(&home.join("tmp"), None)?;
            return Ok(Lease {
                uid: None,
                home,
                _lock: None,
            });
        };
        let (start, end) = (*range.start(), *range.end());
        let size = end - start + 1;
        let first = {
            let mut c = self.cursor.lock().unwrap_or_else(|p| p.into_inner());
            let first = *c;
            *c = if *c >= end { start } else { *c + 1 };
            first
        };
        for i in 0..size {
            let uid = start + (first - start + i) % size;
            let Some(lock) = try_claim(&self.homes.join(format!("{uid}.lock")))? else {
                continue;
            };
            // Whatever a crashed bridge left behind under this uid goes first.
            kill_all_of(uid);
            let home = self.homes.join(uid.to_string());
            let _ = fs::remove_dir_all(&home);
            make_dir(&home, Some(uid))?;
            make_dir(&home.join("tmp"), Some(uid))?;
            return Ok(Lease {
                uid: Some(uid),
                home,
                _lock: Some(lock),
            });
        }
        Err(io::Error::other(format!(
            "every uid of {start}-{end} is in use (BRIDGE_CHILD_UIDS)"
        )))
    }
}

fn make_dir(path: &Path, owner: Option<u32>) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o700).create(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    if let Some(uid) = owner {
        chown(path, Some(uid), Some(uid))?;
    }
    Ok(())
}

/// The lock file, exclusively locked, or `None` if another child holds it.
fn try_claim(path: &Path) -> io::Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)?;
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        Ok(Some(file))
    } else {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(None)
        } else {
            Err(e)
        }
    }
}

/// Kills every process of `uid`: `kill(-1, SIGKILL)` from a process that has become `uid`
/// (it may signal exactly that uid's processes), then exits through `/bin/true`.
pub fn kill_all_of(uid: u32) {
    let true_bin = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/bin/true");
    let mut cmd = std::process::Command::new(true_bin);
    cmd.uid(uid)
        .gid(uid)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    unsafe {
        cmd.pre_exec(|| {
            libc::kill(-1, libc::SIGKILL);
            Ok(())
        });
    }
    if let Ok(mut child) = cmd.spawn() {
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_lock_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.lock");
        let held = try_claim(&path).unwrap().expect("first claim");
        assert!(try_claim(&path).unwrap().is_none(), "second claim refused");
        drop(held);
        assert!(try_claim(&path).unwrap().is_some(), "free again");
    }

    #[test]
    fn a_symlink_as_the_homes_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::create_dir(&target).unwrap();
        let link = dir.path().join("homes");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(Pool::new(link, None).is_err());
    }

    #[test]
    fn shared_uid_leases_get_distinct_private_homes_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::new(dir.path().join("homes"), None).unwrap();
        let (a, b) = (pool.lease().unwrap(), pool.lease().unwrap());
        assert_ne!(a.home, b.home);
        let mode = fs::metadata(&a.home).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(a.tmp().is_dir());
        let home = a.home.clone();
        drop(a);
        assert!(!home.exists());
    }
}
