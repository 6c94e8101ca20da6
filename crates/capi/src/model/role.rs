use chrono::{DateTime, Utc};

use super::listable;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleType {
    OrganizationUser,
    OrganizationManager,
    OrganizationAuditor,
    OrganizationBillingManager,
    SpaceDeveloper,
    SpaceManager,
    SpaceAuditor,
    SpaceSupporter,
}

impl RoleType {
    pub const ALL: [RoleType; 8] = [
        RoleType::OrganizationUser,
        RoleType::OrganizationManager,
        RoleType::OrganizationAuditor,
        RoleType::OrganizationBillingManager,
        RoleType::SpaceDeveloper,
        RoleType::SpaceManager,
        RoleType::SpaceAuditor,
        RoleType::SpaceSupporter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoleType::OrganizationUser => "organization_user",
            RoleType::OrganizationManager => "organization_manager",
            RoleType::OrganizationAuditor => "organization_auditor",
            RoleType::OrganizationBillingManager => "organization_billing_manager",
            RoleType::SpaceDeveloper => "space_developer",
            RoleType::SpaceManager => "space_manager",
            RoleType::SpaceAuditor => "space_auditor",
            RoleType::SpaceSupporter => "space_supporter",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn is_space_role(self) -> bool {
        matches!(
            self,
            RoleType::SpaceDeveloper
                | RoleType::SpaceManager
                | RoleType::SpaceAuditor
                | RoleType::SpaceSupporter
        )
    }
}

/// A role binding a user to an organization or a space. Space roles also record the space's
/// organization so cascades and visibility need no join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub guid: String,
    pub role_type: RoleType,
    pub user_guid: String,
    pub organization_guid: String,
    pub space_guid: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

listable!(Role);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_type_round_trips() {
        for t in RoleType::ALL {
            assert_eq!(RoleType::parse(t.as_str()), Some(t));
        }
        assert_eq!(RoleType::parse("admin"), None);
    }
}
