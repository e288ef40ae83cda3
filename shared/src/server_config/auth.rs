//! The seed design's `config.auth` block of a remote server: how the server's credential is
//! applied (`{"type": "api_key", "header": "X-N8N-API-Key"}`), never the credential itself.
//!
//! Invariants:
//! - The block holds no secret: only `type` and `header` are accepted; a field that would
//!   carry a value (`key`, `token`, `value`, …) is refused with the documented 400 and a
//!   pointer to `set_credential`, which seals it.
//! - What it says is enforced where credentials meet the server: `set_credential` refuses a
//!   credential of another type and takes an `api_key`'s header from it when the request
//!   names none; `call_tool` refuses at once, before anything is recorded or sent, a server
//!   whose block asks for a credential that was never set.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// How the credential is applied (`type`); the seed's short names are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    None,
    #[serde(alias = "apikey", alias = "api-key")]
    ApiKey,
    Bearer,
    #[serde(alias = "basic")]
    BasicAuth,
    #[serde(alias = "oauth", alias = "oauth2")]
    OauthToken,
    CustomHeaders,
}

impl AuthKind {
    /// The `credential_type` of `set_credential` this kind takes; `None` for no credential.
    pub fn credential_type(self) -> Option<&'static str> {
        match self {
            AuthKind::None => None,
            AuthKind::ApiKey => Some("api_key"),
            AuthKind::Bearer => Some("bearer"),
            AuthKind::BasicAuth => Some("basic_auth"),
            AuthKind::OauthToken => Some("oauth_token"),
            AuthKind::CustomHeaders => Some("custom_headers"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthHint {
    #[serde(rename = "type")]
    pub kind: AuthKind,
    /// The header an `api_key` goes in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

impl AuthHint {
    /// Validates a `config.auth` block.
    pub fn parse(block: &Value) -> Result<AuthHint> {
        let Some(fields) = block.as_object() else {
            return Err(invalid("must be an object: {\"type\", \"header\"?}"));
        };
        if let Some(other) = fields.keys().find(|k| *k != "type" && *k != "header") {
            return Err(Error::validation_with(
                format!(
                    "'config.auth.{}' is not accepted: config.auth only says how the credential \
                     is applied (type, header); the secret itself is stored with set_credential",
                    other.chars().take(64).collect::<String>()
                ),
                serde_json::json!({ "field": "config.auth", "allowed": ["type", "header"] }),
            ));
        }
        let hint: AuthHint = serde_json::from_value(block.clone()).map_err(|_| {
            invalid("'type' must be one of none, api_key, bearer, basic_auth, oauth_token, custom_headers")
        })?;
        if let Some(header) = &hint.header {
            if hint.kind != AuthKind::ApiKey {
                return Err(invalid("'header' applies to an api_key only"));
            }
            if header.is_empty()
                || header.len() > 128
                || !header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                return Err(invalid("'header' must be an HTTP header name"));
            }
        }
        Ok(hint)
    }

    /// Whether calls need a credential the server does not have yet.
    pub fn needs_credential(&self) -> bool {
        self.kind != AuthKind::None
    }
}

fn invalid(why: &str) -> Error {
    Error::validation_with(
        format!("config.auth is invalid: {why}"),
        serde_json::json!({ "field": "config.auth" }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seeds_block_is_understood() {
        let hint = AuthHint::parse(&json!({"type": "api_key", "header": "X-N8N-API-Key"})).unwrap();
        assert_eq!(hint.kind, AuthKind::ApiKey);
        assert_eq!(hint.header.as_deref(), Some("X-N8N-API-Key"));
        assert_eq!(hint.kind.credential_type(), Some("api_key"));
        for (short, kind) in [
            ("basic", AuthKind::BasicAuth),
            ("oauth", AuthKind::OauthToken),
        ] {
            assert_eq!(AuthHint::parse(&json!({"type": short})).unwrap().kind, kind);
        }
        assert!(!AuthHint::parse(&json!({"type": "none"}))
            .unwrap()
            .needs_credential());
    }

    #[test]
    fn a_block_that_carries_a_secret_or_nonsense_is_refused() {
        for block in [
            json!({"type": "api_key", "key": "sk-live-123"}),
            json!({"type": "bearer", "token": "t"}),
            json!({"type": "api_key", "value": "v"}),
        ] {
            let err = AuthHint::parse(&block).unwrap_err();
            assert_eq!(err.code(), "validation_error");
            let message = err.public_message();
            assert!(message.contains("set_credential"), "{message}");
            assert!(
                !message.contains("sk-live") && !message.contains("\"t\""),
                "{message}"
            );
        }
        for block in [
            json!("api_key"),
            json!({"type": "magic"}),
            json!({"type": "bearer", "header": "X-Key"}),
            json!({"type": "api_key", "header": "bad header"}),
            json!({"header": "X-Key"}),
        ] {
            assert_eq!(
                AuthHint::parse(&block).unwrap_err().code(),
                "validation_error",
                "{block}"
            );
        }
    }
}
