//! The credential key ring: AES-256 keys by id, parsed from the Worker secrets
//! `CREDENTIAL_KEYS` (`"k2:<base64 of 32 bytes>,k1:<base64>"`) and `CREDENTIAL_KEY_ID` (the id
//! new values are written with; default: the first key listed).
//!
//! Invariants:
//! - Every value is sealed with a fresh random 96-bit nonce under the write key, and stored as
//!   `base64(nonce || ciphertext || tag)` beside the id of the key that sealed it.
//! - Any key in the ring opens values sealed with it: rotation adds a new key first and keeps
//!   the old ones until every value has been re-sealed.
//! - Opening fails closed: an unknown key id, a malformed value, a wrong key, tampered bytes
//!   or different associated data are all one [`OpenError`], never partial plaintext.
//! - No key material appears in `Debug`, errors or messages.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_KEY_ID_LEN: usize = 32;

/// Why the ring could not be built; the message names the setting, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRingError {
    NotConfigured,
    Invalid(String),
}

impl std::fmt::Display for KeyRingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyRingError::NotConfigured => f.write_str("CREDENTIAL_KEYS is not set on this worker"),
            KeyRingError::Invalid(why) => write!(f, "CREDENTIAL_KEYS is invalid: {why}"),
        }
    }
}

/// Why a stored value did not open. Callers give one message for all of them; the variant is
/// for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    UnknownKeyId,
    Malformed,
    Rejected,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OpenError::UnknownKeyId => "sealed with a key id that is not in the ring",
            OpenError::Malformed => "stored value is not base64(nonce || ciphertext || tag)",
            OpenError::Rejected => "authentication failed (wrong key or tampered value)",
        })
    }
}

/// A value sealed under one key of the ring. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub value: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("value", &crate::redact::Hidden)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<(String, [u8; 32])>,
    write: usize,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.ids())
            .field("write_key_id", &self.write_key_id())
            .finish()
    }
}

impl KeyRing {
    /// Parses the two settings; absent `keys` is [`KeyRingError::NotConfigured`].
    pub fn from_settings(
        keys: Option<&str>,
        write_id: Option<&str>,
    ) -> Result<KeyRing, KeyRingError> {
        let keys = keys
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(KeyRingError::NotConfigured)?;
        let mut ring = Vec::new();
        for (i, entry) in keys.split(',').map(str::trim).enumerate() {
            let invalid = |why: &str| KeyRingError::Invalid(format!("entry {}: {why}", i + 1));
            let (id, b64) = entry
                .split_once(':')
                .ok_or_else(|| invalid("is not `id:base64-of-32-bytes`"))?;
            if !valid_key_id(id) {
                return Err(invalid("key id must be 1-32 of [A-Za-z0-9_-]"));
            }
            if ring.iter().any(|(other, _)| other == id) {
                return Err(invalid(&format!("key id '{id}' appears twice")));
            }
            let bytes = STANDARD
                .decode(b64.trim())
                .map_err(|_| invalid("key is not standard base64"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| invalid("key is not 32 bytes"))?;
            ring.push((id.to_string(), key));
        }
        let write = match write_id.map(str::trim).filter(|w| !w.is_empty()) {
            None => 0,
            Some(w) => ring.iter().position(|(id, _)| id == w).ok_or_else(|| {
                KeyRingError::Invalid(format!("CREDENTIAL_KEY_ID '{w}' is not one of its ids"))
            })?,
        };
        Ok(KeyRing { keys: ring, write })
    }

    pub fn write_key_id(&self) -> &str {
        &self.keys[self.write].0
    }

    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The same keys, writing with `id` (rotation tooling and tests); `None` if absent.
    pub fn writing_with(&self, id: &str) -> Option<KeyRing> {
        let write = self.keys.iter().position(|(k, _)| k == id)?;
        Some(KeyRing {
            keys: self.keys.clone(),
            write,
        })
    }

    /// Seals `plaintext` under the write key, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Sealed {
        let (id, key) = &self.keys[self.write];
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Sealed {
            key_id: id.clone(),
            value: STANDARD.encode(out),
        }
    }

