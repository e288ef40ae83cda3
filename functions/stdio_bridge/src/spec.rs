//! The launch spec that arrives with each request (`X-Bridge-Command`) and the allow-list.
//!
//! The contract itself (the spec's format and checks, the env-name rules, the command forms,
//! the exact-match allow-list, the redaction of env values) is core's `shared::stdio_spec`,
//! the one copy the workers that write specs use too. This module adds what only the bridge
//! does: finding the executable to spawn.
//!
//! Invariants:
//! - a command runs only if the allow-list names it: a bare name is resolved on the bridge's
//!   own search path (never the spec's `PATH`) and spawned by absolute path; a command with a
//!   `/` must be absolute and equal an allow-list entry exactly, so `/tmp/x/npx` does not pass
//!   as `npx`.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use shared::stdio_spec::{AllowedCommands, CommandForm};
pub use shared::stdio_spec::{LaunchSpec, SpecError, MAX_SPEC_HEADER_BYTES};

/// Which executables the bridge may start.
#[derive(Clone, Debug)]
pub struct AllowList {
    entries: AllowedCommands,
}

impl AllowList {
    pub fn new(entries: Vec<String>) -> Self {
        AllowList {
            entries: AllowedCommands::new(entries),
        }
    }

    /// The absolute path to spawn for `command`, or why it may not run.
    pub fn resolve(&self, command: &str, search_path: &OsStr) -> Result<PathBuf, SpecError> {
        if !self.entries.allows(command) {
            return Err(SpecError::NotAllowed(command.to_string()));
        }
        match CommandForm::of(command) {
            // A relative path would depend on the bridge's working directory.
            CommandForm::Relative => return Err(SpecError::NotAllowed(command.to_string())),
            CommandForm::Absolute => {
                let p = PathBuf::from(command);
                return if is_executable(&p) {
                    Ok(p)
                } else {
                    Err(SpecError::NotFound(command.to_string()))
                };
            }
            CommandForm::Bare => {}
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
