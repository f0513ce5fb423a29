//! What each Key Vault data-plane operation needs, IO-free: the RBAC data action a role must
//! grant and the access-policy permission a policy must list, for secrets, keys and
//! certificates alike. Every vault route names one [`VaultOp`]; the guard decides on it.

use crate::model::AccessPermissions;

/// The three object collections of a vault, as they appear in resource ids
/// (`…/vaults/{v}/keys/{name}`) and in access policies (`permissions.keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Secrets,
    Keys,
    Certificates,
}

impl Collection {
    /// The resource-id segment objects of this collection sit under.
    pub fn segment(self) -> &'static str {
        match self {
            Collection::Secrets => "secrets",
            Collection::Keys => "keys",
            Collection::Certificates => "certificates",
        }
    }

    /// The list of an access policy that governs this collection.
    fn policy_list(self, permissions: &AccessPermissions) -> &[String] {
        match self {
            Collection::Secrets => &permissions.secrets,
            Collection::Keys => &permissions.keys,
            Collection::Certificates => &permissions.certificates,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOp {
    Get,
    List,
    Set,
    Update,
    Delete,
    Backup,
    Restore,
    Recover,
    Purge,
    GetDeleted,
    ListDeleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOp {
    Get,
    List,
    Create,
    Import,
    Update,
    Delete,
    Backup,
    Restore,
    Recover,
    Purge,
    GetDeleted,
    ListDeleted,
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    WrapKey,
    UnwrapKey,
    Rotate,
    GetRotationPolicy,
    SetRotationPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateOp {
    Get,
    List,
    Create,
    Import,
    Update,
    Delete,
    Backup,
    Restore,
    Recover,
    Purge,
    GetDeleted,
    ListDeleted,
    /// The pending operation: read, cancel, delete.
    GetOperation,
    UpdateOperation,
    DeleteOperation,
    ManageContacts,
    GetIssuers,
    ManageIssuers,
}

/// One data-plane operation; the route that matched names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultOp {
    Secret(SecretOp),
    Key(KeyOp),
    Certificate(CertificateOp),
}

impl From<SecretOp> for VaultOp {
    fn from(op: SecretOp) -> Self {
        VaultOp::Secret(op)
    }
}

impl From<KeyOp> for VaultOp {
    fn from(op: KeyOp) -> Self {
        VaultOp::Key(op)
    }
}

impl From<CertificateOp> for VaultOp {
    fn from(op: CertificateOp) -> Self {
        VaultOp::Certificate(op)
    }
}

impl VaultOp {
    pub fn collection(self) -> Collection {
        match self {
            VaultOp::Secret(_) => Collection::Secrets,
            VaultOp::Key(_) => Collection::Keys,
            VaultOp::Certificate(_) => Collection::Certificates,
        }
    }

    /// The data action Azure RBAC checks (Key Vault's "RBAC guide" table).
    pub fn data_action(self) -> &'static str {
        match self {
            VaultOp::Secret(op) => match op {
                SecretOp::Get => "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                SecretOp::List | SecretOp::GetDeleted | SecretOp::ListDeleted => {
                    "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
                }
                SecretOp::Set | SecretOp::Update => {
                    "Microsoft.KeyVault/vaults/secrets/setSecret/action"
                }
                SecretOp::Delete => "Microsoft.KeyVault/vaults/secrets/delete",
                SecretOp::Backup => "Microsoft.KeyVault/vaults/secrets/backup/action",
                SecretOp::Restore => "Microsoft.KeyVault/vaults/secrets/restore/action",
                SecretOp::Recover => "Microsoft.KeyVault/vaults/secrets/recover/action",
                SecretOp::Purge => "Microsoft.KeyVault/vaults/secrets/purge/action",
            },
            VaultOp::Key(op) => match op {
                KeyOp::Get | KeyOp::List | KeyOp::GetDeleted | KeyOp::ListDeleted => {
                    "Microsoft.KeyVault/vaults/keys/read"
                }
                KeyOp::Create => "Microsoft.KeyVault/vaults/keys/create/action",
                KeyOp::Import => "Microsoft.KeyVault/vaults/keys/import/action",
                KeyOp::Update => "Microsoft.KeyVault/vaults/keys/update/action",
                KeyOp::Delete => "Microsoft.KeyVault/vaults/keys/delete",
                KeyOp::Backup => "Microsoft.KeyVault/vaults/keys/backup/action",
                KeyOp::Restore => "Microsoft.KeyVault/vaults/keys/restore/action",
                KeyOp::Recover => "Microsoft.KeyVault/vaults/keys/recover/action",
                KeyOp::Purge => "Microsoft.KeyVault/vaults/keys/purge/action",
                KeyOp::Sign => "Microsoft.KeyVault/vaults/keys/sign/action",
                KeyOp::Verify => "Microsoft.KeyVault/vaults/keys/verify/action",
                KeyOp::Encrypt => "Microsoft.KeyVault/vaults/keys/encrypt/action",
                KeyOp::Decrypt => "Microsoft.KeyVault/vaults/keys/decrypt/action",
                KeyOp::WrapKey => "Microsoft.KeyVault/vaults/keys/wrap/action",
                KeyOp::UnwrapKey => "Microsoft.KeyVault/vaults/keys/unwrap/action",
                KeyOp::Rotate => "Microsoft.KeyVault/vaults/keys/rotate/action",
                KeyOp::GetRotationPolicy => "Microsoft.KeyVault/vaults/keyrotationpolicies/read",
                KeyOp::SetRotationPolicy => "Microsoft.KeyVault/vaults/keyrotationpolicies/write",
            },
            VaultOp::Certificate(op) => match op {
                CertificateOp::Get
                | CertificateOp::List
                | CertificateOp::GetDeleted
                | CertificateOp::ListDeleted
                | CertificateOp::GetOperation => "Microsoft.KeyVault/vaults/certificates/read",
                CertificateOp::Create => "Microsoft.KeyVault/vaults/certificates/create/action",
                CertificateOp::Import => "Microsoft.KeyVault/vaults/certificates/import/action",
                CertificateOp::Update | CertificateOp::UpdateOperation => {
                    "Microsoft.KeyVault/vaults/certificates/update/action"
                }
                CertificateOp::Delete | CertificateOp::DeleteOperation => {
                    "Microsoft.KeyVault/vaults/certificates/delete"
                }
                CertificateOp::Backup => "Microsoft.KeyVault/vaults/certificates/backup/action",
                CertificateOp::Restore => "Microsoft.KeyVault/vaults/certificates/restore/action",
                CertificateOp::Recover => "Microsoft.KeyVault/vaults/certificates/recover/action",
                CertificateOp::Purge => "Microsoft.KeyVault/vaults/certificates/purge/action",
                CertificateOp::ManageContacts => {
                    "Microsoft.KeyVault/vaults/certificatecontacts/write"
                }
                CertificateOp::GetIssuers => "Microsoft.KeyVault/vaults/certificatecas/read",
                CertificateOp::ManageIssuers => "Microsoft.KeyVault/vaults/certificatecas/write",
            },
        }
    }

    /// The access-policy permission, as `az keyvault set-policy --key-permissions` spells it.
    pub fn policy_permission(self) -> &'static str {
        match self {
            VaultOp::Secret(op) => match op {
                SecretOp::Get | SecretOp::GetDeleted => "get",
                SecretOp::List | SecretOp::ListDeleted => "list",
                SecretOp::Set | SecretOp::Update => "set",
                SecretOp::Delete => "delete",
                SecretOp::Backup => "backup",
                SecretOp::Restore => "restore",
                SecretOp::Recover => "recover",
                SecretOp::Purge => "purge",
            },
            VaultOp::Key(op) => match op {
                KeyOp::Get | KeyOp::GetDeleted => "get",
                KeyOp::List | KeyOp::ListDeleted => "list",
                KeyOp::Create => "create",
                KeyOp::Import => "import",
                KeyOp::Update => "update",
                KeyOp::Delete => "delete",
                KeyOp::Backup => "backup",
                KeyOp::Restore => "restore",
                KeyOp::Recover => "recover",
                KeyOp::Purge => "purge",
                KeyOp::Sign => "sign",
                KeyOp::Verify => "verify",
                KeyOp::Encrypt => "encrypt",
                KeyOp::Decrypt => "decrypt",
                KeyOp::WrapKey => "wrapKey",
                KeyOp::UnwrapKey => "unwrapKey",
                KeyOp::Rotate => "rotate",
                KeyOp::GetRotationPolicy => "getrotationpolicy",
                KeyOp::SetRotationPolicy => "setrotationpolicy",
            },
            VaultOp::Certificate(op) => match op {
                CertificateOp::Get | CertificateOp::GetDeleted | CertificateOp::GetOperation => {
                    "get"
                }
                CertificateOp::List | CertificateOp::ListDeleted => "list",
                CertificateOp::Create => "create",
                CertificateOp::Import => "import",
                CertificateOp::Update | CertificateOp::UpdateOperation => "update",
                CertificateOp::Delete | CertificateOp::DeleteOperation => "delete",
                CertificateOp::Backup => "backup",
                CertificateOp::Restore => "restore",
                CertificateOp::Recover => "recover",
                CertificateOp::Purge => "purge",
                CertificateOp::ManageContacts => "managecontacts",
                CertificateOp::GetIssuers => "getissuers",
                CertificateOp::ManageIssuers => "manageissuers",
            },
        }
    }

    /// Whether an access policy's permissions allow this operation: the permission itself
    /// (any case, as Key Vault stores what the client sent) or `all`.
    pub fn policy_permits(self, permissions: &AccessPermissions) -> bool {
        let wanted = self.policy_permission();
        self.collection()
            .policy_list(permissions)
            .iter()
            .any(|p| p.eq_ignore_ascii_case(wanted) || p.eq_ignore_ascii_case("all"))
    }
}