    /// Opens a value sealed under `key_id` with the same `aad`.
    pub fn open(&self, key_id: &str, value: &str, aad: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| id == key_id)
            .ok_or(OpenError::UnknownKeyId)?;
        let bytes = STANDARD.decode(value).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| OpenError::Rejected)
    }
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn ring(spec: &str, write: Option<&str>) -> KeyRing {
        KeyRing::from_settings(Some(spec), write).unwrap()
    }

    #[test]
    fn writes_with_the_first_key_unless_a_key_id_is_set() {
        let spec = format!("k2:{},k1:{}", b64(2), b64(1));
        assert_eq!(ring(&spec, None).write_key_id(), "k2");
        assert_eq!(ring(&spec, Some("k1")).write_key_id(), "k1");
        assert_eq!(ring(&spec, None).ids(), ["k2", "k1"]);
    }

    #[test]
    fn every_value_gets_a_fresh_nonce_and_opens_with_the_same_aad_only() {
        let r = ring(&format!("k1:{}", b64(1)), None);
        let a = r.seal(b"aad", b"secret");
        let b = r.seal(b"aad", b"secret");
        assert_ne!(a.value, b.value, "random nonce per value");
        assert_eq!(r.open("k1", &a.value, b"aad").unwrap(), b"secret");
        assert_eq!(r.open("k1", &a.value, b"other"), Err(OpenError::Rejected));
    }

    #[test]
    fn old_keys_still_open_after_rotation() {
        let old = ring(&format!("k1:{}", b64(1)), None);
        let sealed = old.seal(b"x", b"v");
        let rotated = ring(&format!("k2:{},k1:{}", b64(2), b64(1)), None);
        assert_eq!(
            rotated.open(&sealed.key_id, &sealed.value, b"x").unwrap(),
            b"v"
        );
        assert_eq!(rotated.seal(b"x", b"v").key_id, "k2");
    }

    #[test]
    fn tampering_wrong_keys_and_unknown_ids_fail_closed() {
        let r = ring(&format!("k1:{}", b64(1)), None);
        let sealed = r.seal(b"x", b"v");
        let mut bytes = STANDARD.decode(&sealed.value).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = STANDARD.encode(&bytes);
        assert_eq!(r.open("k1", &tampered, b"x"), Err(OpenError::Rejected));
        let wrong = ring(&format!("k1:{}", b64(9)), None);
        assert_eq!(
            wrong.open("k1", &sealed.value, b"x"),
            Err(OpenError::Rejected)
        );
        assert_eq!(
            r.open("k0", &sealed.value, b"x"),
            Err(OpenError::UnknownKeyId)
        );
        assert_eq!(r.open("k1", "not base64!", b"x"), Err(OpenError::Malformed));
        assert_eq!(r.open("k1", "AAAA", b"x"), Err(OpenError::Malformed));
    }

    #[test]
    fn bad_settings_are_refused_without_echoing_key_material() {
        let secret = b64(7);
        for (keys, write) in [
            (format!("k1{secret}"), None),
            (format!("k1:{}", STANDARD.encode([1u8; 16])), None),
            (format!("k 1:{secret}"), None),
            (format!("k1:{secret},k1:{secret}"), None),
            (format!("k1:{secret}"), Some("k2")),
            ("k1:%%%".to_string(), None),
        ] {
            let err = KeyRing::from_settings(Some(&keys), write).unwrap_err();
            assert!(!err.to_string().contains(&secret), "{err}");
        }
        assert_eq!(
            KeyRing::from_settings(None, None).unwrap_err(),
            KeyRingError::NotConfigured
        );
        let r = ring(&format!("k1:{secret}"), None);
        assert!(!format!("{r:?}").contains(&secret));
    }
}
