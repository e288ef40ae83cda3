//! Server credentials at rest and in flight (DESIGN.md §4): AES-256-GCM under a key ring from
//! Worker secrets, one sealed value per server in `mcp_server_credentials`.
//!
//! Invariants:
//! - Plaintext exists only inside the workers that hold the key ring (`admin` seals it,
//!   `call_tool` and `sync_tools` open it into upstream headers). It never reaches a response,
//!   a log line, an error message, an execution row or a cache entry.
//! - A sealed value is bound (AES-GCM associated data) to its team, server, credential type,
//!   header name, expiry and destination (the origin of the server's URL, or a stdio server's
//!   command line; see [`destination`]): moving it to another row, editing those columns in D1
//!   or pointing the server somewhere else makes it fail to open, like tampering with the
//!   ciphertext does. A credential therefore only ever goes where it was set for.
//! - Failing to open is failing closed: the caller refuses the request with
//!   [`cannot_decrypt`] (or [`legacy`] for a value sealed before destinations were bound), and
//!   nothing goes upstream.
//! - Values sealed with the first format (`v1`, no destination) are never used: they open for
//!   no one, and the error says to set the credential again.

pub mod destination;
pub mod keyring;
pub mod material;

pub use destination::destination_of;
pub use keyring::{KeyRing, KeyRingError, OpenError, Sealed};
pub use material::{parse_iso_ms, parse_new, Material, NewCredential, CREDENTIAL_TYPES};

use crate::error::Error;

/// The attributes a sealed value is bound to, as stored beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    pub team_id: &'a str,
    pub server_id: &'a str,
    pub credential_type: &'a str,
    pub header_name: Option<&'a str>,
    pub expires_at: Option<&'a str>,
    /// Where the credential may be sent ([`destination_of`] the server's current config).
    pub destination: &'a str,
}

impl Binding<'_> {
    /// The associated data: length-prefixed fields, so no two bindings share an encoding.
    pub fn aad(&self) -> Vec<u8> {
        let mut out = self.encoded(b"mcp-edge/credential/v2");
        push_field(&mut out, self.destination);
        out
    }

    /// The first format's associated data (no destination): only to recognise such values
    /// and say so, never to use them.
    fn aad_v1(&self) -> Vec<u8> {
        self.encoded(b"mcp-edge/credential/v1")
    }

    /// The fields both formats bind, after the format's prefix.
    fn encoded(&self, prefix: &[u8]) -> Vec<u8> {
        let mut out = prefix.to_vec();
        for field in [
            self.team_id,
            self.server_id,
            self.credential_type,
            self.header_name.unwrap_or(""),
            self.expires_at.unwrap_or(""),
        ] {
            push_field(&mut out, field);
        }
        out
    }
}

fn push_field(out: &mut Vec<u8>, field: &str) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field.as_bytes());
}

/// Why a stored credential could not be used, for the log (never for the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    NoKeys(KeyRingError),
    Open(OpenError),
    NotMaterial,
    /// Sealed by the first format, before credentials were bound to a destination.
    Legacy,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::NoKeys(e) => write!(f, "{e}"),
            Unusable::Open(e) => write!(f, "{e}"),
            Unusable::NotMaterial => f.write_str("opened, but is not a credential of its type"),
            Unusable::Legacy => f.write_str(
                "sealed in the v1 format (not bound to a destination); it must be set again",
            ),
        }
    }
}

/// Seals a credential for the row `binding` describes.
pub fn seal(ring: &KeyRing, binding: &Binding<'_>, material: &Material) -> Sealed {
    ring.seal(&binding.aad(), &material.to_plaintext())
}

/// Opens a stored credential; any failure is [`Unusable`].
pub fn open(
    ring: Result<&KeyRing, &KeyRingError>,
    binding: &Binding<'_>,
    key_id: &str,
    value: &str,
) -> Result<Material, Unusable> {
    let ring = ring.map_err(|e| Unusable::NoKeys(e.clone()))?;
    let plaintext = match ring.open(key_id, value, &binding.aad()) {
        Ok(plaintext) => plaintext,
        Err(OpenError::Rejected) if ring.open(key_id, value, &binding.aad_v1()).is_ok() => {
            return Err(Unusable::Legacy)
        }
        Err(e) => return Err(Unusable::Open(e)),
    };
    let material = Material::from_plaintext(&plaintext).ok_or(Unusable::NotMaterial)?;
    if material.credential_type() != binding.credential_type {
        return Err(Unusable::NotMaterial);
    }
    Ok(material)
}

/// The error an admin sees when a stored credential does not open: its destination no longer
/// matches the server's config, it was tampered with, or the keys are not those it was sealed
/// with (one message: the ciphertext cannot tell these apart).
pub fn cannot_decrypt(server_name: &str) -> Error {
    Error::Conflict(format!(
        "credential for server '{server_name}' cannot be opened for the server's current \
         address with the configured keys (it was set for another address, altered, or sealed \
         with a key this deployment does not have); nothing was sent; set it again with \
         set_credential"
    ))
}

