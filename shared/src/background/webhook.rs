//! Completion webhooks: a team may register one URL that receives the final event of each of
//! its background executions, signed, retried with backoff until it answers 2xx.
//!
//! Invariants:
//! - The URL passes the outbound policy (`crate::ssrf`: no private, loopback, link-local or
//!   metadata targets unless the deployment allows them) and is `https` (plain `http` only
//!   where private targets are allowed: local development).
//! - The secret (32 random bytes, `whsec_` + hex) is shown once, by `set_webhook`; at rest it
//!   is sealed with the credential key ring, bound to the team ([`aad`]).
//! - A delivery is `POST` of [`payload`] with `X-Mcp-Edge-Webhook-Signature: t=<unix
//!   seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` and `X-Mcp-Edge-Delivery:
//!   <execution id>` (the same on every retry: receivers deduplicate by it). A non-2xx answer
//!   or no answer is retried after [`backoff_ms`], at most [`MAX_ATTEMPTS`] times.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::ledger::Record;

use super::journal::{Event, Journal};

pub const SIGNATURE_HEADER: &str = "X-Mcp-Edge-Webhook-Signature";
pub const DELIVERY_HEADER: &str = "X-Mcp-Edge-Delivery";
/// Attempts per execution at most.
pub const MAX_ATTEMPTS: u32 = 8;

/// Checks a webhook URL (see the module's invariants).
pub fn check_url(raw: &str, allow_private: bool) -> Result<String> {
    let url = crate::ssrf::check_upstream_url(raw, allow_private).map_err(|e| {
        Error::validation_with(
            e.public_message().replace("server url", "webhook url"),
            json!({ "field": "url" }),
        )
    })?;
    if url.scheme() != "https" && !allow_private {
        return Err(Error::validation_with(
            "webhook url must use https",
            json!({ "field": "url" }),
        ));
    }
    Ok(url.to_string())
}

/// A fresh secret: `whsec_` and 64 hex digits.
pub fn new_secret() -> String {
    use aes_gcm::aead::rand_core::RngCore;
    let mut bytes = [0u8; 32];
    aes_gcm::aead::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("whsec_{hex}")
}

/// What the sealed secret is bound to.
pub fn aad(team_id: &str) -> Vec<u8> {
    format!("mcp-edge webhook secret v1|{team_id}").into_bytes()
}

/// The signature header's value for `body` sent at `timestamp_secs`.
pub fn sign(secret: &str, timestamp_secs: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp_secs},v1={hex}")
}

/// The wait before attempt `attempt + 1` (after `attempt` failures): 1 s, doubling, at most
/// a minute.
pub fn backoff_ms(attempt: u32) -> u64 {
    1_000u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(60_000)
}

/// The delivered body: the execution's summary and its final event.
pub fn payload(record: &Record, journal: &Journal, last: &Event) -> Value {
    json!({
        "type": "execution.finished",
        "team_id": record.team_id,
        "execution": super::summary(record, journal),
        "event": last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Known answer computed independently (Python's hmac and hashlib).
        let sig = sign("whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            sig,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(sign("whsec_other", 1_700_000_000, br#"{"a":1}"#), sig);
        assert_ne!(sign("whsec_test", 1_700_000_001, br#"{"a":1}"#), sig);
    }

    #[test]
    fn urls_must_be_public_https_unless_private_targets_are_allowed() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://hooks.example.com/x", false).is_err());
        assert!(check_url("https://127.0.0.1/x", false).is_err());
        assert!(check_url("https://169.254.169.254/latest", false).is_err());
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_url("ftp://example.com", true).is_err());
    }

    #[test]
    fn secrets_are_fresh_and_backoff_doubles_to_a_minute() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64 && a != b);
        let waits: Vec<u64> = (1..=9).map(backoff_ms).collect();
        assert_eq!(
            waits,
            vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
    }
}
