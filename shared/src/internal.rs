//! The envelope the gateway sends to an action worker over a Service Binding, and the HMAC
//! that authenticates it.
//!
//! The gateway verifies the caller, serialises the envelope once and signs exactly those
//! bytes; the action worker checks the signature over the bytes it received before it decodes
//! anything, so the identity inside is trusted only because the gateway vouched for it.
//!
//! Invariants:
//! - The signature header is `X-Mcp-Edge-Signature: v1,t=<expiry unix secs>,<64 hex chars>`,
//!   the MAC is HMAC-SHA256 under `INTERNAL_SIGNING_KEY` over `v1.<expiry>.<body bytes>`; the
//!   request id is inside the signed body.
//! - An envelope is accepted only with a well-formed header, a MAC that matches (compared in
//!   constant time), an expiry not in the past and not further ahead than
//!   [`ENVELOPE_TTL_SECS`] + [`CLOCK_SKEW_SECS`]. Everything else is `auth_error` (401).
//! - A missing or short key (under [`MIN_KEY_BYTES`] bytes) is a configuration error
//!   (`internal_error`, 500) on both sides: nothing is ever signed with or accepted under a
//!   weak or absent key.
//! - The key never appears in `Debug` output, errors or log lines.
//! - The request inside is decoded once: an action worker reads the envelope with the request
//!   left as the signed bytes ([`Received`]: `serde_json`'s `RawValue`, a borrowed slice of
//!   the body) and builds its `ActionRequest` straight from them, so the bytes the action
//!   trusts are exactly the bytes the MAC covered, with no `Value` in between.
//! - Pure: the time is passed in; the worker glue lives in the gateway and `adapters::shell`.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::identity::Identity;
use crate::ledger::reservation::Reservation;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-mcp-edge-signature";
/// The secret (on the gateway and every action worker) the MAC is keyed with.
pub const SIGNING_KEY_VAR: &str = "INTERNAL_SIGNING_KEY";
/// Shortest accepted key.
pub const MIN_KEY_BYTES: usize = 32;
/// How long a signed envelope is valid. A Service Binding call arrives within milliseconds.
pub const ENVELOPE_TTL_SECS: u64 = 30;
/// Tolerated clock difference between the gateway and an action worker.
pub const CLOCK_SKEW_SECS: u64 = 5;
/// Largest envelope an action worker reads (the request as re-serialised by the gateway, whose
/// numbers may print longer than they were sent, plus the identity); past it: 413 unread.
pub const MAX_ENVELOPE_BYTES: usize = 8 * crate::api::MAX_BODY_BYTES;
const VERSION: &str = "v1";
const MAC_HEX_LEN: usize = 64;

/// `Debug` shows the request's field names only (a `set_credential` body carries a
/// credential's values). `R` is how the request is held: a `Value` where the gateway builds
/// the envelope, the signed bytes where an action worker reads it ([`Received`]).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<R = Value> {
    pub request_id: String,
    pub identity: Identity,
    /// The validated public request body.
    pub request: R,
    /// The team's configuration version from its gate (`crate::call_target`); `None`: cached
    /// call targets are not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<String>,
    /// The request's W3C `traceparent` (`crate::trace`), which the action worker sends on to
    /// the upstream servers it calls; `None` from a gateway that predates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The `pending` record the team's gate reserved for this `call_tool`
    /// (`crate::ledger::reservation`); `None`: none (call_tool starts the record itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<Reservation>,
}

/// The envelope as an action worker decodes it: everything but the request is decoded, the
/// request is the slice of the signed body it was sent as (for `ActionRequest::parse`). No
/// `Debug`: the request's bytes may carry a credential's values.
pub type Received<'a> = Envelope<&'a RawValue>;

impl<'a> Received<'a> {
    /// The envelope in `body` (whose signature the caller verified), borrowing its request.
    pub fn decode(body: &'a [u8]) -> Result<Received<'a>> {
        serde_json::from_slice(body)
            .map_err(|e| Error::internal(format!("undecodable envelope: {e}")))
    }

    /// The request's bytes, exactly as signed.
    pub fn request_bytes(&self) -> &'a [u8] {
        self.request.get().as_bytes()
    }
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<&String> = self
            .request
            .as_object()
            .map(|body| body.keys().collect())
            .unwrap_or_default();
        f.debug_struct("Envelope")
            .field("request_id", &self.request_id)
            .field("identity", &self.identity)
            .field("request_fields", &fields)
            .field("config_version", &self.config_version)
            .field("traceparent", &self.traceparent)
            .field("reservation", &self.reservation)
            .finish()
    }
}

