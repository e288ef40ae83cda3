//! Verified claims → [`Verified`] (the user, and in claim mode the claimed team and role)
//! through the configured claim paths.
//!
//! Invariants:
//! - A path is dotted (`user_metadata.team_id`), except that a top-level claim named by the whole
//!   path wins (`https://example.com/team_id`, the namespaced claims Auth0 requires).
//! - User and team are required non-empty strings of at most [`MAX_ID_LEN`] bytes without control
//!   characters; a missing or malformed one is an `Error::Auth` naming the path.
//! - Role is optional (missing ⇒ member) and goes through [`Role::from_claim`], so nothing but an
//!   exact `admin`/`owner` string grants admin.
//! - In membership mode (the default) no claim but the user's is read: team and role come from
//!   `team_members`, whatever else the token holds.

use serde_json::{Map, Value};

use super::config::{AuthConfig, IdentitySource};
use crate::error::{Error, Result};
use crate::identity::Role;

/// What a verified token says: who the user is and, in claim mode only, their team and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user_id: String,
    pub claimed: Option<ClaimedTeam>,
}

/// A team and role read from identity-provider-written claims (claim mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTeam {
    pub team_id: String,
    pub role: Role,
}

/// Ids end up in cache keys and SQL parameters; real ones (UUIDs, `auth0|…`) are far shorter.
pub const MAX_ID_LEN: usize = 256;

/// The value at `path` in `claims`, if any.
pub fn lookup<'c>(claims: &'c Map<String, Value>, path: &str) -> Option<&'c Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut segments = path.split('.');
    let mut current = claims.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

fn required_id(claims: &Map<String, Value>, path: &str, what: &str) -> Result<String> {
    let value = match lookup(claims, path) {
        None | Some(Value::Null) => {
            return Err(Error::Auth(format!("token has no {what} claim at {path}")))
        }
        Some(v) => v,
    };
    let malformed = |why: &str| Error::Auth(format!("token {what} claim at {path} {why}"));
    let Value::String(s) = value else {
        return Err(malformed("is not a string"));
    };
    if s.is_empty() {
        return Err(malformed("is empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(malformed(&format!("is longer than {MAX_ID_LEN} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(malformed("holds control characters"));
    }
    Ok(s.clone())
}

/// The caller from verified claims.
pub fn identity(claims: &Map<String, Value>, config: &AuthConfig) -> Result<Verified> {
    let user_id = required_id(claims, &config.user_claim, "user")?;
    let claimed = match &config.identity_source {
        IdentitySource::Membership => None,
        IdentitySource::Claims {
            team_claim,
            role_claim,
        } => Some(ClaimedTeam {
            team_id: required_id(claims, team_claim, "team")?,
            role: match lookup(claims, role_claim) {
                Some(Value::String(s)) => Role::from_claim(s),
                _ => Role::Member,
            },
        }),
    };
    Ok(Verified { user_id, claimed })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// Claim mode, on the paths these tests use (a test need not mind that they are editable).
    fn config() -> AuthConfig {
        AuthConfig {
            identity_source: IdentitySource::Claims {
                team_claim: "user_metadata.team_id".into(),
                role_claim: "user_metadata.role".into(),
            },
            ..AuthConfig::hs256("0123456789abcdef0123456789abcdef")
        }
    }

    #[test]
    fn auth_membership_mode_reads_only_the_user_whatever_the_token_claims() {
        let claims = obj(json!({"sub": "u1", "user_metadata": {"team_id": "t1", "role": "owner"}}));
        let verified = identity(
            &claims,
            &AuthConfig::hs256("0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(
            verified,
            Verified {
                user_id: "u1".into(),
                claimed: None
            }
        );
    }

    #[test]
    fn auth_claim_lookup_walks_dotted_paths_and_prefers_literal_names() {
        let c = obj(json!({
            "sub": "u",
            "a": {"b": {"c": "deep"}},
            "https://example.com/team": "literal",
            "x.y": "dotted-name",
            "x": {"y": "nested"},
            "list": ["no"],
        }));
        assert_eq!(lookup(&c, "a.b.c"), Some(&json!("deep")));
        assert_eq!(lookup(&c, "a.b"), Some(&json!({"c": "deep"})));
        assert_eq!(
            lookup(&c, "https://example.com/team"),
            Some(&json!("literal"))
        );
        assert_eq!(lookup(&c, "x.y"), Some(&json!("dotted-name")));
        assert_eq!(lookup(&c, "a.b.c.d"), None);
        assert_eq!(lookup(&c, "list.0"), None);
        assert_eq!(lookup(&c, "missing"), None);
    }

    #[test]
    fn auth_identity_requires_user_and_team_and_defaults_role_to_member() {
        let id = identity(
            &obj(json!({"sub": "u1", "user_metadata": {"team_id": "t1"}})),
            &config(),
        )
        .unwrap();
        assert_eq!(id.user_id, "u1");
        let claimed = id.claimed.unwrap();
        assert_eq!(claimed.team_id, "t1");
        assert_eq!(claimed.role, Role::Member);

        let err = identity(&obj(json!({"sub": "u1"})), &config()).unwrap_err();
        assert_eq!(
            err,
            Error::Auth("token has no team claim at user_metadata.team_id".into())
        );
        let err =
            identity(&obj(json!({"user_metadata": {"team_id": "t"}})), &config()).unwrap_err();
        assert_eq!(err, Error::Auth("token has no user claim at sub".into()));
    }

    #[test]
    fn auth_identity_rejects_malformed_ids_and_never_upgrades_odd_roles() {
        let cases = [
            (
                json!({"sub": "u", "user_metadata": {"team_id": ""}}),
                "is empty",
            ),
            (
                json!({"sub": "u", "user_metadata": {"team_id": 42}}),
                "is not a string",
            ),
            (
                json!({"sub": "u", "user_metadata": {"team_id": "a\nb"}}),
                "control",
            ),
            (
                json!({"sub": "u", "user_metadata": {"team_id": "t".repeat(257)}}),
                "longer",
            ),
            (
                json!({"sub": ["u"], "user_metadata": {"team_id": "t"}}),
                "is not a string",
            ),
        ];
        for (claims, why) in cases {
            let err = identity(&obj(claims.clone()), &config()).unwrap_err();
            assert!(
                matches!(&err, Error::Auth(m) if m.contains(why)),
                "{claims}: {err:?}"
            );
        }
        for role in [
            json!(["admin"]),
            json!({"admin": true}),
            json!(true),
            json!("Admin"),
        ] {
            let claims = json!({"sub": "u", "user_metadata": {"team_id": "t", "role": role}});
            assert_eq!(
                identity(&obj(claims), &config())
                    .unwrap()
                    .claimed
                    .unwrap()
                    .role,
                Role::Member
            );
        }
    }
}
