//! The bridge's bearer token: read once at start, then kept out of every place a child could
//! read it.
//!
//! Invariants:
//! - the token comes from `BRIDGE_TOKEN_FILE` (a file no other user may read: mode
//!   `0600`/`0400`) or, for compatibility, `BRIDGE_TOKEN`; never both;
//! - [`scrub_env`] runs before any thread starts: it overwrites the value of `BRIDGE_TOKEN` in
//!   the process's original environment block (what `/proc/<pid>/environ` shows) and removes
//!   the variable;
//! - [`not_dumpable`] makes the bridge non-dumpable, so its `/proc/<pid>/` files (environ, mem,
//!   fds) belong to root and no child can read them even when it shares the bridge's uid.

use std::ffi::CStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Reads the token file: trimmed, non-empty, not readable by group or others.
pub fn read_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("BRIDGE_TOKEN_FILE {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "BRIDGE_TOKEN_FILE {} is readable by other users (mode {:o}): chmod 600 it",
            path.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("BRIDGE_TOKEN_FILE {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("BRIDGE_TOKEN_FILE {} is empty", path.display()));
    }
    Ok(token.to_string())
}

/// Overwrites `BRIDGE_TOKEN`'s value where the kernel shows it (`/proc/self/environ`) and
/// removes it from the environment. Call it before any other thread exists.
pub fn scrub_env() {
    const NAME: &CStr = c"BRIDGE_TOKEN";
    // SAFETY: single-threaded (the caller's contract); getenv points into the environment
    // block, which is writable, and we write only within the value's own bytes.
    unsafe {
        let value = libc::getenv(NAME.as_ptr());
        if !value.is_null() {
            let len = libc::strlen(value);
            std::ptr::write_bytes(value, b'x', len);
        }
        std::env::remove_var("BRIDGE_TOKEN");
    }
}

/// `prctl(PR_SET_DUMPABLE, 0)`: the bridge's `/proc/<pid>/` becomes root's.
pub fn not_dumpable() -> std::io::Result<()> {
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "tok-123\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_file(&path)
            .unwrap_err()
            .contains("readable by other users"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_file(&path).unwrap(), "tok-123");
        std::fs::write(&path, " \n").unwrap();
        assert!(read_file(&path).is_err());
    }
}
