//! The worker's bindings by name, in one place: the D1 database (`DB`), the KV namespace
//! (`CACHE`), vars and secrets, Durable Object namespaces and Service Bindings. A missing
//! binding is an internal error naming it (a deployment fault, never the caller's).
//!
//! The settings and the internal hop's signing key are derived from the vars and secrets once
//! per isolate (`shared::per_isolate`: the environment does not change within an isolate's
//! life, so nothing invalidates them); everything else is read when asked.

use shared::actions::Settings;
use shared::internal::{SigningKey, SIGNING_KEY_VAR};
use shared::per_isolate::PerIsolate;
use shared::Result;
use worker::{Env, Fetcher, ObjectNamespace};

use crate::d1::D1Store;
use crate::error::WorkerResultExt;
use crate::fetch::FetchHttp;
use crate::kv::KvCache;

/// The D1 database binding (every worker's wrangler.toml).
pub const DB_BINDING: &str = "DB";
/// The KV namespace binding (every worker's wrangler.toml).
pub const CACHE_BINDING: &str = "CACHE";

/// A worker's (or Durable Object's) environment, read by name.
#[derive(Clone, Copy)]
pub struct Bindings<'a> {
    env: &'a Env,
}

impl<'a> Bindings<'a> {
    pub fn new(env: &'a Env) -> Self {
        Bindings { env }
    }
    /// The environment itself, for what has no helper here.
    pub fn env(&self) -> &'a Env {
        self.env
    }
    /// The D1 database as the core's [`shared::db::Database`].
    pub fn db(&self) -> Result<D1Store> {
        let db = self.env.d1(DB_BINDING).or_internal("binding DB")?;
        Ok(D1Store::new(db))
    }
    /// The KV namespace as the core's [`shared::cache::Cache`].
    pub fn cache(&self) -> Result<KvCache> {
        let kv = self.env.kv(CACHE_BINDING).or_internal("binding CACHE")?;
        Ok(KvCache::new(kv))
    }
    /// Outbound HTTP (and the stdio bridge's Durable Object, when bound).
    pub fn http(&self) -> FetchHttp {
        FetchHttp::for_env(self.env)
    }
    /// A var (or secret: both are read by name) as a string; `None` when unset.
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.var(name).ok().map(|v| v.to_string())
    }
    /// The internal hop's key (secret `INTERNAL_SIGNING_KEY`); missing or short is an internal
    /// error, never a reason to go unsigned. Read once per isolate.
    pub fn signing_key(&self) -> Result<&'static SigningKey> {
        static KEY: PerIsolate<Result<SigningKey>> = PerIsolate::new();
        KEY.get_or_build(|| SigningKey::from_secret(self.var(SIGNING_KEY_VAR).as_deref()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The deployment settings the actions honour (the credential key ring parsed), from the
    /// vars and secrets, once per isolate.
    pub fn settings(&self) -> &'static Settings {
        static SETTINGS: PerIsolate<Settings> = PerIsolate::new();
        SETTINGS.get_or_build(|| Settings::from_vars(|name| self.var(name)))
    }
    /// A Durable Object namespace.
    pub fn durable_object(&self, name: &str) -> Result<ObjectNamespace> {
        self.env
            .durable_object(name)
            .or_internal(&format!("binding {name}"))
    }
    /// A Service Binding.
    pub fn service(&self, name: &str) -> Result<Fetcher> {
        self.env
            .service(name)
            .or_internal(&format!("binding {name}"))
    }
}
