//! Server credentials at rest and in flight (DESIGN.md §4): AES-256-GCM under a key ring from
//! Worker secrets, one sealed value per server in `mcp_server_credentials`.
//!
//! Invariants:
//! - Plaintext exists only inside the workers that hold the key ring (`admin` seals it,
//!   `call_tool` and `sync_tools` open it into upstream headers). It never reaches a response,
//!   a log line, an error message, an execution row or a cache entry.
//! - A sealed value is bound (AES-GCM associated data) to its team, server, credential type,
//!   header name and expiry: moving it to another row or editing those columns in D1 makes it
//!   fail to open, like tampering with the ciphertext does.
//! - Failing to open is failing closed: the caller refuses the request with
//!   [`cannot_decrypt`], and nothing goes upstream.

pub mod keyring;
pub mod material;

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
}

impl Binding<'_> {
    /// The associated data: length-prefixed fields, so no two bindings share an encoding.
    pub fn aad(&self) -> Vec<u8> {
        let mut out = b"mcp-edge/credential/v1".to_vec();
        for field in [
            self.team_id,
            self.server_id,
            self.credential_type,
            self.header_name.unwrap_or(""),
            self.expires_at.unwrap_or(""),
        ] {
            out.extend_from_slice(&(field.len() as u32).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }
}

/// Why a stored credential could not be used, for the log (never for the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    NoKeys(KeyRingError),
    Open(OpenError),
    NotMaterial,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::NoKeys(e) => write!(f, "{e}"),
            Unusable::Open(e) => write!(f, "{e}"),
            Unusable::NotMaterial => f.write_str("opened, but is not a credential of its type"),
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
    let plaintext = ring
        .open(key_id, value, &binding.aad())
        .map_err(Unusable::Open)?;
    let material = Material::from_plaintext(&plaintext).ok_or(Unusable::NotMaterial)?;
    if material.credential_type() != binding.credential_type {
        return Err(Unusable::NotMaterial);
    }
    Ok(material)
}

/// The error an admin sees when a stored credential does not open.
pub fn cannot_decrypt(server_name: &str) -> Error {
    Error::Conflict(format!(
        "credential for server '{server_name}' cannot be decrypted with the configured keys; \
         set it again with set_credential"
    ))
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
        }
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
        ] {
            assert_eq!(
                open(Ok(&r), &other, &sealed.key_id, &sealed.value),
                Err(Unusable::Open(OpenError::Rejected))
            );
        }
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
