//! Who may read and change the directory (users, applications, service principals, role
//! assignments), decided from typed values before any lookup, so that a refusal says nothing
//! about whether the object asked for exists.
//!
//! As in Entra: the installation's administrators (the bootstrap service principal, and
//! whoever holds Global Administrator) do everything; directory roles grant what Entra's
//! built-in roles of the same name grant; anyone may read themselves; workloads (managed
//! identities, applications) hold no directory role by default and read nothing else.

/// The built-in directory roles wid knows, by their template ids (which are the same in
/// every Entra tenant, so scripts written for Entra work unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryRole {
    GlobalAdministrator,
    PrivilegedRoleAdministrator,
    UserAdministrator,
    ApplicationAdministrator,
    CloudApplicationAdministrator,
    DirectoryReaders,
    GlobalReader,
    SecurityAdministrator,
    SecurityReader,
    ReportsReader,
}

impl DirectoryRole {
    pub const ALL: [DirectoryRole; 10] = [
        DirectoryRole::GlobalAdministrator,
        DirectoryRole::PrivilegedRoleAdministrator,
        DirectoryRole::UserAdministrator,
        DirectoryRole::ApplicationAdministrator,
        DirectoryRole::CloudApplicationAdministrator,
        DirectoryRole::DirectoryReaders,
        DirectoryRole::GlobalReader,
        DirectoryRole::SecurityAdministrator,
        DirectoryRole::SecurityReader,
        DirectoryRole::ReportsReader,
    ];

    pub fn template_id(self) -> &'static str {
        match self {
            DirectoryRole::GlobalAdministrator => "62e90394-69f5-4237-9190-012177145e10",
            DirectoryRole::PrivilegedRoleAdministrator => "e8611ab8-c189-46e8-94e1-60213ab1f814",
            DirectoryRole::UserAdministrator => "fe930be7-5e62-47db-91af-98c3a49a38b1",
            DirectoryRole::ApplicationAdministrator => "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
            DirectoryRole::CloudApplicationAdministrator => "158c047a-c907-4556-b7ef-446551a6b5f7",
            DirectoryRole::DirectoryReaders => "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
            DirectoryRole::GlobalReader => "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
            DirectoryRole::SecurityAdministrator => "194ae4cb-b126-40b2-bd5b-6091b380977d",
            DirectoryRole::SecurityReader => "5d6b6bb7-de71-4623-b4af-96380a352509",
            DirectoryRole::ReportsReader => "4a5d8f65-41da-4de4-8968-e035b65339cf",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            DirectoryRole::GlobalAdministrator => "Global Administrator",
            DirectoryRole::PrivilegedRoleAdministrator => "Privileged Role Administrator",
            DirectoryRole::UserAdministrator => "User Administrator",
            DirectoryRole::ApplicationAdministrator => "Application Administrator",
            DirectoryRole::CloudApplicationAdministrator => "Cloud Application Administrator",
            DirectoryRole::DirectoryReaders => "Directory Readers",
            DirectoryRole::GlobalReader => "Global Reader",
            DirectoryRole::SecurityAdministrator => "Security Administrator",
            DirectoryRole::SecurityReader => "Security Reader",
            DirectoryRole::ReportsReader => "Reports Reader",
        }
    }

    /// The role with this template id, in any case.
    pub fn from_template_id(id: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.template_id().eq_ignore_ascii_case(id))
    }
}

/// What a Graph route does to the directory; every route declares one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Read any user, service principal, application or role assignment.
    Read,
    /// Create, change or delete users.
    WriteUsers,
    /// Create, change or delete applications and service principals, and their credentials.
    WriteApplications,
    /// Grant and revoke directory roles.
    ManageRoles,
    /// Read the sign-in log (`auditLogs/signIns`): what Entra's reporting roles may read,
    /// and Directory Readers may not.
    ReadAuditLogs,
}

/// What the caller holds: whether it is the installation's bootstrap principal, and its
/// directory roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub bootstrap: bool,
    pub roles: Vec<DirectoryRole>,
}

