//! Who is calling: the verified identity the gateway derives from the JWT and forwards to the
//! action workers. Action workers never see the token itself.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
}

impl Role {
    /// Unknown role names are members: a typo in a claim must never grant admin.
    pub fn from_claim(value: &str) -> Role {
        match value {
            "admin" | "owner" => Role::Admin,
            _ => Role::Member,
        }
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
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => Err(Error::Authorization(format!(
                "{what} requires the admin role in your team"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_role_claims_are_members() {
        assert_eq!(Role::from_claim("admin"), Role::Admin);
        assert_eq!(Role::from_claim("Admin "), Role::Member);
        assert_eq!(Role::from_claim("superuser"), Role::Member);
        assert_eq!(Role::from_claim(""), Role::Member);
    }

    #[test]
    fn members_are_refused_admin_work() {
        let member = Identity {
            user_id: "u".into(),
            team_id: "t".into(),
            role: Role::Member,
        };
        let err = member.require_admin("sync_tools").unwrap_err();
        assert_eq!(err.code(), "authorization_error");
    }
}
