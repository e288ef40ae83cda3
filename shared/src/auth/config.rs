//! Deployment settings of JWT verification, read from the worker's environment.
//!
//! Invariants:
//! - A configuration that [`AuthConfig::validate`] accepts can verify every algorithm it allows:
//!   HS256 has a secret of at least 256 bits, RS256/ES256 have a JWKS URL.
//! - `none` can never be allowed, and the secret never appears in `Debug` output or in errors.
//! - Team and role come from our `team_members` table ([`IdentitySource::Membership`], the
//!   default). Claim mode ([`IdentitySource::Claims`], when `JWT_TEAM_CLAIM` is set) never reads
//!   a claim the user can write: a path under Supabase's `user_metadata` is refused unless the
//!   loudly named `INSECURE_ALLOW_USER_EDITABLE_CLAIMS=true` is set, and even then refused when
//!   the configuration looks like production (a JWKS or issuer URL on a non-loopback host).

use std::fmt;

use crate::error::{Error, Result};

/// The JWS algorithms mcp-edge can verify. Anything else (including `none`) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HS256,
    RS256,
    ES256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256];

    /// The JOSE name, as it appears in a token header's `alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }

    /// Exact (case-sensitive) JOSE name, as in a token header.
    pub fn from_jose(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Whether the keys of this algorithm come from a JWKS (asymmetric) rather than the secret.
    pub fn uses_jwks(self) -> bool {
        matches!(self, Algorithm::RS256 | Algorithm::ES256)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub const DEFAULT_LEEWAY_SECS: u64 = 30;
/// More clock skew than this is a misconfiguration, not skew.
pub const MAX_LEEWAY_SECS: u64 = 300;
/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
pub const MIN_HS256_SECRET_BYTES: usize = 32;
pub const DEFAULT_USER_CLAIM: &str = "sub";
/// The claim object Supabase lets every signed-in user edit (`auth.updateUser({data})`).
pub const USER_EDITABLE_CLAIM_ROOT: &str = "user_metadata";
/// The override that lets claim mode read `user_metadata` (local demos only).
pub const INSECURE_CLAIMS_SETTING: &str = "INSECURE_ALLOW_USER_EDITABLE_CLAIMS";

/// Where a caller's team and role come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// `team_members` rows (the default): the token only proves who the user is.
    Membership,
    /// Claims written by the identity provider itself (e.g. `app_metadata.team_id`).
    Claims {
        team_claim: String,
        role_claim: String,
    },
}

#[derive(Clone)]
pub struct AuthConfig {
    /// Pinned: a token whose header `alg` is not listed is rejected (`none` always is).
    pub algorithms: Vec<Algorithm>,
    /// Required when HS256 is allowed.
    pub hs256_secret: Option<String>,
    /// Required when RS256/ES256 is allowed.
    pub jwks_url: Option<String>,
    /// Checked (exact match) when `Some`.
    pub issuer: Option<String>,
    /// Checked when `Some`; the token's `aud` may be a string or an array of strings.
    pub audience: Option<String>,
    pub leeway_secs: u64,
    /// Claim paths: dotted (`user_metadata.team_id`); a top-level claim whose name is the whole
    /// path (`https://example.com/team`) wins over the dotted walk.
    pub user_claim: String,
    /// Team and role: our membership table, or (claim mode) claims the user cannot write.
    pub identity_source: IdentitySource,
}

/// Hand-written so the HS256 secret can never reach a log line through `{:?}`.
impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("algorithms", &self.algorithms)
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwks_url", &self.jwks_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .field("user_claim", &self.user_claim)
            .field("identity_source", &self.identity_source)
            .finish()
    }
}

impl AuthConfig {
    /// HS256 with a shared secret and every other setting at its default.
    pub fn hs256(secret: impl Into<String>) -> AuthConfig {
        AuthConfig {
            hs256_secret: Some(secret.into()),
            ..AuthConfig::with_algorithms(vec![Algorithm::HS256])
        }
    }

    /// Asymmetric algorithms against a JWKS URL, every other setting at its default.
    pub fn jwks(algorithms: Vec<Algorithm>, jwks_url: impl Into<String>) -> AuthConfig {
        AuthConfig {
            jwks_url: Some(jwks_url.into()),
            ..AuthConfig::with_algorithms(algorithms)
        }
    }

    fn with_algorithms(algorithms: Vec<Algorithm>) -> AuthConfig {
        AuthConfig {
            algorithms,
            hs256_secret: None,
            jwks_url: None,
            issuer: None,
            audience: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            user_claim: DEFAULT_USER_CLAIM.into(),
            identity_source: IdentitySource::Membership,
        }
    }