/// Whether `standing` permits `op`; `on_self` when the object the request names is the
/// caller itself, which anyone may read.
pub fn permits(standing: &Standing, op: Operation, on_self: bool) -> bool {
    use DirectoryRole::*;
    if standing.bootstrap || standing.roles.contains(&GlobalAdministrator) {
        return true;
    }
    let holds = |roles: &[DirectoryRole]| standing.roles.iter().any(|r| roles.contains(r));
    match op {
        // Every directory role reads the directory.
        Operation::Read => on_self || !standing.roles.is_empty(),
        Operation::WriteUsers => holds(&[UserAdministrator]),
        Operation::WriteApplications => {
            holds(&[ApplicationAdministrator, CloudApplicationAdministrator])
        }
        Operation::ManageRoles => holds(&[PrivilegedRoleAdministrator]),
        Operation::ReadAuditLogs => holds(&[
            GlobalReader,
            SecurityAdministrator,
            SecurityReader,
            ReportsReader,
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::DirectoryRole::*;
    use super::*;

    #[test]
    fn roles_grant_what_entra_grants() {
        let of = |roles: &[DirectoryRole]| Standing {
            bootstrap: false,
            roles: roles.to_vec(),
        };
        let bootstrap = Standing {
            bootstrap: true,
            roles: vec![],
        };
        let workload = of(&[]);
        use Operation::*;
        // (standing, operation, on self, permitted)
        let cases = [
            (&bootstrap, Read, false, true),
            (&bootstrap, ManageRoles, false, true),
            (&of(&[GlobalAdministrator]), WriteUsers, false, true),
            (&of(&[GlobalAdministrator]), ManageRoles, false, true),
            (&workload, Read, false, false),
            (&workload, Read, true, true),
            (&workload, WriteUsers, true, false),
            (&workload, WriteApplications, false, false),
            (&of(&[DirectoryReaders]), Read, false, true),
            (&of(&[DirectoryReaders]), WriteUsers, false, false),
            (&of(&[DirectoryReaders]), WriteApplications, false, false),
            (
                &of(&[ApplicationAdministrator]),
                WriteApplications,
                false,
                true,
            ),
            (&of(&[ApplicationAdministrator]), WriteUsers, false, false),
            (&of(&[ApplicationAdministrator]), ManageRoles, false, false),
            (
                &of(&[CloudApplicationAdministrator]),
                WriteApplications,
                false,
                true,
            ),
            (&of(&[UserAdministrator]), WriteUsers, false, true),
            (&of(&[UserAdministrator]), WriteApplications, false, false),
            (&of(&[UserAdministrator]), Read, false, true),
            (
                &of(&[PrivilegedRoleAdministrator]),
                ManageRoles,
                false,
                true,
            ),
            (
                &of(&[PrivilegedRoleAdministrator]),
                WriteUsers,
                false,
                false,
            ),
            (&bootstrap, ReadAuditLogs, false, true),
            (&of(&[GlobalAdministrator]), ReadAuditLogs, false, true),
            (&of(&[ReportsReader]), ReadAuditLogs, false, true),
            (&of(&[SecurityReader]), ReadAuditLogs, false, true),
            (&of(&[SecurityAdministrator]), ReadAuditLogs, false, true),
            (&of(&[GlobalReader]), ReadAuditLogs, false, true),
            (&of(&[GlobalReader]), Read, false, true),
            (&of(&[GlobalReader]), WriteApplications, false, false),
            (&of(&[ReportsReader]), WriteUsers, false, false),
            (&of(&[DirectoryReaders]), ReadAuditLogs, false, false),
            (
                &of(&[ApplicationAdministrator]),
                ReadAuditLogs,
                false,
                false,
            ),
            (&of(&[UserAdministrator]), ReadAuditLogs, false, false),
            (&workload, ReadAuditLogs, true, false),
        ];
        for (standing, op, on_self, want) in cases {
            assert_eq!(
                permits(standing, op, on_self),
                want,
                "{standing:?} {op:?} self={on_self}"
            );
        }
    }

    #[test]
    fn template_ids_round_trip() {
        for role in DirectoryRole::ALL {
            assert_eq!(
                DirectoryRole::from_template_id(&role.template_id().to_uppercase()),
                Some(role)
            );
        }
        assert_eq!(DirectoryRole::from_template_id("not-a-role"), None);
    }
}
