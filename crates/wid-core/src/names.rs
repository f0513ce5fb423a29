//! Name rules of ARM resources. ARM rejects a bad name before anything else happens, so the
//! planes check here first and answer with the resource type's own error code.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("Resource group '{0}' is invalid. The name can contain only letters, digits, underscores, periods, hyphens and parentheses, must be 1-90 characters long and cannot end with a period.")]
    ResourceGroup(String),
    #[error("Resource name '{0}' is invalid. The name must be 3-128 characters long, start with a letter or number, and contain only letters, numbers, hyphens and underscores.")]
    Identity(String),
    #[error("Federated Identity Credential name '{0}' is invalid. The name must be 3-120 characters long, start with a letter or number, and contain only letters, numbers, hyphens and underscores.")]
    FederatedCredential(String),
    #[error("The provided subscription identifier '{0}' is malformed or invalid.")]
    SubscriptionId(String),
    #[error("The vault name '{0}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.")]
    Vault(String),
    #[error("The secret name '{0}' is invalid. Secret names must be 1-127 characters long and contain only 0-9, a-z, A-Z, and -.")]
    Secret(String),
}

/// Resource group names: 1-90 of letters, digits, `_`, `-`, `.`, `(`, `)`; not ending in `.`.
/// ARM also accepts Unicode letters and digits, and so do we.
pub fn resource_group(name: &str) -> Result<(), NameError> {
    let ok = (1..=90).contains(&name.chars().count())
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'));
    ok.then_some(())
        .ok_or_else(|| NameError::ResourceGroup(name.to_owned()))
}

fn alnum_dash_underscore(name: &str, min: usize, max: usize) -> bool {
    let len = name.len();
    let mut chars = name.chars();
    (min..=max).contains(&len)
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// User-assigned identity names: 3-128 characters, alphanumerics, `-` and `_`, starting
/// with a letter or digit.
pub fn identity(name: &str) -> Result<(), NameError> {
    alnum_dash_underscore(name, 3, 128)
        .then_some(())
        .ok_or_else(|| NameError::Identity(name.to_owned()))
}

/// Federated credential names follow the ARM path pattern `^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$`.
pub fn federated_credential(name: &str) -> Result<(), NameError> {
    alnum_dash_underscore(name, 3, 120)
        .then_some(())
        .ok_or_else(|| NameError::FederatedCredential(name.to_owned()))
}

/// Key vault names: 3-24 letters, digits and hyphens, starting with a letter, ending with a
/// letter or digit, no consecutive hyphens. The name is a DNS label under the vault suffix,
/// hence global.
pub fn vault(name: &str) -> Result<(), NameError> {
    let ok = (3..=24).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("--");
    ok.then_some(())
        .ok_or_else(|| NameError::Vault(name.to_owned()))
}

/// Secret names, the same on the data plane and as ARM child resources: 1-127 letters,
/// digits and hyphens.
pub fn secret(name: &str) -> Result<(), NameError> {
    let ok = (1..=127).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then_some(())
        .ok_or_else(|| NameError::Secret(name.to_owned()))
}

/// Subscription ids are GUIDs.
pub fn subscription_id(id: &str) -> Result<(), NameError> {
    is_guid(id)
        .then_some(())
        .ok_or_else(|| NameError::SubscriptionId(id.to_owned()))
}

/// True for the 8-4-4-4-12 hex form, the only GUID form ARM and Entra print.
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_group_rules() {
        for ok in ["a", "my-RG_1.(x)", &"r".repeat(90)] {
            assert!(resource_group(ok).is_ok(), "{ok}");
        }
        for bad in ["", "rg.", "rg/x", "rg x", &"r".repeat(91)] {
            assert!(resource_group(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identity_and_credential_rules() {
        assert!(identity("myIdentity-1_x").is_ok());
        assert!(identity("ab").is_err());
        assert!(identity("-abc").is_err());
        assert!(identity("a.bc").is_err());
        assert!(identity(&"a".repeat(129)).is_err());
        assert!(federated_credential("myFedIdentity_1-x").is_ok());
        assert!(federated_credential("_abc").is_err());
        assert!(federated_credential("ab").is_err());
        assert!(federated_credential(&"a".repeat(120)).is_ok());
        assert!(federated_credential(&"a".repeat(121)).is_err());
        assert!(federated_credential("has space").is_err());
    }

    #[test]
    fn vault_and_secret_rules() {
        for ok in ["kv1", "my-vault-1", "A23", &format!("a{}", "b".repeat(23))] {
            assert_eq!(vault(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ab",
            "1kv",
            "kv--x",
            "kv-",
            "kv_x",
            "k.v",
            &format!("a{}", "b".repeat(24)),
        ] {
            assert_eq!(vault(bad), Err(NameError::Vault(bad.to_owned())), "{bad}");
        }
        for ok in ["a", "-", "my-Secret-1", &"s".repeat(127)] {
            assert_eq!(secret(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a_b", "a b", "a/b", "é", &"s".repeat(128)] {
            assert_eq!(secret(bad), Err(NameError::Secret(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn guid() {
        assert!(is_guid("8e3af657-a8ff-443c-a75c-2fe8c4bcb635"));
        assert!(!is_guid("8e3af657a8ff443ca75c2fe8c4bcb635"));
        assert!(!is_guid("8e3af657-a8ff-443c-a75c-2fe8c4bcb63g"));
    }
}
