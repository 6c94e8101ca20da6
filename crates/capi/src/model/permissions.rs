//! Who may see and do what: Cloud Foundry's role rules in one pure place.
//!
//! A caller never learns that an organization or space they have no role in exists: such a
//! resource is `Invisible` (404). A visible resource the caller may not change is `Deny` (403).

use super::{Role, RoleType};

/// A token's platform-wide powers, from its scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalAccess {
    /// cloud_controller.admin
    Admin,
    /// cloud_controller.admin_read_only
    AdminReadOnly,
    /// cloud_controller.global_auditor
    GlobalAuditor,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    Invisible,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadOrganization,
    UpdateOrganization,
    DeleteOrganization,
    CreateSpace,
    ReadSpace,
    UpdateSpace,
    DeleteSpace,
    ReadOrganizationRoles,
    AssignOrganizationRole,
    RemoveOrganizationRole,
    AssignSpaceRole,
    RemoveSpaceRole,
    ReadSpaceUsers,
    /// Create, change or delete routes of a space and map them to its apps.
    ManageRoutes,
    /// Create, change, share or delete an organization's private domains.
    ManageDomains,
    /// Create, configure or delete a space's apps (space developers).
    ManageApps,
    /// Start, stop, restart and scale a space's apps (space developers and supporters).
    OperateApps,
}

impl Action {
    fn is_write(self) -> bool {
        !matches!(
            self,
            Action::ReadOrganization
                | Action::ReadSpace
                | Action::ReadOrganizationRoles
                | Action::ReadSpaceUsers
        )
    }

    /// Actions on a space need the space to be visible; the others need only the organization.
    fn needs_space(self) -> bool {
        matches!(
            self,
            Action::ReadSpace
                | Action::UpdateSpace
                | Action::DeleteSpace
                | Action::AssignSpaceRole
                | Action::RemoveSpaceRole
                | Action::ReadSpaceUsers
                | Action::ManageRoutes
                | Action::ManageApps
                | Action::OperateApps
        )
    }
}

/// The resource an action is about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub organization_guid: &'a str,
    pub space_guid: Option<&'a str>,
    pub organization_suspended: bool,
}

/// Everything needed to decide: the token's powers and the caller's roles.
#[derive(Debug, Clone)]
pub struct Permissions {
    pub global: GlobalAccess,
    pub read_scope: bool,
    pub write_scope: bool,
    pub roles: Vec<Role>,
}

impl Permissions {
    pub fn is_admin(&self) -> bool {
        self.global == GlobalAccess::Admin
    }

    /// Admins, read-only admins and global auditors see everything.
    pub fn reads_everything(&self) -> bool {
        self.global != GlobalAccess::None
    }

    fn has_org_role(&self, org: &str, types: &[RoleType]) -> bool {
        self.roles.iter().any(|r| {
            r.organization_guid == org && r.space_guid.is_none() && types.contains(&r.role_type)
        })
    }

    fn has_space_role(&self, space: &str, types: &[RoleType]) -> bool {
        self.roles
            .iter()
            .any(|r| r.space_guid.as_deref() == Some(space) && types.contains(&r.role_type))
    }

    pub fn is_org_manager(&self, org: &str) -> bool {
        self.has_org_role(org, &[RoleType::OrganizationManager])
    }

    pub fn is_space_manager(&self, space: &str) -> bool {
        self.has_space_role(space, &[RoleType::SpaceManager])
    }

    /// Any role in the organization, or in one of its spaces, makes it visible.
    pub fn can_see_organization(&self, org: &str) -> bool {
        self.reads_everything() || self.roles.iter().any(|r| r.organization_guid == org)
    }

    /// Org managers see every space of their org; others need a role in the space itself.
    pub fn can_see_space(&self, org: &str, space: &str) -> bool {
        self.reads_everything()
            || self.is_org_manager(org)
            || self.has_space_role(space, &RoleType::ALL)
    }