/// The error for a value sealed in the first format (not bound to a destination).
pub fn legacy(server_name: &str) -> Error {
    Error::Conflict(format!(
        "credential for server '{server_name}' was stored before credentials were bound to their \
         server's address and is not used; nothing was sent; set it again with set_credential"
    ))
}

/// The error for [`Unusable`] `why` of server `server_name`'s credential.
pub fn unusable_error(server_name: &str, why: &Unusable) -> Error {
    match why {
        Unusable::Legacy => legacy(server_name),
        _ => cannot_decrypt(server_name),
    }
}

/// The error for an OAuth token past its expiry.
pub fn expired(server_name: &str, expires_at: &str) -> Error {
    Error::Conflict(format!(
        "the OAuth token for server '{server_name}' expired at {expires_at}; an admin must set \
         a fresh token with set_credential"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::collections::BTreeMap;

    fn ring() -> KeyRing {
        let key = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
        KeyRing::from_settings(Some(&format!("k1:{key}")), None).unwrap()
    }

    fn binding<'a>(server: &'a str, expires_at: Option<&'a str>) -> Binding<'a> {
        Binding {
            team_id: "team-a",
            server_id: server,
            credential_type: "oauth_token",
            header_name: None,
            expires_at,
            destination: "origin:https://api.example.com:443",
        }
    }

    #[test]
    fn debug_of_new_sealed_and_stored_credentials_shows_no_value() {
        let fields = serde_json::json!({"access_token": "tok-plain-7c6b5a49"});
        let new = parse_new("oauth_token", fields.as_object().unwrap(), 0).unwrap();
        let sealed = seal(&ring(), &binding("srv-1", None), &new.material);
        let stored = crate::repo::credentials::StoredCredential {
            id: "cred-1".into(),
            server_id: "srv-1".into(),
            team_id: "team-a".into(),
            credential_type: "oauth_token".into(),
            encrypted_value: sealed.value.clone(),
            key_id: sealed.key_id.clone(),
            header_name: None,
            expires_at: None,
            last_used_at: None,
            created_at: String::new(),
            updated_at: String::new(),
        };
        let shown = [
            format!("{new:?}"),
            format!("{sealed:?}"),
            format!("{stored:?}"),
        ];
        for text in &shown {
            assert!(!text.contains("tok-plain-7c6b5a49"), "{text}");
            assert!(!text.contains(&sealed.value), "{text}");
        }
        assert!(shown[1].contains("k1") && shown[2].contains("cred-1"));
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_own_row() {
        let r = ring();
        let m = Material::OauthToken {
            access_token: "tok".into(),
        };
        let b = binding("srv-1", Some("2030-01-01T00:00:00.000Z"));
        let sealed = seal(&r, &b, &m);
        assert_eq!(open(Ok(&r), &b, &sealed.key_id, &sealed.value), Ok(m));
        for other in [
            binding("srv-2", Some("2030-01-01T00:00:00.000Z")),
            binding("srv-1", Some("2031-01-01T00:00:00.000Z")),
            binding("srv-1", None),
            Binding {
                destination: "origin:https://evil.example.com:443",
                ..b
            },
            Binding {
                destination: "origin:http://api.example.com:80",
                ..b
            },
        ] {
            assert_eq!(
                open(Ok(&r), &other, &sealed.key_id, &sealed.value),
                Err(Unusable::Open(OpenError::Rejected))
            );
        }
    }

    #[test]
    fn a_value_sealed_before_destinations_were_bound_is_recognised_and_never_opened() {
        let r = ring();
        let b = binding("srv-1", None);
        let m = Material::Bearer {
            token: "tok".into(),
        };
        let old = r.seal(&b.aad_v1(), &m.to_plaintext());
        assert_eq!(
            open(Ok(&r), &b, &old.key_id, &old.value),
            Err(Unusable::Legacy)
        );
        let err = unusable_error("alpha", &Unusable::Legacy);
        assert_eq!(err.code(), "conflict");
        assert!(err
            .public_message()
            .contains("set it again with set_credential"));
        // A v1 value of another row is just a value that does not open.
        let other = binding("srv-2", None);
        assert_eq!(
            open(Ok(&r), &other, &old.key_id, &old.value),
            Err(Unusable::Open(OpenError::Rejected))
        );
    }

    #[test]
    fn a_value_of_another_type_is_unusable() {
        let r = ring();
        let mut b = binding("srv-1", None);
        b.credential_type = "bearer";
        let sealed = seal(
            &r,
            &b,
            &Material::CustomHeaders {
                headers: BTreeMap::from([("X-A".into(), "1".into())]),
            },
        );
        assert_eq!(
            open(Ok(&r), &b, &sealed.key_id, &sealed.value),
            Err(Unusable::NotMaterial)
        );
    }

    #[test]
    fn without_keys_nothing_opens() {
        let err = KeyRingError::NotConfigured;
        assert_eq!(
            open(Err(&err), &binding("s", None), "k1", "x"),
            Err(Unusable::NoKeys(KeyRingError::NotConfigured))
        );
    }
}
