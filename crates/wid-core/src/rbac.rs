//! Azure role-based access control, IO-free: the built-in roles wid knows (with their real
//! ids and permissions) and how a set of role assignments decides an action on a scope.

/// A role's permissions, as in a role definition's `permissions[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub actions: &'static [&'static str],
    pub not_actions: &'static [&'static str],
    pub data_actions: &'static [&'static str],
    pub not_data_actions: &'static [&'static str],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltInRole {
    /// The role definition's GUID, the same in every Azure tenant.
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub permissions: Permissions,
}

const NONE: &[&str] = &[];

/// Control-plane reads the Key Vault data roles carry, so holders can find the vault.
const KEY_VAULT_READS: &[&str] = &[
    "Microsoft.Authorization/*/read",
    "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/deployments/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Support/*",
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
];

/// The built-in roles (Azure docs, "Azure built-in roles": General, Security, Identity).
pub static BUILT_IN_ROLES: &[BuiltInRole] = &[
    BuiltInRole {
        id: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        name: "Owner",
        description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        permissions: Permissions { actions: &["*"], not_actions: NONE, data_actions: NONE, not_data_actions: NONE },
    },
    BuiltInRole {
        id: "b24988ac-6180-42a0-ab88-20f7382dd24c",
        name: "Contributor",
        description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
        permissions: Permissions {
            actions: &["*"],
            not_actions: &[
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
                "Microsoft.Blueprint/blueprintAssignments/write",
                "Microsoft.Blueprint/blueprintAssignments/delete",
                "Microsoft.Compute/galleries/share/action",
                "Microsoft.Purview/consents/write",
                "Microsoft.Purview/consents/delete",
                "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
                "Microsoft.Subscription/cancel/action",
                "Microsoft.Subscription/enable/action",
            ],
            data_actions: NONE,
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        name: "Reader",
        description: "View all resources, but does not allow you to make any changes.",
        permissions: Permissions { actions: &["*/read"], not_actions: NONE, data_actions: NONE, not_data_actions: NONE },
    },
    BuiltInRole {
        id: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        name: "User Access Administrator",
        description: "Lets you manage user access to Azure resources.",
        permissions: Permissions {
            actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
            not_actions: NONE,
            data_actions: NONE,
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        name: "Role Based Access Control Administrator",
        description: "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.",
        permissions: Permissions {
            actions: &[
                "Microsoft.Authorization/roleAssignments/write",
                "Microsoft.Authorization/roleAssignments/delete",
                "*/read",
                "Microsoft.Support/*",
            ],
            not_actions: NONE,
            data_actions: NONE,
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        name: "Key Vault Administrator",
        description: "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: KEY_VAULT_READS,
            not_actions: NONE,
            data_actions: &["Microsoft.KeyVault/vaults/*"],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        name: "Key Vault Secrets Officer",
        description: "Perform any action on the secrets of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: KEY_VAULT_READS,
            not_actions: NONE,
            data_actions: &["Microsoft.KeyVault/vaults/secrets/*"],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "4633458b-17de-408a-b874-0445c86b69e6",
        name: "Key Vault Secrets User",
        description: "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: NONE,
            not_actions: NONE,
            data_actions: &[
                "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            ],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        name: "Key Vault Crypto Officer",
        description: "Perform any action on the keys of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: KEY_VAULT_READS,
            not_actions: NONE,
            data_actions: &[
                "Microsoft.KeyVault/vaults/keys/*",
                "Microsoft.KeyVault/vaults/keyrotationpolicies/*",
            ],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "12338af0-0e69-4776-bea7-57ae8d297424",
        name: "Key Vault Crypto User",
        description: "Perform cryptographic operations using keys. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: NONE,
            not_actions: NONE,
            data_actions: &[
                "Microsoft.KeyVault/vaults/keys/read",
                "Microsoft.KeyVault/vaults/keys/update/action",
                "Microsoft.KeyVault/vaults/keys/backup/action",
                "Microsoft.KeyVault/vaults/keys/encrypt/action",
                "Microsoft.KeyVault/vaults/keys/decrypt/action",
                "Microsoft.KeyVault/vaults/keys/wrap/action",
                "Microsoft.KeyVault/vaults/keys/unwrap/action",
                "Microsoft.KeyVault/vaults/keys/sign/action",
                "Microsoft.KeyVault/vaults/keys/verify/action",
            ],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        name: "Key Vault Crypto Service Encryption User",
        description: "Read metadata of keys and perform wrap/unwrap operations. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: &[
                "Microsoft.EventGrid/eventSubscriptions/write",
                "Microsoft.EventGrid/eventSubscriptions/read",
                "Microsoft.EventGrid/eventSubscriptions/delete",
            ],
            not_actions: NONE,
            data_actions: &[
                "Microsoft.KeyVault/vaults/keys/read",
                "Microsoft.KeyVault/vaults/keys/wrap/action",
                "Microsoft.KeyVault/vaults/keys/unwrap/action",
            ],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "a4417e6f-fecd-4de8-b567-7b0420556985",
        name: "Key Vault Certificates Officer",
        description: "Perform any action on the certificates of a key vault, except managing permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: KEY_VAULT_READS,
            not_actions: NONE,
            data_actions: &[
                "Microsoft.KeyVault/vaults/certificatecas/*",
                "Microsoft.KeyVault/vaults/certificates/*",
                "Microsoft.KeyVault/vaults/certificatecontacts/write",
            ],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
        name: "Key Vault Certificate User",
        description: "Read entire certificate contents including secret and key portion. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: NONE,
            not_actions: NONE,
            data_actions: &[
                "Microsoft.KeyVault/vaults/certificates/read",
                "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
                "Microsoft.KeyVault/vaults/keys/read",
            ],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "21090545-7ca7-4776-b22c-e363652d74d2",
        name: "Key Vault Reader",
        description: "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material. Only works for key vaults that use the 'Azure role-based access control' permission model.",
        permissions: Permissions {
            actions: KEY_VAULT_READS,
            not_actions: NONE,
            data_actions: &[
                "Microsoft.KeyVault/vaults/*/read",
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            ],
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "f25e0fa2-a7c8-4377-a976-54943a77a395",
        name: "Key Vault Contributor",
        description: "Lets you manage key vaults, but not access to them.",
        permissions: Permissions {
            actions: &[
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.KeyVault/*",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Support/*",
            ],
            not_actions: &[
                "Microsoft.KeyVault/locations/deletedVaults/purge/action",
                "Microsoft.KeyVault/hsmPools/*",
                "Microsoft.KeyVault/managedHsms/*",
            ],
            data_actions: NONE,
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "f1a07417-d97a-45cb-824c-7a7467783830",
        name: "Managed Identity Operator",
        description: "Read and Assign User Assigned Identity",
        permissions: Permissions {
            actions: &[
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Support/*",
            ],
            not_actions: NONE,
            data_actions: NONE,
            not_data_actions: NONE,
        },
    },
    BuiltInRole {
        id: "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
        name: "Managed Identity Contributor",
        description: "Create, Read, Update, and Delete User Assigned Identity",
        permissions: Permissions {
            actions: &[
                "Microsoft.ManagedIdentity/userAssignedIdentities/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/write",
                "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Support/*",
            ],
            not_actions: NONE,
            data_actions: NONE,
            not_data_actions: NONE,
        },
    },
];

pub fn builtin_by_id(id: &str) -> Option<&'static BuiltInRole> {
    BUILT_IN_ROLES
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id))
}

/// As `az role assignment create --role "Key Vault Secrets User"` names them.
pub fn builtin_by_name(name: &str) -> Option<&'static BuiltInRole> {
    BUILT_IN_ROLES
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name))
}

/// The role a role definition id names, whatever its form (`/subscriptions/…/roleDefinitions/{id}`,
/// `/providers/…/roleDefinitions/{id}` or the bare GUID).
pub fn builtin_by_definition_id(definition_id: &str) -> Option<&'static BuiltInRole> {
    builtin_by_id(definition_id.trim_end_matches('/').rsplit('/').next()?)
}

/// Case-insensitive match with `*` standing for any run of characters, as in role
/// definitions (`*`, `*/read`, `Microsoft.KeyVault/vaults/secrets/*`).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let action = action.to_ascii_lowercase();
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = action.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

impl Permissions {
    /// Control-plane actions are matched against actions, data actions against data
    /// actions: `*` in `actions` (Owner) grants nothing on a vault's secrets.
    pub fn permits(&self, action: &str, data_action: bool) -> bool {
        let (allow, deny) = if data_action {
            (self.data_actions, self.not_data_actions)
        } else {
            (self.actions, self.not_actions)
        };
        allow.iter().any(|p| action_matches(p, action))
            && !deny.iter().any(|p| action_matches(p, action))
    }
}

/// Whether an assignment at `assignment_scope` applies to `resource`: the scope itself and
/// everything below it, comparing ARM ids case-insensitively on segment boundaries.
pub fn scope_covers(assignment_scope: &str, resource: &str) -> bool {
    let scope = assignment_scope.trim_end_matches('/').to_ascii_lowercase();
    let resource = resource.trim_end_matches('/').to_ascii_lowercase();
    scope.is_empty()
        || resource == scope
        || resource
            .strip_prefix(&scope)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Allowed iff some assignment covering the resource grants the action (Azure RBAC has no
/// ordering among assignments; deny assignments are not modelled).
pub fn is_allowed<'a>(
    assignments: impl IntoIterator<Item = (&'a str, &'a Permissions)>,
    resource: &str,
    action: &str,
    data_action: bool,
) -> bool {
    assignments
        .into_iter()
        .any(|(scope, perms)| scope_covers(scope, resource) && perms.permits(action, data_action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(action_matches("*", "Microsoft.KeyVault/vaults/write"));
        assert!(action_matches(
            "*/read",
            "microsoft.managedidentity/userassignedidentities/read"
        ));
        assert!(!action_matches("*/read", "Microsoft.KeyVault/vaults/write"));
        assert!(action_matches(
            "Microsoft.KeyVault/vaults/secrets/*",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action"
        ));
        assert!(action_matches(
            "Microsoft.Authorization/*/Write",
            "microsoft.authorization/roleassignments/write"
        ));
        assert!(action_matches(
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/secrets/read"
        ));
        assert!(!action_matches(
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/read"
        ));
        assert!(!action_matches(
            "Microsoft.KeyVault/vaults",
            "Microsoft.KeyVault/vaults/read"
        ));
    }

    #[test]
    fn scopes_cover_descendants_on_segment_boundaries() {
        assert!(scope_covers(
            "/subscriptions/S",
            "/subscriptions/s/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/v/secrets/x"
        ));
        assert!(scope_covers("/subscriptions/S/", "/subscriptions/S"));
        assert!(scope_covers("/", "/subscriptions/S"));
        assert!(!scope_covers("/subscriptions/S1", "/subscriptions/S10"));
        assert!(!scope_covers(
            "/subscriptions/S/resourceGroups/a",
            "/subscriptions/S"
        ));
    }

    #[test]
    fn builtin_roles_grant_what_azure_grants() {
        let perms = |name: &str| &builtin_by_name(name).unwrap().permissions;
        let get = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
        let set = "Microsoft.KeyVault/vaults/secrets/setSecret/action";
        assert!(perms("key vault secrets user").permits(get, true));
        assert!(!perms("Key Vault Secrets User").permits(set, true));
        assert!(perms("Key Vault Secrets Officer").permits(set, true));
        assert!(perms("Key Vault Administrator").permits(set, true));
        assert!(
            !perms("Owner").permits(get, true),
            "control-plane * grants no data actions"
        );
        assert!(perms("Owner").permits("Microsoft.Authorization/roleAssignments/write", false));
        assert!(
            !perms("Contributor").permits("Microsoft.Authorization/roleAssignments/write", false)
        );
        assert!(perms("Contributor").permits("Microsoft.KeyVault/vaults/write", false));
        assert!(perms("Reader").permits("Microsoft.KeyVault/vaults/read", false));
        assert!(!perms("Reader").permits("Microsoft.KeyVault/vaults/write", false));
        assert!(!perms("Reader").permits(get, true));
        assert_eq!(
            builtin_by_definition_id("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/4633458B-17DE-408A-B874-0445C86B69E6").unwrap().name,
            "Key Vault Secrets User"
        );
        let owner = &builtin_by_name("Owner").unwrap().permissions;
        let reader = &builtin_by_name("Reader").unwrap().permissions;
        let assignments = [
            ("/subscriptions/S/resourceGroups/a", owner),
            ("/subscriptions/S", reader),
        ];
        assert!(is_allowed(
            assignments,
            "/subscriptions/S/resourceGroups/A/x",
            "x/write",
            false
        ));
        assert!(!is_allowed(
            assignments,
            "/subscriptions/S/resourceGroups/b/x",
            "x/write",
            false
        ));
        assert!(is_allowed(
            assignments,
            "/subscriptions/S/resourceGroups/b/x",
            "x/read",
            false
        ));
    }
}