    /// Builds from string settings as a worker reads them from env vars; unknown alg names or a
    /// missing secret/JWKS url for an allowed alg are configuration errors (`Error::Internal`).
    ///
    /// Variables: `JWT_ALGORITHMS` (comma list, default `HS256`), `JWT_SECRET`, `JWT_JWKS_URL`,
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_LEEWAY_SECS` (default 30, at most 300),
    /// `JWT_USER_CLAIM`; `JWT_TEAM_CLAIM` + `JWT_ROLE_CLAIM` (claim mode, both or neither;
    /// unset: membership from D1), `INSECURE_ALLOW_USER_EDITABLE_CLAIMS`. Empty values count as
    /// unset.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<AuthConfig> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let algorithms = match get("JWT_ALGORITHMS") {
            None => vec![Algorithm::HS256],
            Some(list) => parse_algorithms(&list)?,
        };
        let leeway_secs = match get("JWT_LEEWAY_SECS") {
            None => DEFAULT_LEEWAY_SECS,
            Some(v) => v.parse::<u64>().map_err(|_| {
                Error::internal("JWT_LEEWAY_SECS must be a whole number of seconds")
            })?,
        };
        let config =
            AuthConfig {
                algorithms,
                hs256_secret: get("JWT_SECRET"),
                jwks_url: get("JWT_JWKS_URL"),
                issuer: get("JWT_ISSUER"),
                audience: get("JWT_AUDIENCE"),
                leeway_secs,
                user_claim: get("JWT_USER_CLAIM").unwrap_or_else(|| DEFAULT_USER_CLAIM.into()),
                identity_source: match (get("JWT_TEAM_CLAIM"), get("JWT_ROLE_CLAIM")) {
                    (None, None) => IdentitySource::Membership,
                    (Some(team_claim), Some(role_claim)) => IdentitySource::Claims {
                        team_claim,
                        role_claim,
                    },
                    _ => return Err(Error::internal(
                        "JWT_TEAM_CLAIM and JWT_ROLE_CLAIM are set together (claim mode) or not \
                         at all (membership from the team_members table)",
                    )),
                },
            };
        config.validate()?;
        let insecure = get(INSECURE_CLAIMS_SETTING).is_some_and(|v| v == "true");
        config.check_claims_are_not_user_editable(insecure)?;
        Ok(config)
    }

    /// Claim mode must not read what the user can write. With the insecure override, local
    /// demos may; a production-looking configuration never may.
    pub fn check_claims_are_not_user_editable(&self, insecure_override: bool) -> Result<()> {
        let IdentitySource::Claims {
            team_claim,
            role_claim,
        } = &self.identity_source
        else {
            return Ok(());
        };
        let editable = [
            ("JWT_TEAM_CLAIM", team_claim),
            ("JWT_ROLE_CLAIM", role_claim),
        ]
        .into_iter()
        .find(|(_, path)| {
            path.split('.').next() == Some(USER_EDITABLE_CLAIM_ROOT)
                || path.starts_with(USER_EDITABLE_CLAIM_ROOT)
        });
        let Some((name, path)) = editable else {
            return Ok(());
        };
        let why = format!(
            "{name}={path} reads a claim every signed-in user can edit for themselves \
             (Supabase user_metadata), so any user could name any team and role; use a claim \
             the identity provider writes (app_metadata.*, a custom claim), or unset \
             JWT_TEAM_CLAIM/JWT_ROLE_CLAIM to take membership from the team_members table"
        );
        if !insecure_override {
            return Err(Error::internal(why));
        }
        if self.looks_like_production() {
            return Err(Error::internal(format!(
                "{why}; {INSECURE_CLAIMS_SETTING} is refused because JWT_JWKS_URL/JWT_ISSUER \
                 point at a non-loopback host"
            )));
        }
        Ok(())
    }

    /// A JWKS or issuer URL on a host other than loopback: a real identity provider.
    pub fn looks_like_production(&self) -> bool {
        [&self.jwks_url, &self.issuer]
            .into_iter()
            .flatten()
            .any(|url| !is_loopback_url(url))
    }

    /// Checks the invariants of the module doc; `authenticate` refuses an invalid config too.
    pub fn validate(&self) -> Result<()> {
        if self.algorithms.is_empty() {
            return Err(Error::internal("JWT_ALGORITHMS allows no algorithm"));
        }
        if self.allows(Algorithm::HS256) {
            match &self.hs256_secret {
                None => {
                    return Err(Error::internal(
                        "JWT_ALGORITHMS allows HS256 but JWT_SECRET is not set",
                    ))
                }
                Some(s) if s.len() < MIN_HS256_SECRET_BYTES => {
                    return Err(Error::internal(format!(
                        "JWT_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes for HS256"
                    )))
                }
                Some(_) => {}
            }
        }
        if self.algorithms.iter().any(|a| a.uses_jwks()) {
            let Some(url) = &self.jwks_url else {
                return Err(Error::internal(format!(
                    "JWT_ALGORITHMS allows {} but JWT_JWKS_URL is not set",
                    self.algorithms
                        .iter()
                        .filter(|a| a.uses_jwks())
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join("/")
                )));
            };
            // A prefix check, not `url::Url`: its IDNA tables would cost the gateway ~75 KB gzipped.
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if host.is_none_or(|h| h.is_empty() || h.starts_with('/')) {
                return Err(Error::internal("JWT_JWKS_URL must be an http(s) URL"));
            }
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(Error::internal(format!(
                "JWT_LEEWAY_SECS must be at most {MAX_LEEWAY_SECS}"
            )));
        }
        let mut paths = vec![("JWT_USER_CLAIM", &self.user_claim)];
        if let IdentitySource::Claims {
            team_claim,
            role_claim,
        } = &self.identity_source
        {
            paths.push(("JWT_TEAM_CLAIM", team_claim));
            paths.push(("JWT_ROLE_CLAIM", role_claim));
        }
        for (name, path) in paths {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(Error::internal(format!(
                    "{name} must be a claim name or a dotted path such as user_metadata.team_id"
                )));
            }
        }
        Ok(())
    }

    pub fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }

    /// "RS256" or "HS256, RS256": for error messages.
    pub(crate) fn accepted_list(&self) -> String {
        self.algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `http(s)://localhost…`, `127.x.x.x` or `[::1]` (a prefix check: see `validate`).
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_string()
    };
    let host = host.to_ascii_lowercase();
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

