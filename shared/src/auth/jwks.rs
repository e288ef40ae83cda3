//! RS256/ES256 verification against the identity provider's JWKS, fetched once and kept in KV.
//!
//! Invariants:
//! - Only `RSA` keys verify RS256 and only `EC`/`P-256` keys verify ES256; a key that states an
//!   `alg` must state the token's, a key that states `use` must say `sig`. Symmetric (`oct`)
//!   keys in a JWKS are never used: HMAC secrets come only from the configuration.
//! - RSA keys under 2048 bits are refused. ES256 signatures are raw `r || s` (64 bytes).
//! - The set is cached under [`cache_key`] for [`JWKS_TTL_SECS`]. A `kid` the cached set lacks
//!   refetches it once, bypassing the cache, then fails; such refetches happen at most once a
//!   [`REFETCH_INTERVAL_SECS`] per URL, so tokens with made-up `kid`s cannot hammer the provider.
//! - A fetch or cache failure never lets a token through; a cache failure only costs a fetch.

use p256::ecdsa::signature::Verifier as _;
use rsa::pkcs1v15;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use serde_json::Value;
use sha2::Sha256;

use super::config::Algorithm;
use super::jwt::{bad_signature, UnverifiedToken};
use crate::cache::Cache;
use crate::error::{Error, Result};
use mcp_client::http::{HttpClient, HttpRequest, Method};

pub const JWKS_TTL_SECS: u64 = 3600;
/// The KV minimum TTL: also how often an unknown `kid` may trigger a refetch.
pub const REFETCH_INTERVAL_SECS: u64 = crate::cache::MIN_TTL_SECS;
/// A JWKS is a few KiB; more than this is not one.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
pub const MIN_RSA_BITS: usize = 2048;

/// KV key of the cached JWKS of `url`.
pub fn cache_key(url: &str) -> String {
    format!("jwks:{url}")
}

/// KV key marking that `url` was refetched for an unknown `kid` recently.
pub fn refetch_marker_key(url: &str) -> String {
    format!("jwks-refetch:{url}")
}

fn upstream(msg: impl Into<String>) -> Error {
    Error::Upstream(msg.into())
}

/// The `keys` of a JWKS document; `None` if the text is not a JWKS.
fn parse_jwks(text: &str) -> Option<Vec<Value>> {
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(mut map) => match map.remove("keys")? {
            Value::Array(keys) => Some(keys),
            _ => None,
        },
        _ => None,
    }
}

async fn fetch<H: HttpClient, C: Cache>(url: &str, http: &H, cache: &C) -> Result<Vec<Value>> {
    let request = HttpRequest::new(Method::Get, url).header("accept", "application/json");
    let mut response = http.send(request).await.map_err(|e| {
        upstream(format!(
            "could not fetch the identity provider's JWKS: {}",
            Error::from(e).public_message()
        ))
    })?;
    if response.status != 200 {
        return Err(upstream(format!(
            "the identity provider's JWKS URL answered HTTP {}",
            response.status
        )));
    }
    let body = response.read_to_end(MAX_JWKS_BYTES).await.map_err(|_| {
        upstream(format!(
            "the identity provider's JWKS is larger than {MAX_JWKS_BYTES} bytes"
        ))
    })?;
    let text = String::from_utf8(body)
        .map_err(|_| upstream("the identity provider's JWKS is not UTF-8 text"))?;
    let keys = parse_jwks(&text)
        .ok_or_else(|| upstream("the identity provider's JWKS URL did not answer a JWK set"))?;
    // The cache is never the source of truth: failing to fill it costs a fetch, nothing more.
    let _ = cache.put(&cache_key(url), &text, JWKS_TTL_SECS).await;
    Ok(keys)
}

/// The cached key set, or a fetched one. The flag tells whether it came from the cache.
async fn load<H: HttpClient, C: Cache>(
    url: &str,
    http: &H,
    cache: &C,
) -> Result<(Vec<Value>, bool)> {
    if let Ok(Some(text)) = cache.get(&cache_key(url)).await {
        if let Some(keys) = parse_jwks(&text) {
            return Ok((keys, true));
        }
    }
    Ok((fetch(url, http, cache).await?, false))
}

/// Whether this deployment may refetch `url` now, recording that it does.
async fn may_refetch<C: Cache>(url: &str, cache: &C) -> bool {
    let marker = refetch_marker_key(url);
    if let Ok(Some(_)) = cache.get(&marker).await {
        return false;
    }
    let _ = cache.put(&marker, "1", REFETCH_INTERVAL_SECS).await;
    true
}

enum Selection<'k> {
    /// Keys fit for the token's alg (and kid, if it has one).
    Keys(Vec<&'k Value>),
    /// The set has no key for the token's kid (or, without kid, none for its alg).
    Missing,
    /// The kid names a key that is not for the token's alg.
    WrongAlg(String),
}

fn str_field<'v>(key: &'v Value, name: &str) -> Option<&'v str> {
    key.get(name).and_then(Value::as_str)
}

