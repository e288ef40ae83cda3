//! Compact JWS parsing, the pinned-algorithm check, HS256 and the registered claims.
//!
//! Invariants:
//! - Only compact JWS is accepted: exactly three base64url parts without padding, canonical
//!   encoding, a JSON-object header and payload, at most [`MAX_TOKEN_BYTES`].
//! - The header's `alg` is checked against the configuration before any key is looked at; `none`
//!   is refused whatever the configuration says. Header-supplied keys (`jwk`, `jku`, `x5u`,
//!   `x5c`) are never used; a `crit` header is refused (we implement no extension).
//! - HS256 is verified only with the configured secret, in constant time.
//! - No error message holds the token, the secret or key material; header values an attacker
//!   chose are echoed only when short and plain.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::config::{Algorithm, AuthConfig};
use crate::error::{Error, Result};

/// Real tokens (Supabase, Auth0, Clerk) are 1-2 KiB; anything near this is not a login token.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A compact JWS split and decoded, its signature not yet verified. `Debug` shows the header
/// fields only: with the signature, the parts are the bearer token itself.
pub(crate) struct UnverifiedToken<'a> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for UnverifiedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedToken")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn auth(msg: impl Into<String>) -> Error {
    Error::Auth(msg.into())
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| auth(format!("token {what} is not valid unpadded base64url")))
}

/// An attacker-chosen header value, fit for an error message only if short and plain.
fn printable(value: &str) -> Option<&str> {
    (!value.is_empty()
        && value.len() <= 16
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(value)
}

/// Splits and decodes a compact JWS and checks its header against the pinned algorithms.
pub(crate) fn parse<'a>(token: &'a str, config: &AuthConfig) -> Result<UnverifiedToken<'a>> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(auth(format!(
            "token is longer than the {MAX_TOKEN_BYTES}-byte limit"
        )));
    }
    if token.is_empty() {
        return Err(auth("token is empty"));
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(auth(format!(
            "token is not a compact JWS: expected 3 dot-separated parts, found {}",
            parts.len()
        )));
    }
    let (header_b64, payload_b64, signature_b64) = (parts[0], parts[1], parts[2]);
    let header_bytes = decode_part(header_b64, "header")?;
    let payload = decode_part(payload_b64, "payload")?;
    let signature = decode_part(signature_b64, "signature")?;

    let header: Map<String, Value> = match serde_json::from_slice(&header_bytes) {
        Ok(Value::Object(map)) => map,
        _ => return Err(auth("token header is not a JSON object")),
    };
    let alg_name = match header.get("alg") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(auth("token header alg is not a string")),
        None => return Err(auth("token header has no alg")),
    };
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(auth(
            "token is unsigned (alg none); unsigned tokens are never accepted",
        ));
    }
    let alg = Algorithm::from_jose(alg_name)
        .filter(|a| config.allows(*a))
        .ok_or_else(|| {
            let shown = printable(alg_name).unwrap_or("(unprintable)");
            auth(format!(
                "token signed with alg {shown}; this deployment accepts {}",
                config.accepted_list()
            ))
        })?;
    if header.contains_key("crit") {
        return Err(auth("token header has crit extensions; none are supported"));
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(auth("token header kid is not a string")),
    };
    if signature.is_empty() {
        return Err(auth("token has an empty signature"));
    }
    Ok(UnverifiedToken {
        alg,
        kid,
        signing_input: &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()],
        payload,
        signature,
    })
}

pub(crate) fn bad_signature() -> Error {
    auth("token signature is invalid")
}

/// Constant-time HS256 check with the configured secret (never with a JWKS key).
pub(crate) fn verify_hs256(token: &UnverifiedToken<'_>, secret: &str) -> Result<()> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| Error::internal("HS256 secret is unusable"))?;
    mac.update(token.signing_input);
    mac.verify_slice(&token.signature)
        .map_err(|_| bad_signature())
}

/// Decodes the payload of a token whose signature has been verified.
pub(crate) fn claims(token: &UnverifiedToken<'_>) -> Result<Map<String, Value>> {
    match serde_json::from_slice(&token.payload) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(auth("token payload is not a JSON object")),
    }
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| auth(format!("token {name} claim is not a number of seconds"))),
    }
}

