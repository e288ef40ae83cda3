//! Configuration derived from a worker's environment once per isolate instead of on every
//! request (the action shell's `Settings` with its parsed credential key ring, the internal
//! hop's signing key).
//!
//! Invariants:
//! - What is kept is built from the environment's vars and secrets alone, on the first request
//!   that asks, and never rebuilt: a worker's environment does not change within an isolate's
//!   life (a new deployment, or a changed var or secret, starts new isolates), so there is
//!   nothing to invalidate. A failure to build (a missing or malformed secret) is kept as well:
//!   every request of that isolate answers the same configuration error, as it would have.
//! - One value per [`PerIsolate`] (a `static`): the workers that share a script share it
//!   (its fetch handler and its Durable Objects read the same environment).
//! - Nothing here holds request data, so nothing of one caller reaches another through it.

use std::sync::OnceLock;

/// A value built once from the environment and kept for the isolate's life.
pub struct PerIsolate<T> {
    value: OnceLock<T>,
}

impl<T> PerIsolate<T> {
    pub const fn new() -> PerIsolate<T> {
        PerIsolate {
            value: OnceLock::new(),
        }
    }

    /// The value, built by `build` on the first call only; later calls never run theirs.
    pub fn get_or_build(&self, build: impl FnOnce() -> T) -> &T {
        self.value.get_or_init(build)
    }
}

impl<T> Default for PerIsolate<T> {
    fn default() -> Self {
        PerIsolate::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::Settings;
    use crate::error::{Error, Result};
    use std::cell::Cell;

    #[test]
    fn settings_are_built_from_the_vars_once_and_later_vars_are_never_read() {
        let kept: PerIsolate<Settings> = PerIsolate::new();
        let reads = Cell::new(0);
        let vars = |allow: &'static str| {
            let reads = &reads;
            move |name: &str| {
                reads.set(reads.get() + 1);
                (name == "ALLOW_PRIVATE_UPSTREAMS").then(|| allow.to_string())
            }
        };
        let first = kept.get_or_build(|| Settings::from_vars(vars("true")));
        assert!(first.allow_private_upstreams);
        let read_once = reads.get();
        assert!(read_once > 0);
        // Another request of the same isolate: the same settings, no var read again.
        let again = kept.get_or_build(|| Settings::from_vars(vars("false")));
        assert!(std::ptr::eq(first, again));
        assert!(again.allow_private_upstreams);
        assert_eq!(reads.get(), read_once);
    }

    #[test]
    fn a_configuration_error_is_kept_like_a_value() {
        let kept: PerIsolate<Result<u32>> = PerIsolate::new();
        let first = kept.get_or_build(|| Err(Error::internal("INTERNAL_SIGNING_KEY is not set")));
        assert_eq!(first.as_ref().unwrap_err().status(), 500);
        assert!(kept.get_or_build(|| Ok(7)).is_err());
    }
}
