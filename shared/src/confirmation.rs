//! Confirmation tokens for tools an admin marked `requires_confirmation`.
//!
//! The first `call_tool` answers `confirmation_required` with a token; the call runs only when
//! repeated with it. A token is `v1.<id>.<expires_ms>.<mac>` where `mac` is HMAC-SHA256 (key:
//! the `CONFIRMATION_SECRET` Worker secret) over the id, the expiry, the user, team, server,
//! tool and the canonical JSON of the arguments.
//!
//! Invariants:
//! - A token is good for exactly the user, team, server, tool and arguments it was issued for
//!   (any difference changes the MAC), and only until its expiry.
//! - This module only proves a token genuine and current; single use is the caller's job (an
//!   insert-unique of the token id in D1, see `repo::confirmations`).
//! - Comparison of MACs is constant-time; the key never appears in `Debug` or messages.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::error::Error;

/// How long a user has to confirm.
pub const CONFIRMATION_TTL_MS: u64 = 5 * 60 * 1000;
pub const MAX_TOKEN_LEN: usize = 256;
const MIN_SECRET_LEN: usize = 16;

#[derive(Clone, PartialEq, Eq)]
pub struct ConfirmationKey(Vec<u8>);

impl std::fmt::Debug for ConfirmationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfirmationKey(redacted)")
    }
}

impl ConfirmationKey {
    /// The key from the secret's text; too short a secret is no key at all.
    pub fn from_secret(secret: &str) -> Option<ConfirmationKey> {
        let secret = secret.trim();
        (secret.len() >= MIN_SECRET_LEN).then(|| ConfirmationKey(secret.as_bytes().to_vec()))
    }
}

/// What a token is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub team_id: &'a str,
    pub server_id: &'a str,
    pub tool_name: &'a str,
    pub arguments: &'a Value,
}

/// An issued confirmation token. `Debug` leaves out `text`, which confirms the call.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub expires_ms: u64,
    pub text: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("expires_ms", &self.expires_ms)
            .field("text", &crate::redact::Hidden)
            .finish()
    }
}

pub fn issue(key: &ConfirmationKey, subject: &Subject<'_>, id: &str, now_ms: u64) -> Token {
    let expires_ms = now_ms + CONFIRMATION_TTL_MS;
    let mac = URL_SAFE_NO_PAD.encode(mac_of(key, subject, id, expires_ms).finalize().into_bytes());
    Token {
        id: id.to_string(),
        expires_ms,
        text: format!("v1.{id}.{expires_ms}.{mac}"),
    }
}

/// Checks a presented token against this call; answers its id and expiry when genuine.
pub fn verify(
    key: &ConfirmationKey,
    subject: &Subject<'_>,
    text: &str,
    now_ms: u64,
) -> Result<Token, Error> {
    let refuse = |why: &str| {
        Error::Authorization(format!(
            "confirmation_token {why}; call again without it to get a new one"
        ))
    };
    let mut parts = text.split('.');
    let (Some("v1"), Some(id), Some(expires), Some(mac), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(refuse("is not a token this service issued"));
    };
    let expires_ms: u64 = expires
        .parse()
        .map_err(|_| refuse("is not a token this service issued"))?;
    let mac = URL_SAFE_NO_PAD
        .decode(mac)
        .map_err(|_| refuse("is not a token this service issued"))?;
    mac_of(key, subject, id, expires_ms)
        .verify_slice(&mac)
        .map_err(|_| {
            refuse("does not match this call (it is bound to the user, tool and exact arguments that were confirmed)")
        })?;
    if now_ms >= expires_ms {
        return Err(refuse(&format!(
            "expired at {}",
            crate::time::iso_from_ms(expires_ms)
        )));
    }
    Ok(Token {
        id: id.to_string(),
        expires_ms,
        text: text.to_string(),
    })
}