/// The data-plane versions Key Vault serves, oldest first; the SDKs send one of the last.
pub const API_VERSIONS: &[&str] = &[
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
];

/// What Key Vault's refusal names as the version to use.
pub const LATEST_STABLE_API_VERSION: &str = "7.6";

/// Whether the data plane serves `requested`: a listed version, a `7.N-preview[.M]` of a
/// listed or later `7.N`, or (as ARM's policy does for management) a dated version newer than
/// every listed one, since a client released after wid sends versions wid could not list and
/// the shapes only grow. Anything else is refused with Key Vault's BadParameter.
pub fn serves_api_version(requested: &str) -> bool {
    if API_VERSIONS.contains(&requested) {
        return true;
    }
    let (base, preview) = match requested.split_once("-preview") {
        Some((base, rest)) => {
            let numbered = rest.is_empty()
                || rest
                    .strip_prefix('.')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !numbered {
                return false;
            }
            (base, true)
        }
        None => (requested, false),
    };
    if let Some(minor) = base.strip_prefix("7.") {
        let Ok(minor) = minor.parse::<u8>() else {
            return false;
        };
        return minor.to_string() == base[2..] && (minor > 6 || (preview && minor >= 3));
    }
    crate::api_version::resolve(&["2025-07-01"], requested).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::builtin_by_name;

    fn grants(role: &str, op: VaultOp) -> bool {
        builtin_by_name(role)
            .unwrap()
            .permissions
            .permits(op.data_action(), true)
    }

    #[test]
    fn built_in_roles_grant_the_operations_azure_documents() {
        use CertificateOp as C;
        use KeyOp as K;
        use SecretOp as S;
        use VaultOp::{Certificate as Cert, Key, Secret};
        let table: &[(&str, VaultOp, bool)] = &[
            ("Key Vault Crypto Officer", Key(K::Create), true),
            ("Key Vault Crypto Officer", Key(K::Purge), true),
            ("Key Vault Crypto Officer", Key(K::SetRotationPolicy), true),
            ("Key Vault Crypto Officer", Secret(S::Get), false),
            ("Key Vault Crypto User", Key(K::Sign), true),
            ("Key Vault Crypto User", Key(K::Decrypt), true),
            ("Key Vault Crypto User", Key(K::Get), true),
            ("Key Vault Crypto User", Key(K::Create), false),
            ("Key Vault Crypto User", Key(K::Delete), false),
            (
                "Key Vault Crypto Service Encryption User",
                Key(K::WrapKey),
                true,
            ),
            (
                "Key Vault Crypto Service Encryption User",
                Key(K::UnwrapKey),
                true,
            ),
            (
                "Key Vault Crypto Service Encryption User",
                Key(K::Get),
                true,
            ),
            (
                "Key Vault Crypto Service Encryption User",
                Key(K::Sign),
                false,
            ),
            (
                "Key Vault Crypto Service Encryption User",
                Key(K::Encrypt),
                false,
            ),
            ("Key Vault Certificates Officer", Cert(C::Create), true),
            ("Key Vault Certificates Officer", Cert(C::Purge), true),
            (
                "Key Vault Certificates Officer",
                Cert(C::ManageContacts),
                true,
            ),
            ("Key Vault Certificates Officer", Secret(S::Get), false),
            ("Key Vault Certificate User", Cert(C::Get), true),
            ("Key Vault Certificate User", Secret(S::Get), true),
            ("Key Vault Certificate User", Key(K::Get), true),
            ("Key Vault Certificate User", Cert(C::Create), false),
            ("Key Vault Reader", Key(K::List), true),
            ("Key Vault Reader", Cert(C::List), true),
            ("Key Vault Reader", Secret(S::List), true),
            ("Key Vault Reader", Secret(S::Get), false),
            ("Key Vault Reader", Key(K::Sign), false),
            ("Key Vault Administrator", Key(K::Sign), true),
            ("Key Vault Administrator", Cert(C::Import), true),
            ("Key Vault Administrator", Secret(S::Purge), true),
            ("Key Vault Secrets User", Key(K::Get), false),
            ("Owner", Key(K::Get), false),
        ];
        for (role, op, expected) in table {
            assert_eq!(grants(role, *op), *expected, "{role} {op:?}");
        }
    }

    #[test]
    fn access_policies_name_each_collection_apart() {
        let permissions = AccessPermissions {
            keys: vec!["Get".into(), "WrapKey".into()],
            secrets: vec!["all".into()],
            certificates: vec![],
            storage: vec![],
        };
        let table: &[(VaultOp, bool)] = &[
            (VaultOp::Key(KeyOp::Get), true),
            (VaultOp::Key(KeyOp::GetDeleted), true),
            (VaultOp::Key(KeyOp::WrapKey), true),
            (VaultOp::Key(KeyOp::UnwrapKey), false),
            (VaultOp::Key(KeyOp::List), false),
            (VaultOp::Key(KeyOp::Sign), false),
            (VaultOp::Secret(SecretOp::Purge), true),
            (VaultOp::Certificate(CertificateOp::Get), false),
        ];
        for (op, expected) in table {
            assert_eq!(op.policy_permits(&permissions), *expected, "{op:?}");
        }
    }

    #[test]
    fn api_versions_as_key_vault_and_newer_clients_send_them() {
        for (version, served) in [
            ("7.4", true),
            ("7.5", true),
            ("7.6", true),
            ("2016-10-01", true),
            ("2025-07-01", true),
            ("7.6-preview.2", true),
            ("7.5-preview.1", true),
            ("7.3-preview", true),
            ("7.7", true),
            ("2026-02-01", true),
            ("7.2-preview", false),
            ("7.07", false),
            ("7.", false),
            ("7.6-preview.", false),
            ("7.6-previewx", false),
            ("8.0", false),
            ("2024-01-01", false),
            ("2026-02-01-preview", true),
            ("2024-06-01-preview", false),
            ("", false),
            ("latest", false),
        ] {
            assert_eq!(serves_api_version(version), served, "{version:?}");
        }
    }
}
