//! `worker::Error` (and KV's error) into [`shared::Error`], with what failed in the message.
//!
//! `impl From<worker::Error> for shared::Error` would break the orphan rule (both types are
//! foreign here, and the core must not know `worker`), so this extension trait is the one place
//! the conversion is written: `env.d1("DB").or_internal("binding DB")?`. The messages carry
//! the runtime's error text, which holds no secret (bindings and storage errors name bindings,
//! keys and SQL, never values of secrets).

use std::fmt::Display;

use shared::{Error, Result};

/// Converts a binding, storage or runtime result into the core's `Result`.
pub trait WorkerResultExt<T> {
    /// An internal error (500): our binding, storage or runtime failed. `what` says what was
    /// being done, e.g. `"binding DB"`.
    fn or_internal(self, what: &str) -> Result<T>;
    /// An upstream error (502): reaching or reading an upstream server failed.
    fn or_upstream(self, what: &str) -> Result<T>;
}

/// The runtime's errors: `worker::Error` and `worker::kv::KvError`.
pub trait RuntimeError: Display {}
impl RuntimeError for worker::Error {}
impl RuntimeError for worker::kv::KvError {}

impl<T, E: RuntimeError> WorkerResultExt<T> for std::result::Result<T, E> {
    fn or_internal(self, what: &str) -> Result<T> {
        self.map_err(|e| Error::internal(format!("{what}: {e}")))
    }
    fn or_upstream(self, what: &str) -> Result<T> {
        self.map_err(|e| Error::Upstream(format!("{what}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> worker::Result<()> {
        Err(worker::Error::RustError("no such binding".into()))
    }

    #[test]
    fn runtime_failures_become_internal_errors_saying_what_failed() {
        let err = failed().or_internal("binding DB").unwrap_err();
        assert_eq!(err, Error::Internal("binding DB: no such binding".into()));
        assert_eq!((err.status(), err.code()), (500, "internal_error"));
    }

    #[test]
    fn upstream_failures_become_upstream_errors_saying_what_failed() {
        let err = failed()
            .or_upstream("could not reach the server")
            .unwrap_err();
        assert_eq!(
            err,
            Error::Upstream("could not reach the server: no such binding".into())
        );
        assert_eq!((err.status(), err.code()), (502, "upstream_error"));
    }

    #[test]
    fn successes_pass_through() {
        let ok: worker::Result<u8> = Ok(7);
        assert_eq!(ok.or_internal("anything"), Ok(7));
    }
}