fn mac_of(key: &ConfirmationKey, s: &Subject<'_>, id: &str, expires_ms: u64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes any key length");
    // A JSON array of strings is an unambiguous encoding of the fields.
    let message = Value::from(vec![
        Value::from("mcp-edge/confirmation/v1"),
        id.into(),
        expires_ms.to_string().into(),
        s.user_id.into(),
        s.team_id.into(),
        s.server_id.into(),
        s.tool_name.into(),
        canonical_json(s.arguments).into(),
    ]);
    mac.update(message.to_string().as_bytes());
    mac
}

/// JSON with object keys sorted at every level and no insignificant whitespace, so that the
/// same arguments always have the same text whatever order a client sent them in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_795_292_256_000;

    fn key() -> ConfirmationKey {
        ConfirmationKey::from_secret("0123456789abcdef0123").unwrap()
    }

    fn subject(args: &Value) -> Subject<'_> {
        Subject {
            user_id: "u1",
            team_id: "t1",
            server_id: "s1",
            tool_name: "delete_repo",
            arguments: args,
        }
    }

    #[test]
    fn debug_of_a_token_hides_the_text_that_confirms_the_call() {
        let token = issue(&key(), &subject(&json!({})), "id-1", NOW);
        let text = format!("{token:?}");
        assert!(!text.contains(&token.text), "{text}");
        assert!(text.contains("id-1"), "{text}");
    }

    #[test]
    fn a_token_verifies_for_the_same_call_in_any_key_order() {
        let args = json!({"b": 1, "a": {"y": [1, 2], "x": null}});
        let token = issue(&key(), &subject(&args), "id-1", NOW);
        let reordered: Value =
            serde_json::from_str(r#"{"a": {"x": null, "y": [1, 2]}, "b": 1}"#).unwrap();
        let ok = verify(&key(), &subject(&reordered), &token.text, NOW + 1000).unwrap();
        assert_eq!(
            (ok.id.as_str(), ok.expires_ms),
            ("id-1", NOW + CONFIRMATION_TTL_MS)
        );
    }

    #[test]
    fn a_token_is_refused_for_other_arguments_users_tools_or_keys() {
        let args = json!({"repo": "a"});
        let token = issue(&key(), &subject(&args), "id-1", NOW).text;
        let other_args = json!({"repo": "b"});
        assert!(verify(&key(), &subject(&other_args), &token, NOW).is_err());
        let mut other_user = subject(&args);
        other_user.user_id = "u2";
        assert!(verify(&key(), &other_user, &token, NOW).is_err());
        let mut other_tool = subject(&args);
        other_tool.tool_name = "read_repo";
        assert!(verify(&key(), &other_tool, &token, NOW).is_err());
        let other_key = ConfirmationKey::from_secret("another-secret-of-length").unwrap();
        assert!(verify(&other_key, &subject(&args), &token, NOW).is_err());
        let stretched = token.replace(
            &format!(".{}.", NOW + CONFIRMATION_TTL_MS),
            &format!(".{}.", NOW + 10 * CONFIRMATION_TTL_MS),
        );
        assert!(verify(&key(), &subject(&args), &stretched, NOW).is_err());
    }

    #[test]
    fn expired_and_malformed_tokens_are_refused_with_a_clear_message() {
        let args = json!({});
        let token = issue(&key(), &subject(&args), "id-1", NOW).text;
        let err = verify(&key(), &subject(&args), &token, NOW + CONFIRMATION_TTL_MS).unwrap_err();
        assert!(err.to_string().contains("expired at"), "{err}");
        for bad in ["", "v1", "v2.a.1.b", "v1.a.x.b", "v1.a.1.!!", "v1.a.1.b.c"] {
            assert_eq!(
                verify(&key(), &subject(&args), bad, NOW)
                    .unwrap_err()
                    .code(),
                "authorization_error"
            );
        }
    }

    #[test]
    fn short_secrets_are_no_key_and_debug_is_redacted() {
        assert!(ConfirmationKey::from_secret("short").is_none());
        assert!(!format!("{:?}", key()).contains("0123"));
    }
}