    pub fn can_create_organization(&self, user_org_creation: bool) -> Decision {
        if !self.read_scope && !self.is_admin() {
            return Decision::Deny;
        }
        if self.is_admin() || (user_org_creation && self.write_scope) {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }

    pub fn decide(&self, action: Action, target: Target<'_>) -> Decision {
        let org = target.organization_guid;
        if !self.is_admin() && (!self.read_scope || (action.is_write() && !self.write_scope)) {
            // Scope checks come first, like CC's.
            return if self.can_see_organization(org) {
                Decision::Deny
            } else {
                Decision::Invisible
            };
        }
        let visible = match (action.needs_space(), target.space_guid) {
            (true, Some(space)) => self.can_see_space(org, space),
            _ => self.can_see_organization(org),
        };
        if !visible {
            return Decision::Invisible;
        }
        if !action.is_write() {
            return Decision::Allow;
        }
        if self.is_admin() {
            return Decision::Allow;
        }
        if target.organization_suspended {
            return Decision::Deny;
        }
        let space_manager = target.space_guid.is_some_and(|s| self.is_space_manager(s));
        let allowed = match action {
            Action::UpdateOrganization
            | Action::CreateSpace
            | Action::DeleteSpace
            | Action::AssignOrganizationRole
            | Action::RemoveOrganizationRole => self.is_org_manager(org),
            Action::UpdateSpace | Action::AssignSpaceRole | Action::RemoveSpaceRole => {
                self.is_org_manager(org) || space_manager
            }
            // CC's "manage apps" roles.
            Action::ManageRoutes => target.space_guid.is_some_and(|s| {
                self.has_space_role(s, &[RoleType::SpaceDeveloper, RoleType::SpaceSupporter])
            }),
            Action::ManageDomains => self.is_org_manager(org),
            Action::ManageApps => target
                .space_guid
                .is_some_and(|s| self.has_space_role(s, &[RoleType::SpaceDeveloper])),
            Action::OperateApps => target.space_guid.is_some_and(|s| {
                self.has_space_role(s, &[RoleType::SpaceDeveloper, RoleType::SpaceSupporter])
            }),
            Action::DeleteOrganization => false,
            Action::ReadOrganization
            | Action::ReadSpace
            | Action::ReadOrganizationRoles
            | Action::ReadSpaceUsers => true,
        };
        if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }

    /// An app's environment holds secrets: only admins, read-only admins and the space's
    /// developers may read it (CC's `read_env`).
    pub fn can_read_app_env(&self, space: &str) -> bool {
        matches!(
            self.global,
            GlobalAccess::Admin | GlobalAccess::AdminReadOnly
        ) || self.has_space_role(space, &[RoleType::SpaceDeveloper])
    }

    /// A role is visible with its organization (org roles) or its space (space roles).
    pub fn can_see_role(&self, role: &Role) -> bool {
        match &role.space_guid {
            Some(space) => self.can_see_space(&role.organization_guid, space),
            None => self.can_see_organization(&role.organization_guid),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    const ORG: &str = "org-1";
    const SPACE: &str = "space-1";

    fn role(t: RoleType) -> Role {
        Role {
            guid: "r".into(),
            role_type: t,
            user_guid: "u".into(),
            organization_guid: ORG.into(),
            space_guid: t.is_space_role().then(|| SPACE.into()),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn subject(name: &str) -> Permissions {
        let mut p = Permissions {
            global: GlobalAccess::None,
            read_scope: true,
            write_scope: true,
            roles: Vec::new(),
        };
        let space_role = |t| vec![role(RoleType::OrganizationUser), role(t)];
        match name {
            "admin" => p.global = GlobalAccess::Admin,
            "admin_read_only" => p.global = GlobalAccess::AdminReadOnly,
            "global_auditor" => p.global = GlobalAccess::GlobalAuditor,
            "org_manager" => p.roles = vec![role(RoleType::OrganizationManager)],
            "org_auditor" => p.roles = vec![role(RoleType::OrganizationAuditor)],
            "org_billing_manager" => p.roles = vec![role(RoleType::OrganizationBillingManager)],
            "org_user" => p.roles = vec![role(RoleType::OrganizationUser)],
            "space_manager" => p.roles = space_role(RoleType::SpaceManager),
            "space_developer" => p.roles = space_role(RoleType::SpaceDeveloper),
            "space_auditor" => p.roles = space_role(RoleType::SpaceAuditor),
            "space_supporter" => p.roles = space_role(RoleType::SpaceSupporter),
            "none" => {}
            other => panic!("unknown subject {other}"),
        }
        p
    }

    const A: Decision = Decision::Allow;
    const D: Decision = Decision::Deny;
    const I: Decision = Decision::Invisible;

    /// Columns, in order: see org, update org, delete org, create space, see space,
    /// update space, delete space, list org roles, assign org role, assign space role,
    /// delete space role, see space users.
    const ACTIONS: [Action; 12] = [
        Action::ReadOrganization,
        Action::UpdateOrganization,
        Action::DeleteOrganization,
        Action::CreateSpace,
        Action::ReadSpace,
        Action::UpdateSpace,
        Action::DeleteSpace,
        Action::ReadOrganizationRoles,
        Action::AssignOrganizationRole,
        Action::AssignSpaceRole,
        Action::RemoveSpaceRole,
        Action::ReadSpaceUsers,
    ];

    #[rustfmt::skip]
    const TABLE: &[(&str, [Decision; 12])] = &[
        //                       org: see upd del  space: new see upd del  roles: list org  sp  del  users
        ("admin",               [A, A, A, A, A, A, A, A, A, A, A, A]),
        ("admin_read_only",     [A, D, D, D, A, D, D, A, D, D, D, A]),
        ("global_auditor",      [A, D, D, D, A, D, D, A, D, D, D, A]),
        ("org_manager",         [A, A, D, A, A, A, A, A, A, A, A, A]),
        ("org_auditor",         [A, D, D, D, I, I, I, A, D, I, I, I]),
        ("org_billing_manager", [A, D, D, D, I, I, I, A, D, I, I, I]),
        ("org_user",            [A, D, D, D, I, I, I, A, D, I, I, I]),
        ("space_manager",       [A, D, D, D, A, A, D, A, D, A, A, A]),
        ("space_developer",     [A, D, D, D, A, D, D, A, D, D, D, A]),
        ("space_auditor",       [A, D, D, D, A, D, D, A, D, D, D, A]),
        ("space_supporter",     [A, D, D, D, A, D, D, A, D, D, D, A]),
        ("none",                [I, I, I, I, I, I, I, I, I, I, I, I]),
    ];

    fn target(suspended: bool) -> Target<'static> {
        Target {
            organization_guid: ORG,
            space_guid: Some(SPACE),
            organization_suspended: suspended,
        }
    }

    #[test]
    fn role_by_action_table() {
        for (name, expected) in TABLE {
            let p = subject(name);
            for (action, want) in ACTIONS.iter().zip(expected) {
                assert_eq!(p.decide(*action, target(false)), *want, "{name} {action:?}");
            }
        }
    }

    #[test]
    fn suspended_orgs_are_read_only_for_non_admins() {
        for (name, _) in TABLE {
            let p = subject(name);
            for action in ACTIONS {
                let normal = p.decide(action, target(false));
                let suspended = p.decide(action, target(true));
                let expected = if action.is_write() && normal == A && *name != "admin" {
                    D
                } else {
                    normal
                };
                assert_eq!(suspended, expected, "{name} {action:?}");
            }
        }
    }

    #[test]
    fn scopes_gate_reads_and_writes() {
        let mut p = subject("org_manager");
        p.write_scope = false;
        assert_eq!(p.decide(Action::ReadOrganization, target(false)), A);
        assert_eq!(p.decide(Action::UpdateOrganization, target(false)), D);
        p.read_scope = false;
        assert_eq!(p.decide(Action::ReadOrganization, target(false)), D);
    }

    #[test]
    fn organization_creation() {
        assert_eq!(subject("admin").can_create_organization(false), A);
        assert_eq!(subject("none").can_create_organization(false), D);
        assert_eq!(subject("none").can_create_organization(true), A);
        assert_eq!(subject("admin_read_only").can_create_organization(false), D);
    }

    #[test]
    fn role_visibility() {
        let other_space = Role {
            space_guid: Some("space-2".into()),
            ..role(RoleType::SpaceDeveloper)
        };
        assert!(subject("org_manager").can_see_role(&other_space));
        assert!(!subject("space_developer").can_see_role(&other_space));
        assert!(subject("org_auditor").can_see_role(&role(RoleType::OrganizationManager)));
        assert!(!subject("none").can_see_role(&role(RoleType::OrganizationManager)));
    }
}