/// The URL the gateway addresses action workers by (the host is ignored by Service Bindings).
pub fn action_url(action: &str) -> String {
    format!("https://mcp-edge.internal/{action}")
}

/// The HMAC key shared by the gateway and the action workers.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// The key from the `INTERNAL_SIGNING_KEY` secret; absent or short is a configuration
    /// error (500), never a reason to go unsigned.
    pub fn from_secret(secret: Option<&str>) -> Result<SigningKey> {
        match secret.map(str::trim) {
            None | Some("") => Err(Error::internal(format!(
                "{SIGNING_KEY_VAR} is not set; the gateway and every action worker need the same random secret of at least {MIN_KEY_BYTES} bytes"
            ))),
            Some(s) if s.len() < MIN_KEY_BYTES => Err(Error::internal(format!(
                "{SIGNING_KEY_VAR} is {} bytes; it must be at least {MIN_KEY_BYTES}",
                s.len()
            ))),
            Some(s) => Ok(SigningKey(s.as_bytes().to_vec())),
        }
    }

    fn mac(&self, expires_at: u64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(VERSION.as_bytes());
        mac.update(b".");
        mac.update(expires_at.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The header value for `body`, valid for [`ENVELOPE_TTL_SECS`] from `now_secs`.
    pub fn sign(&self, body: &[u8], now_secs: u64) -> String {
        self.sign_until(body, now_secs + ENVELOPE_TTL_SECS)
    }

    /// The header value for `body`, valid until `expires_at` (unix seconds).
    pub fn sign_until(&self, body: &[u8], expires_at: u64) -> String {
        let tag = self.mac(expires_at, body).finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("{VERSION},t={expires_at},{hex}")
    }

    /// Refuses, before any body is read, a request whose header cannot hold a signature.
    pub fn precheck(header: Option<&str>) -> Result<()> {
        let header = header.ok_or_else(|| refused("the envelope is not signed"))?;
        parse_header(header).map(drop)
    }

    /// Accepts `body` only under a genuine, current signature (see the module invariants).
    pub fn verify(&self, header: Option<&str>, body: &[u8], now_secs: u64) -> Result<()> {
        let header = header.ok_or_else(|| refused("the envelope is not signed"))?;
        let (expires_at, tag) = parse_header(header)?;
        // The MAC first: a forger learns nothing about the clock checks.
        self.mac(expires_at, body)
            .verify_slice(&tag)
            .map_err(|_| refused("the envelope's signature does not match"))?;
        if expires_at < now_secs {
            return Err(refused("the envelope's signature has expired"));
        }
        if expires_at > now_secs + ENVELOPE_TTL_SECS + CLOCK_SKEW_SECS {
            return Err(refused("the envelope's expiry is too far ahead"));
        }
        Ok(())
    }
}

const REFUSED: &str = "internal request refused: ";

fn refused(why: &str) -> Error {
    Error::Auth(format!("{REFUSED}{why}"))
}

/// Whether an action worker's answer is its refusal of the envelope (what the gateway turns
/// into a 500: its own signature was refused, so the workers' keys differ).
pub fn is_refused_envelope(status: u16, body: &[u8]) -> bool {
    status == 401
        && serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|b| b.get("message")?.as_str().map(|m| m.starts_with(REFUSED)))
            .unwrap_or(false)
}

