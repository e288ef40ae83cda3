//! JWT verification for the gateway (DESIGN.md §4): a bearer token in, the caller's
//! [`Identity`](crate::identity::Identity) out.
//!
//! Order of checks: size and shape → header `alg` against the pinned list → signature (HS256
//! with the configured secret; RS256/ES256 with the JWKS key named by `kid`) → `exp`/`nbf`/`iat`
//! with leeway → `iss`/`aud` when configured → the user claim (team and role only in claim
//! mode; by default they come from `team_members`, see `membership`). Every rejection is
//! `Error::Auth` (401) with a message that names what is wrong and never holds the token, the
//! secret or key material; a JWKS the provider fails to serve is `Error::Upstream`, a bad
//! configuration `Error::Internal`.

mod claims;
mod config;
mod jwks;
mod jwt;

pub use claims::{lookup as lookup_claim, ClaimedTeam, Verified, MAX_ID_LEN};
pub(crate) use config::is_loopback_url;
pub use config::{
    Algorithm, AuthConfig, IdentitySource, DEFAULT_LEEWAY_SECS, DEFAULT_USER_CLAIM,
    INSECURE_CLAIMS_SETTING, MAX_LEEWAY_SECS, MIN_HS256_SECRET_BYTES,
};
pub use jwks::{
    cache_key as jwks_cache_key, refetch_marker_key as jwks_refetch_marker_key, JWKS_TTL_SECS,
    MAX_JWKS_BYTES, MIN_RSA_BITS, REFETCH_INTERVAL_SECS,
};
pub use jwt::MAX_TOKEN_BYTES;

use crate::cache::Cache;
use crate::error::{Error, Result};
use mcp_client::http::HttpClient;

/// Verifies a bearer token (the part after "Bearer ") and answers who the caller is (and, in
/// claim mode, the team and role the provider wrote).
pub async fn authenticate<H: HttpClient, C: Cache>(
    token: &str,
    config: &AuthConfig,
    now_secs: u64,
    http: &H,
    cache: &C,
) -> Result<Verified> {
    config.validate()?;
    let unverified = jwt::parse(token, config)?;
    if unverified.alg.uses_jwks() {
        let url = config
            .jwks_url
            .as_deref()
            .ok_or_else(|| Error::internal("JWT_JWKS_URL is not set"))?;
        jwks::verify(&unverified, url, http, cache).await?;
    } else {
        let secret = config
            .hs256_secret
            .as_deref()
            .ok_or_else(|| Error::internal("JWT_SECRET is not set"))?;
        jwt::verify_hs256(&unverified, secret)?;
    }
    let claims = jwt::claims(&unverified)?;
    jwt::validate_registered_claims(&claims, config, now_secs)?;
    claims::identity(&claims, config)
}

/// Extracts the token from an Authorization header value (`Bearer <t>`, case-insensitive
/// scheme); `Error::Auth` if absent/malformed.
pub fn bearer_token(header: Option<&str>) -> Result<&str> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            Error::Auth(
                "missing Authorization header; send \"Authorization: Bearer <token>\"".into(),
            )
        })?;
    let malformed = || Error::Auth("Authorization header must be \"Bearer <token>\"".into());
    let (scheme, rest) = header.split_once([' ', '\t']).ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed());
    }
    let token = rest.trim();
    if token.is_empty() || token.contains(|c: char| c.is_whitespace()) {
        return Err(malformed());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_bearer_token_takes_the_credential_after_a_case_insensitive_scheme() {
        assert_eq!(
            bearer_token(Some("Bearer abc.def.ghi")).unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(bearer_token(Some("bearer  abc ")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("BEARER\tabc")).unwrap(), "abc");
    }

    #[test]
    fn auth_bearer_token_rejects_absent_and_malformed_headers() {
        for header in [
            None,
            Some(""),
            Some("   "),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic dXNlcjpwYXNz"),
            Some("Bearer a b"),
            Some("Bearerabc"),
            Some("abc.def.ghi"),
        ] {
            let err = bearer_token(header).unwrap_err();
            assert_eq!(err.code(), "auth_error", "{header:?}");
        }
        let err = bearer_token(Some("Basic c2VjcmV0")).unwrap_err();
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
    }
}
