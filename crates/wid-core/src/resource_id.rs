//! ARM resource ids as wid prints them. Azure is not consistent about the casing of
//! `resourceGroups` (managed identities print `resourcegroups`), and clients compare ids
//! case-insensitively, so each resource type keeps the form Azure uses for it.

/// `name` as one segment of an id: `%` and `/` escaped, so that a name holding `/` (once
/// percent-decoded from a path) cannot shift the id's structure, and distinct names stay
/// distinct.
pub fn segment(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains(['%', '/']) {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

pub fn subscription(sub: &str) -> String {
    format!("/subscriptions/{sub}")
}

pub fn resource_group(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

pub const IDENTITY_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
pub const CREDENTIAL_TYPE: &str =
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials";
pub const RESOURCE_GROUP_TYPE: &str = "Microsoft.Resources/resourceGroups";

pub const VAULT_TYPE: &str = "Microsoft.KeyVault/vaults";

/// A vault's id, as ARM renders it and as role-assignment scopes name it.
pub fn vault(sub: &str, rg: &str, name: &str) -> String {
    format!("{}/providers/{VAULT_TYPE}/{name}", resource_group(sub, rg))
}

pub fn identity(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{rg}/providers/{IDENTITY_TYPE}/{name}")
}

pub fn federated_credential(sub: &str, rg: &str, identity_name: &str, name: &str) -> String {
    format!(
        "{}/federatedIdentityCredentials/{name}",
        identity(sub, rg, identity_name)
    )
}