fn parse_algorithms(list: &str) -> Result<Vec<Algorithm>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("none") {
            return Err(Error::internal(
                "JWT_ALGORITHMS: \"none\" (unsigned tokens) can never be allowed",
            ));
        }
        let alg = Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::internal(format!(
                    "JWT_ALGORITHMS: unknown algorithm \"{name}\"; supported: HS256, RS256, ES256"
                ))
            })?;
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    if out.is_empty() {
        return Err(Error::internal("JWT_ALGORITHMS allows no algorithm"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn settings(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn internal_message(result: Result<AuthConfig>) -> String {
        match result {
            Err(Error::Internal(m)) => m,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn auth_config_defaults_to_hs256_with_membership_from_our_table() {
        let c = AuthConfig::from_settings(settings(&[("JWT_SECRET", SECRET)])).unwrap();
        assert_eq!(c.algorithms, vec![Algorithm::HS256]);
        assert_eq!(c.leeway_secs, 30);
        assert_eq!(c.user_claim, "sub");
        assert_eq!(c.identity_source, IdentitySource::Membership);
        assert_eq!(c.issuer, None);
        assert_eq!(c.audience, None);
    }

    #[test]
    fn auth_config_reads_every_setting() {
        let c = AuthConfig::from_settings(settings(&[
            ("JWT_ALGORITHMS", " rs256, ES256 ,RS256"),
            ("JWT_JWKS_URL", "https://idp.example/.well-known/jwks.json"),
            ("JWT_ISSUER", "https://idp.example/"),
            ("JWT_AUDIENCE", "authenticated"),
            ("JWT_LEEWAY_SECS", "5"),
            ("JWT_USER_CLAIM", "email"),
            ("JWT_TEAM_CLAIM", "app_metadata.team"),
            ("JWT_ROLE_CLAIM", "app_metadata.role"),
            ("JWT_SECRET", ""),
        ]))
        .unwrap();
        assert_eq!(c.algorithms, vec![Algorithm::RS256, Algorithm::ES256]);
        assert_eq!(c.hs256_secret, None);
        assert_eq!(c.issuer.as_deref(), Some("https://idp.example/"));
        assert_eq!(c.audience.as_deref(), Some("authenticated"));
        assert_eq!(c.leeway_secs, 5);
        assert_eq!(c.user_claim, "email");
        assert_eq!(
            c.identity_source,
            IdentitySource::Claims {
                team_claim: "app_metadata.team".into(),
                role_claim: "app_metadata.role".into()
            }
        );
    }

    #[test]
    fn auth_config_refuses_user_editable_claims_unless_a_local_demo_overrides_loudly() {
        let editable = [
            ("JWT_SECRET", SECRET),
            ("JWT_TEAM_CLAIM", "user_metadata.team_id"),
            ("JWT_ROLE_CLAIM", "user_metadata.role"),
        ];
        let m = internal_message(AuthConfig::from_settings(settings(&editable)));
        assert!(m.contains("every signed-in user can edit"), "{m}");
        let role_only = [
            ("JWT_SECRET", SECRET),
            ("JWT_TEAM_CLAIM", "app_metadata.team_id"),
            ("JWT_ROLE_CLAIM", "user_metadata.role"),
        ];
        let m = internal_message(AuthConfig::from_settings(settings(&role_only)));
        assert!(m.contains("JWT_ROLE_CLAIM"), "{m}");
        let mut demo = editable.to_vec();
        demo.push((INSECURE_CLAIMS_SETTING, "true"));
        assert!(AuthConfig::from_settings(settings(&demo)).is_ok());
        let mut local_issuer = demo.clone();
        local_issuer.push(("JWT_ISSUER", "http://127.0.0.1:54321/auth/v1"));
        assert!(AuthConfig::from_settings(settings(&local_issuer)).is_ok());
        let mut production = demo.clone();
        production.push(("JWT_ISSUER", "https://abc.supabase.co/auth/v1"));
        let m = internal_message(AuthConfig::from_settings(settings(&production)));
        assert!(m.contains("non-loopback"), "{m}");
        let half = [
            ("JWT_SECRET", SECRET),
            ("JWT_TEAM_CLAIM", "app_metadata.team"),
        ];
        let m = internal_message(AuthConfig::from_settings(settings(&half)));
        assert!(m.contains("together"), "{m}");
    }

    #[test]
    fn auth_config_rejects_unknown_and_none_algorithms() {
        let m = internal_message(AuthConfig::from_settings(settings(&[
            ("JWT_ALGORITHMS", "HS512"),
            ("JWT_SECRET", SECRET),
        ])));
        assert!(m.contains("unknown algorithm \"HS512\""), "{m}");
        let m = internal_message(AuthConfig::from_settings(settings(&[
            ("JWT_ALGORITHMS", "HS256,none"),
            ("JWT_SECRET", SECRET),
        ])));
        assert!(m.contains("none"), "{m}");
        let m = internal_message(AuthConfig::from_settings(settings(&[(
            "JWT_ALGORITHMS",
            " , ",
        )])));
        assert!(m.contains("no algorithm"), "{m}");
    }

    #[test]
    fn auth_config_requires_the_key_source_of_each_allowed_algorithm() {
        let m = internal_message(AuthConfig::from_settings(settings(&[])));
        assert!(m.contains("JWT_SECRET is not set"), "{m}");
        let m = internal_message(AuthConfig::from_settings(settings(&[(
            "JWT_SECRET",
            "short",
        )])));
        assert!(m.contains("at least 32 bytes"), "{m}");
        assert!(!m.contains("short"), "the secret must not be echoed: {m}");
        let m = internal_message(AuthConfig::from_settings(settings(&[
            ("JWT_ALGORITHMS", "HS256,ES256"),
            ("JWT_SECRET", SECRET),
        ])));
        assert!(m.contains("ES256 but JWT_JWKS_URL is not set"), "{m}");
        let m = internal_message(AuthConfig::from_settings(settings(&[
            ("JWT_ALGORITHMS", "RS256"),
            ("JWT_JWKS_URL", "file:///etc/passwd"),
        ])));
        assert!(m.contains("http(s) URL"), "{m}");
        for url in ["https://", "https:///jwks", "idp.example/jwks"] {
            let m = internal_message(AuthConfig::from_settings(settings(&[
                ("JWT_ALGORITHMS", "ES256"),
                ("JWT_JWKS_URL", url),
            ])));
            assert!(m.contains("http(s) URL"), "{url}: {m}");
        }
    }

    #[test]
    fn auth_config_rejects_bad_leeway_and_claim_paths() {
        let m = internal_message(AuthConfig::from_settings(settings(&[
            ("JWT_SECRET", SECRET),
            ("JWT_LEEWAY_SECS", "-1"),
        ])));
        assert!(m.contains("JWT_LEEWAY_SECS"), "{m}");
        let m = internal_message(AuthConfig::from_settings(settings(&[
            ("JWT_SECRET", SECRET),
            ("JWT_LEEWAY_SECS", "86400"),
        ])));
        assert!(m.contains("at most 300"), "{m}");
        let m = internal_message(AuthConfig::from_settings(settings(&[
            ("JWT_SECRET", SECRET),
            ("JWT_TEAM_CLAIM", "app_metadata..team"),
            ("JWT_ROLE_CLAIM", "app_metadata.role"),
        ])));
        assert!(m.contains("JWT_TEAM_CLAIM"), "{m}");
    }

    #[test]
    fn auth_config_debug_redacts_the_secret() {
        let text = format!("{:?}", AuthConfig::hs256(SECRET));
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