/// `exp` (required), `nbf`, `iat`, `iss` and `aud` as configured, with leeway on the times.
pub(crate) fn validate_registered_claims(
    claims: &Map<String, Value>,
    config: &AuthConfig,
    now_secs: u64,
) -> Result<()> {
    let now = now_secs as f64;
    let leeway = config.leeway_secs as f64;
    let exp = numeric_date(claims, "exp")?.ok_or_else(|| auth("token has no exp claim"))?;
    if now >= exp + leeway {
        return Err(auth("token expired"));
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if now + leeway < nbf {
            return Err(auth("token is not valid yet (nbf is in the future)"));
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if now + leeway < iat {
            return Err(auth("token was issued in the future (iat)"));
        }
    }
    if let Some(expected) = &config.issuer {
        match claims.get("iss") {
            Some(Value::String(iss)) if iss == expected => {}
            None => {
                return Err(auth(format!(
                    "token has no iss claim; this deployment requires issuer {expected}"
                )))
            }
            Some(_) => {
                return Err(auth(format!(
                    "token issuer does not match; this deployment requires issuer {expected}"
                )))
            }
        }
    }
    if let Some(expected) = &config.audience {
        let ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == expected,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expected)),
            _ => false,
        };
        if !ok {
            return Err(auth(format!(
                "token audience does not include {expected}, which this deployment requires"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn config() -> AuthConfig {
        AuthConfig::hs256("0123456789abcdef0123456789abcdef")
    }

    fn parse_err(token: &str) -> String {
        match parse(token, &config()) {
            Err(Error::Auth(m)) => m,
            other => panic!("expected an auth error, got {other:?}"),
        }
    }

    #[test]
    fn auth_parse_splits_the_signing_input_exactly() {
        let h = b64(&json!({"alg": "HS256", "kid": "k"}));
        let p = b64(&json!({"a": 1}));
        let token = format!("{h}.{p}.AAAA");
        let t = parse(&token, &config()).unwrap();
        assert_eq!(t.signing_input, format!("{h}.{p}").as_bytes());
        assert_eq!(t.kid.as_deref(), Some("k"));
        assert_eq!(t.alg, Algorithm::HS256);
        assert_eq!(t.signature, vec![0, 0, 0]);
    }

    #[test]
    fn debug_of_an_unverified_token_shows_its_header_fields_only() {
        let h = b64(&json!({"alg": "HS256", "kid": "k"}));
        let p = b64(&json!({"sub": "user-1"}));
        let token = format!("{h}.{p}.c2lnbmF0dXJl");
        let text = format!("{:?}", parse(&token, &config()).unwrap());
        assert_eq!(
            text,
            r#"UnverifiedToken { alg: HS256, kid: Some("k"), .. }"#
        );
    }

    #[test]
    fn auth_parse_refuses_padding_and_non_canonical_base64() {
        let h = b64(&json!({"alg": "HS256"}));
        let p = b64(&json!({"a": 1}));
        // "AAA=" is padded; "AAB" has non-zero trailing bits.
        assert!(parse_err(&format!("{h}.{p}.AAA=")).contains("signature is not valid"));
        assert!(parse_err(&format!("{h}.{p}.AAB")).contains("signature is not valid"));
        assert!(parse_err(&format!("{h}.{p}.A+/A")).contains("signature is not valid"));
    }

    #[test]
    fn auth_parse_refuses_crit_and_non_string_header_fields() {
        let p = b64(&json!({}));
        let h = b64(&json!({"alg": "HS256", "crit": ["b64"], "b64": false}));
        assert!(parse_err(&format!("{h}.{p}.AAAA")).contains("crit"));
        let h = b64(&json!({"alg": 256}));
        assert!(parse_err(&format!("{h}.{p}.AAAA")).contains("alg is not a string"));
        let h = b64(&json!({"typ": "JWT"}));
        assert!(parse_err(&format!("{h}.{p}.AAAA")).contains("no alg"));
        let h = b64(&json!({"alg": "HS256", "kid": 7}));
        assert!(parse_err(&format!("{h}.{p}.AAAA")).contains("kid is not a string"));
        let h = b64(&json!({"alg": "HS256"}));
        assert!(parse_err(&format!("{h}.{p}.")).contains("empty signature"));
    }

    #[test]
    fn auth_parse_never_echoes_a_crafted_alg() {
        let p = b64(&json!({}));
        let h = b64(&json!({"alg": "<script>alert(1)</script>"}));
        let m = parse_err(&format!("{h}.{p}.AAAA"));
        assert!(!m.contains("script"), "{m}");
        assert!(m.contains("accepts HS256"), "{m}");
    }

    #[test]
    fn auth_registered_claims_apply_leeway_at_the_boundaries() {
        let c = config(); // leeway 30
        let ok =
            |claims: Value, now| validate_registered_claims(claims.as_object().unwrap(), &c, now);
        assert!(ok(json!({"exp": 1000}), 1029).is_ok());
        assert_eq!(
            ok(json!({"exp": 1000}), 1030),
            Err(Error::Auth("token expired".into()))
        );
        assert!(ok(json!({"exp": 9999, "nbf": 1030}), 1000).is_ok());
        assert!(ok(json!({"exp": 9999, "nbf": 1031}), 1000).is_err());
        assert!(ok(json!({"exp": 9999, "iat": 1031}), 1000).is_err());
        assert!(ok(json!({"exp": 1000.5}), 1000).is_ok());
        assert!(ok(json!({"exp": "1000"}), 0).is_err());
        assert!(ok(json!({}), 0).is_err());
    }
}
