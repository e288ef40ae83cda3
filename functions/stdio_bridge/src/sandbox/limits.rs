//! Per-child resource limits, set with `setrlimit` in the child between `fork` and `exec`
//! (so they hold for the server and everything it starts).
//!
//! Invariants: every limit is finite; soft and hard limits are equal except CPU time, whose
//! hard limit is a few seconds above the soft one (SIGXCPU first, then SIGKILL); memory is
//! `RLIMIT_DATA` (heap and private writable mappings), not `RLIMIT_AS`, so runtimes that
//! reserve large address ranges (V8, wasm) still start; `RLIMIT_NPROC` counts the processes
//! of the child's own uid, which no one else uses.

use std::io;

/// What each child may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_DATA`, MiB.
    pub memory_mb: u64,
    /// `RLIMIT_CPU` soft limit, seconds of CPU time (the hard limit is 5 s more).
    pub cpu_secs: u64,
    /// `RLIMIT_NPROC`: processes and threads of the child's uid.
    pub processes: u64,
    /// `RLIMIT_NOFILE`.
    pub open_files: u64,
    /// `RLIMIT_FSIZE`, MiB: the largest file it may write.
    pub file_size_mb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 1024,
            cpu_secs: 3600,
            processes: 256,
            open_files: 1024,
            file_size_mb: 1024,
        }
    }
}

const MIB: u64 = 1024 * 1024;

impl Limits {
    /// `(resource, soft, hard)` for `setrlimit`. `with_nproc` is false when the child shares
    /// the bridge's uid (the count would include the bridge and every other child).
    pub fn rlimits(&self, with_nproc: bool) -> Vec<(libc::__rlimit_resource_t, u64, u64)> {
        let mut out = vec![
            (
                libc::RLIMIT_DATA,
                self.memory_mb * MIB,
                self.memory_mb * MIB,
            ),
            (libc::RLIMIT_CPU, self.cpu_secs, self.cpu_secs + 5),
            (libc::RLIMIT_NOFILE, self.open_files, self.open_files),
            (
                libc::RLIMIT_FSIZE,
                self.file_size_mb * MIB,
                self.file_size_mb * MIB,
            ),
            (libc::RLIMIT_CORE, 0, 0),
        ];
        if with_nproc {
            out.push((libc::RLIMIT_NPROC, self.processes, self.processes));
        }
        out
    }

    /// As JSON for `/health` (numbers only; nothing secret).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "memory_mb": self.memory_mb,
            "cpu_secs": self.cpu_secs,
            "processes": self.processes,
            "open_files": self.open_files,
            "file_size_mb": self.file_size_mb,
        })
    }
}

/// Sets `limits` on the calling process. Only async-signal-safe calls: runs after `fork`.
pub fn apply(limits: &[(libc::__rlimit_resource_t, u64, u64)]) -> io::Result<()> {
    for &(resource, soft, hard) in limits {
        let rl = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        if unsafe { libc::setrlimit(resource, &rl) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_finite_and_nproc_only_with_an_own_uid() {
        let l = Limits::default();
        let with = l.rlimits(true);
        assert!(with
            .iter()
            .all(|(_, s, h)| *s <= *h && *h < libc::RLIM_INFINITY));
        assert!(with.iter().any(|(r, _, _)| *r == libc::RLIMIT_NPROC));
        assert!(!l
            .rlimits(false)
            .iter()
            .any(|(r, _, _)| *r == libc::RLIMIT_NPROC));
    }
}