/// `Err(description)` of why `key` cannot verify `alg`.
fn fits(key: &Value, alg: Algorithm) -> std::result::Result<(), String> {
    let kty = str_field(key, "kty").unwrap_or("(none)");
    let (want_kty, want_crv) = match alg {
        Algorithm::RS256 => ("RSA", None),
        Algorithm::ES256 => ("EC", Some("P-256")),
        Algorithm::HS256 => return Err("HS256 never uses JWKS keys".into()),
    };
    if kty != want_kty {
        let shown = match kty {
            "RSA" => "an RSA key",
            "EC" => "an EC key",
            "oct" => "a symmetric (oct) key",
            "OKP" => "an OKP key",
            _ => "a key of unknown type",
        };
        return Err(format!("its kid names {shown}"));
    }
    if want_crv.is_some() && str_field(key, "crv") != want_crv {
        return Err("its kid names an EC key that is not on curve P-256".into());
    }
    if let Some(key_alg) = key.get("alg") {
        if key_alg.as_str() != Some(alg.as_str()) {
            return Err("its kid names a key published for another algorithm".into());
        }
    }
    if let Some(usage) = key.get("use") {
        if usage.as_str() != Some("sig") {
            return Err("its kid names a key not meant for signatures".into());
        }
    }
    if let Some(ops) = key.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        if !verifies {
            return Err("its kid names a key not allowed to verify".into());
        }
    }
    Ok(())
}

fn select<'k>(keys: &'k [Value], alg: Algorithm, kid: Option<&str>) -> Selection<'k> {
    match kid {
        Some(kid) => {
            let named: Vec<&Value> = keys
                .iter()
                .filter(|k| str_field(k, "kid") == Some(kid))
                .collect();
            if named.is_empty() {
                return Selection::Missing;
            }
            let fit: Vec<&Value> = named
                .iter()
                .copied()
                .filter(|k| fits(k, alg).is_ok())
                .collect();
            if fit.is_empty() {
                let why = fits(named[0], alg).err().unwrap_or_default();
                return Selection::WrongAlg(why);
            }
            Selection::Keys(fit)
        }
        None => {
            let fit: Vec<&Value> = keys.iter().filter(|k| fits(k, alg).is_ok()).collect();
            if fit.is_empty() {
                Selection::Missing
            } else {
                Selection::Keys(fit)
            }
        }
    }
}

fn b64_field(key: &Value, name: &str) -> Result<Vec<u8>> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let text = str_field(key, name).ok_or_else(|| {
        upstream(format!(
            "a key in the identity provider's JWKS has no {name}"
        ))
    })?;
    URL_SAFE_NO_PAD.decode(text).map_err(|_| {
        upstream(format!(
            "a key in the identity provider's JWKS has a malformed {name}"
        ))
    })
}

fn verify_rs256(key: &Value, token: &UnverifiedToken<'_>) -> Result<()> {
    let n = BigUint::from_bytes_be(&b64_field(key, "n")?);
    let e = BigUint::from_bytes_be(&b64_field(key, "e")?);
    let public = RsaPublicKey::new(n, e)
        .map_err(|_| upstream("an RSA key in the identity provider's JWKS is invalid"))?;
    if public.size() * 8 < MIN_RSA_BITS {
        return Err(upstream(format!(
            "an RSA key in the identity provider's JWKS is shorter than {MIN_RSA_BITS} bits"
        )));
    }
    let signature =
        pkcs1v15::Signature::try_from(token.signature.as_slice()).map_err(|_| bad_signature())?;
    pkcs1v15::VerifyingKey::<Sha256>::new(public)
        .verify(token.signing_input, &signature)
        .map_err(|_| bad_signature())
}

fn verify_es256(key: &Value, token: &UnverifiedToken<'_>) -> Result<()> {
    let x = b64_field(key, "x")?;
    let y = b64_field(key, "y")?;
    if x.len() != 32 || y.len() != 32 {
        return Err(upstream(
            "a P-256 key in the identity provider's JWKS has malformed coordinates",
        ));
    }
    let point = p256::EncodedPoint::from_affine_coordinates(
        p256::FieldBytes::from_slice(&x),
        p256::FieldBytes::from_slice(&y),
        false,
    );
    let public = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
        .map_err(|_| upstream("a P-256 key in the identity provider's JWKS is not on the curve"))?;
    // JWS carries r || s, 32 bytes each (RFC 7518 §3.4), never DER.
    if token.signature.len() != 64 {
        return Err(bad_signature());
    }
    let signature =
        p256::ecdsa::Signature::from_slice(&token.signature).map_err(|_| bad_signature())?;
    public
        .verify(token.signing_input, &signature)
        .map_err(|_| bad_signature())
}

fn verify_with(key: &Value, token: &UnverifiedToken<'_>) -> Result<()> {
    match token.alg {
        Algorithm::RS256 => verify_rs256(key, token),
        Algorithm::ES256 => verify_es256(key, token),
        Algorithm::HS256 => Err(Error::internal("HS256 token routed to JWKS verification")),
    }
}

fn verify_selected(keys: &[&Value], token: &UnverifiedToken<'_>) -> Result<()> {
    let mut last = bad_signature();
    for key in keys {
        match verify_with(key, token) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Verifies an RS256/ES256 token's signature with the key its header names.
pub(crate) async fn verify<H: HttpClient, C: Cache>(
    token: &UnverifiedToken<'_>,
    url: &str,
    http: &H,
    cache: &C,
) -> Result<()> {
    let kid = token.kid.as_deref();
    let (mut keys, mut from_cache) = load(url, http, cache).await?;
    loop {
        match select(&keys, token.alg, kid) {
            Selection::Keys(fit) => return verify_selected(&fit, token),
            Selection::WrongAlg(why) => {
                return Err(Error::Auth(format!(
                    "token signed with alg {} but {why}",
                    token.alg
                )))
            }
            Selection::Missing if from_cache && may_refetch(url, cache).await => {
                keys = fetch(url, http, cache).await?;
                from_cache = false;
            }
            Selection::Missing => {
                return Err(Error::Auth(match kid {
                    Some(_) => "token key id (kid) is not in the identity provider's JWKS".into(),
                    None => format!(
                        "token has no key id (kid) and the identity provider's JWKS has no {} key",
                        token.alg
                    ),
                }))
            }
        }
    }
}