/// `v1,t=<digits>,<64 lowercase or uppercase hex>` → (expiry, MAC bytes).
fn parse_header(header: &str) -> Result<(u64, Vec<u8>)> {
    let malformed = || refused("the envelope's signature header is malformed");
    let mut parts = header.trim().split(',');
    let (Some(version), Some(t), Some(hex), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    if version != VERSION {
        return Err(malformed());
    }
    let digits = t.strip_prefix("t=").ok_or_else(malformed)?;
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let expires_at: u64 = digits.parse().map_err(|_| malformed())?;
    if hex.len() != MAC_HEX_LEN {
        return Err(malformed());
    }
    let tag = (0..MAC_HEX_LEN)
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(malformed)?;
    Ok((expires_at, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_292_256;

    fn key() -> SigningKey {
        SigningKey::from_secret(Some("0123456789abcdef0123456789abcdef-gateway")).unwrap()
    }

    fn body() -> Vec<u8> {
        br#"{"request_id":"req-1","identity":{"user_id":"u","team_id":"t","role":"member"},"request":{"action":"list_servers"}}"#.to_vec()
    }

    fn refusal(r: Result<()>) -> String {
        let err = r.unwrap_err();
        assert_eq!(err.status(), 401, "{err:?}");
        assert_eq!(err.code(), "auth_error");
        err.to_string()
    }

    #[test]
    fn debug_of_a_request_and_its_envelope_shows_field_names_not_values() {
        let body = br#"{"action":"set_credential","server_id":"s1","credential_type":"api_key","credential":{"api_key":"key-8a7b6c5d4e"}}"#;
        let request = crate::api::ActionRequest::parse(body).unwrap();
        let envelope = Envelope {
            request_id: "req-1".into(),
            identity: Identity {
                user_id: "u".into(),
                team_id: "t".into(),
                role: crate::identity::Role::Admin,
            },
            request: Value::Object(request.body.clone()),
            config_version: Some("epoch.1".into()),
            traceparent: None,
            reservation: None,
        };
        for text in [format!("{request:?}"), format!("{envelope:?}")] {
            assert!(!text.contains("key-8a7b6c5d4e"), "{text}");
            assert!(
                text.contains("credential") && text.contains("server_id"),
                "{text}"
            );
        }
    }

    fn full_envelope(request: Value) -> Envelope {
        Envelope {
            request_id: "req-7".into(),
            identity: Identity {
                user_id: "u".into(),
                team_id: "t".into(),
                role: crate::identity::Role::Member,
            },
            request,
            config_version: Some("epoch.3".into()),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            reservation: Some(Reservation {
                execution_id: "exec-1".into(),
            }),
        }
    }

    #[test]
    fn an_action_worker_reads_the_request_as_the_signed_bytes_and_decodes_it_once() {
        let request = serde_json::json!({"action": "call_tool", "server_id": "s1",
            "tool_name": "echo", "parameters": {"message": "x\"y", "n": [1, 2.5, null]}});
        let sent = full_envelope(request.clone());
        let body = serde_json::to_vec(&sent).unwrap();
        let k = key();
        k.verify(Some(&k.sign(&body, NOW)), &body, NOW).unwrap();

        let received = Received::decode(&body).unwrap();
        // The request's bytes are a slice of the signed body, exactly as the gateway wrote them.
        let bytes = received.request_bytes();
        assert_eq!(bytes, serde_json::to_vec(&request).unwrap().as_slice());
        let offset = bytes.as_ptr() as usize - body.as_ptr() as usize;
        assert_eq!(&body[offset..offset + bytes.len()], bytes);
        // Everything else arrives as sent.
        assert_eq!(
            (
                &received.request_id,
                &received.identity,
                &received.config_version,
                &received.traceparent,
                &received.reservation
            ),
            (
                &sent.request_id,
                &sent.identity,
                &sent.config_version,
                &sent.traceparent,
                &sent.reservation
            )
        );
        // One parse builds the action's request, the same as the gateway's.
        let parsed = crate::api::ActionRequest::parse(bytes).unwrap();
        assert_eq!(parsed.action, crate::api::Action::CallTool);
        assert_eq!(Value::Object(parsed.body), request);
    }

    #[test]
    fn an_envelope_without_the_optional_fields_or_with_a_malformed_request_is_told_apart() {
        let plain = body();
        let received = Received::decode(&plain).unwrap();
        assert_eq!(received.request_bytes(), br#"{"action":"list_servers"}"#);
        assert_eq!(
            (
                received.config_version,
                received.traceparent,
                received.reservation
            ),
            (None, None, None)
        );
        // Not JSON, or no request at all: the envelope itself is undecodable (500) …
        for bad in [
            &b"{"[..],
            br#"{"request_id":"r","identity":{"user_id":"u","team_id":"t","role":"member"}}"#,
        ] {
            let Err(err) = Received::decode(bad) else {
                panic!("decoded {bad:?}")
            };
            assert_eq!(err.status(), 500, "{err:?}");
        }
        // … while a request the action would refuse decodes, for the action to refuse (400).
        let odd = br#"{"request_id":"r","identity":{"user_id":"u","team_id":"t","role":"member"},"request":{"action":"no_such"}}"#;
        let received = Received::decode(odd).unwrap();
        let err = crate::api::ActionRequest::parse(received.request_bytes()).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn a_signed_body_verifies_until_it_expires() {
        let k = key();
        let header = k.sign(&body(), NOW);
        assert!(header.starts_with(&format!("v1,t={},", NOW + ENVELOPE_TTL_SECS)));
        assert!(k.verify(Some(&header), &body(), NOW).is_ok());
        assert!(k
            .verify(Some(&header), &body(), NOW + ENVELOPE_TTL_SECS)
            .is_ok());
        let replayed = refusal(k.verify(Some(&header), &body(), NOW + ENVELOPE_TTL_SECS + 1));
        assert!(replayed.contains("expired"), "{replayed}");
    }

    #[test]
    fn a_tampered_body_or_expiry_is_refused() {
        let k = key();
        let header = k.sign(&body(), NOW);
        let other = body()
            .iter()
            .map(|b| if *b == b'm' { b'n' } else { *b })
            .collect::<Vec<u8>>();
        assert!(refusal(k.verify(Some(&header), &other, NOW)).contains("does not match"));
        let mut extended = body();
        extended.push(b' ');
        refusal(k.verify(Some(&header), &extended, NOW));
        // Moving the expiry forward without the key breaks the MAC.
        let later = header.replacen(
            &format!("t={}", NOW + ENVELOPE_TTL_SECS),
            &format!("t={}", NOW + ENVELOPE_TTL_SECS + 10),
            1,
        );
        assert_ne!(later, header);
        assert!(refusal(k.verify(Some(&later), &body(), NOW + 35)).contains("does not match"));
    }

    #[test]
    fn another_key_is_refused() {
        let forged = SigningKey::from_secret(Some("an-attacker-key-of-32-bytes-or-more!!"))
            .unwrap()
            .sign(&body(), NOW);
        assert!(refusal(key().verify(Some(&forged), &body(), NOW)).contains("does not match"));
    }

    #[test]
    fn the_gateway_recognises_a_refusal_of_its_envelope() {
        let refusal = refused("x").to_body("-").to_string();
        assert!(is_refused_envelope(401, refusal.as_bytes()));
        assert!(!is_refused_envelope(403, refusal.as_bytes()));
        let other = Error::Auth("token expired".into()).to_body("-").to_string();
        assert!(!is_refused_envelope(401, other.as_bytes()));
        assert!(!is_refused_envelope(401, b"not json"));
    }

    #[test]
    fn an_expiry_too_far_ahead_is_refused_even_when_genuine() {
        let k = key();
        let header = k.sign_until(&body(), NOW + 3600);
        assert!(refusal(k.verify(Some(&header), &body(), NOW)).contains("too far ahead"));
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        let k = key();
        assert!(refusal(k.verify(None, &body(), NOW)).contains("not signed"));
        assert!(refusal(SigningKey::precheck(None)).contains("not signed"));
        assert!(SigningKey::precheck(Some(&k.sign(&body(), NOW))).is_ok());
        let good = k.sign(&body(), NOW);
        let hex = good.rsplit(',').next().unwrap().to_string();
        let t = NOW + ENVELOPE_TTL_SECS;
        let malformed = [
            String::new(),
            "garbage".into(),
            format!("v2,t={t},{hex}"),
            format!("v1,{t},{hex}"),
            format!("v1,t=,{hex}"),
            format!("v1,t=-5,{hex}"),
            format!("v1,t=99999999999999999999,{hex}"),
            format!("v1,t={t}"),
            format!("v1,t={t},{}", &hex[..62]),
            format!("v1,t={t},{hex}00"),
            format!("v1,t={t},{}zz", &hex[..62]),
            format!("v1,t={t},{hex},extra"),
            format!("v1,t={t},{}é", &hex[..62]),
        ];
        for header in malformed {
            let why = refusal(k.verify(Some(&header), &body(), NOW));
            assert!(why.contains("malformed"), "{header}: {why}");
            refusal(SigningKey::precheck(Some(&header)));
        }
        // Case and surrounding whitespace of a genuine header do not matter.
        let upper = format!("v1,t={t},{}", hex.to_uppercase());
        assert!(k.verify(Some(&upper), &body(), NOW).is_ok());
        assert!(k.verify(Some(&format!(" {good} ")), &body(), NOW).is_ok());
    }

    #[test]
    fn missing_or_short_keys_are_configuration_errors_and_debug_hides_the_key() {
        let short = "k".repeat(MIN_KEY_BYTES - 1);
        for secret in [None, Some(""), Some("   "), Some(short.as_str())] {
            let err = SigningKey::from_secret(secret).unwrap_err();
            assert_eq!(err.status(), 500, "{secret:?}");
            assert_eq!(err.code(), "internal_error");
        }
        let secret = "0123456789abcdef0123456789abcdef-gateway";
        assert!(!format!("{:?}", key()).contains(secret));
        assert!(!SigningKey::from_secret(Some("short"))
            .unwrap_err()
            .to_string()
            .contains("short"));
    }
}
