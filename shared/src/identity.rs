//! Who is calling: the verified identity the gateway derives from the JWT (the user) and from
//! our own `team_members` table (the team and the role; see `membership`), and forwards to the
//! action workers in a signed envelope. Action workers never see the token itself.
//!
//! Invariants:
//! - A role only ever comes from a stored membership row ([`Role::parse`]) or, in claim mode,
//!   from a claim the user cannot write ([`Role::from_claim`]); unknown names are members, so a
//!   typo can never grant more.
//! - `owner` and `admin` may run admin actions; only an owner may touch owners (`membership`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

    /// Unknown role names are members: a typo in a claim must never grant admin.
    pub fn from_claim(value: &str) -> Role {
        Role::parse(value).unwrap_or(Role::Member)
    }

    /// The exact stored name (`team_members.role`, request bodies); anything else is `None`.
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Owners and admins run the admin actions.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub team_id: String,
    pub role: Role,
}

impl Identity {
    pub fn require_admin(&self, what: &str) -> Result<()> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(Error::Authorization(format!(
                "{what} requires the admin role in your team"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_role_claims_are_members() {
        assert_eq!(Role::from_claim("admin"), Role::Admin);
        assert_eq!(Role::from_claim("owner"), Role::Owner);
        assert_eq!(Role::from_claim("Admin "), Role::Member);
        assert_eq!(Role::from_claim("superuser"), Role::Member);
        assert_eq!(Role::from_claim(""), Role::Member);
        assert_eq!(Role::parse("Owner"), None);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn members_are_refused_admin_work_and_owners_are_admins() {
        let mut who = Identity {
            user_id: "u".into(),
            team_id: "t".into(),
            role: Role::Member,
        };
        let err = who.require_admin("sync_tools").unwrap_err();
        assert_eq!(err.code(), "authorization_error");
        who.role = Role::Owner;
        assert!(who.require_admin("sync_tools").is_ok());
        who.role = Role::Admin;
        assert!(who.require_admin("sync_tools").is_ok());
    }
}
