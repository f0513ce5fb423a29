//! Secrets of key vaults as every plane writes them: the Key Vault data plane
//! (`PUT /secrets/{name}`) and ARM's child resource (`…/vaults/{v}/secrets/{name}`, what
//! Bicep and Terraform use) put versions into the same store, sealed under the vault's data
//! key, so each reads what the other wrote.

use crate::model::{Secret, SecretVersion, Tags, VaultSettings};
use crate::seal::{Kek, SealError};
use thiserror::Error;
use zeroize::Zeroizing;

/// Azure's limit on a secret value.
pub const MAX_VALUE_BYTES: usize = 25 * 1024;

#[derive(Debug, Error)]
pub enum SecretWriteError {
    #[error("The secret value is {0} bytes; the limit is {MAX_VALUE_BYTES} bytes.")]
    TooLarge(usize),
    #[error("the value could not be sealed: {0}")]
    Seal(#[from] SealError),
}

/// The purpose a value is sealed under: a sealed value moved to another vault, secret or
/// version does not open.
pub fn value_purpose(vault: &str, name: &str, version: &str) -> String {
    format!(
        "secret:{}/{}/{}",
        vault.to_ascii_lowercase(),
        name.to_ascii_lowercase(),
        version
    )
}

/// A new version as a write supplies it; unset attributes take Key Vault's defaults.
pub struct NewVersion<'a> {
    pub value: &'a str,
    pub content_type: Option<String>,
    pub tags: Tags,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// The version to store: a fresh version id, the value sealed under `data_key`.
pub fn seal_new_version(
    data_key: &Kek,
    vault: &str,
    name: &str,
    new: NewVersion<'_>,
    now: i64,
) -> Result<SecretVersion, SecretWriteError> {
    if new.value.len() > MAX_VALUE_BYTES {
        return Err(SecretWriteError::TooLarge(new.value.len()));
    }
    let version = crate::ids::random_uuid().simple().to_string();
    let sealed_value =
        data_key.seal(new.value.as_bytes(), &value_purpose(vault, name, &version))?;
    Ok(SecretVersion {
        version,
        sealed_value,
        content_type: new.content_type,
        tags: new.tags,
        enabled: new.enabled.unwrap_or(true),
        nbf: new.nbf,
        exp: new.exp,
        created: now,
        updated: now,
        managed: false,
    })
}

/// The clear value of the version `secret` carries.
pub fn open_value(
    data_key: &Kek,
    vault: &str,
    secret: &Secret,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    data_key.open(
        &secret.version.sealed_value,
        &value_purpose(vault, &secret.name, &secret.version.version),
    )
}

/// A change to a version's metadata: what is `None` stays as it is.
#[derive(Debug, Default)]
pub struct VersionUpdate {
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

pub fn apply_update(v: &mut SecretVersion, change: VersionUpdate, now: i64) {
    if let Some(ct) = change.content_type {
        v.content_type = Some(ct);
    }
    if let Some(tags) = change.tags {
        v.tags = tags;
    }
    v.enabled = change.enabled.unwrap_or(v.enabled);
    v.nbf = change.nbf.or(v.nbf);
    v.exp = change.exp.or(v.exp);
    v.updated = now;
}

/// How recoverable a deleted secret is, from its vault's settings.
pub fn recovery_level(s: &VaultSettings) -> &'static str {
    match (
        s.enable_purge_protection,
        s.soft_delete_retention_in_days == 90,
    ) {
        (true, true) => "Recoverable",
        (true, false) => "CustomizedRecoverable",
        (false, true) => "Recoverable+Purgeable",
        (false, false) => "CustomizedRecoverable+Purgeable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(value: &str) -> NewVersion<'_> {
        NewVersion {
            value,
            content_type: Some("text/plain".into()),
            tags: Tags::new(),
            enabled: None,
            nbf: None,
            exp: Some(99),
        }
    }

    #[test]
    fn a_sealed_version_opens_only_where_it_was_written() {
        let (key, _) = Kek::generate().unwrap();
        let v = seal_new_version(&key, "KV", "Name", new("hello"), 7).unwrap();
        assert_eq!(
            (v.enabled, v.exp, v.created, v.updated),
            (true, Some(99), 7, 7)
        );
        assert_eq!(v.version.len(), 32);
        assert!(!v.sealed_value.windows(5).any(|w| w == b"hello"));
        let secret = |name: &str, version: &SecretVersion| Secret {
            name: name.to_owned(),
            deleted_at: None,
            scheduled_purge_at: None,
            version: version.clone(),
        };
        assert_eq!(
            open_value(&key, "kv", &secret("name", &v))
                .unwrap()
                .as_slice(),
            b"hello",
            "names compare case-insensitively"
        );
        assert!(open_value(&key, "kv2", &secret("name", &v)).is_err());
        assert!(open_value(&key, "kv", &secret("other", &v)).is_err());
        let mut moved = v.clone();
        moved.version = "0".repeat(32);
        assert!(open_value(&key, "kv", &secret("name", &moved)).is_err());
        let (other_key, _) = Kek::generate().unwrap();
        assert!(open_value(&other_key, "kv", &secret("name", &v)).is_err());
    }

    #[test]
    fn limits_and_updates() {
        let (key, _) = Kek::generate().unwrap();
        let big = "x".repeat(MAX_VALUE_BYTES + 1);
        assert!(matches!(
            seal_new_version(&key, "kv", "n", new(&big), 0),
            Err(SecretWriteError::TooLarge(n)) if n == MAX_VALUE_BYTES + 1
        ));
        let mut v =
            seal_new_version(&key, "kv", "n", new(&"x".repeat(MAX_VALUE_BYTES)), 0).unwrap();
        apply_update(
            &mut v,
            VersionUpdate {
                enabled: Some(false),
                nbf: Some(5),
                ..VersionUpdate::default()
            },
            9,
        );
        assert_eq!(
            (
                v.enabled,
                v.nbf,
                v.exp,
                v.content_type.as_deref(),
                v.updated
            ),
            (false, Some(5), Some(99), Some("text/plain"), 9)
        );
    }

    #[test]
    fn recovery_levels() {
        let mut s = VaultSettings {
            sku_name: "standard".into(),
            enable_rbac_authorization: true,
            enable_soft_delete: true,
            soft_delete_retention_in_days: 90,
            enable_purge_protection: true,
            access_policies: vec![],
            enabled_for_deployment: false,
            enabled_for_disk_encryption: false,
            enabled_for_template_deployment: false,
        };
        assert_eq!(recovery_level(&s), "Recoverable");
        s.soft_delete_retention_in_days = 7;
        assert_eq!(recovery_level(&s), "CustomizedRecoverable");
        s.enable_purge_protection = false;
        assert_eq!(recovery_level(&s), "CustomizedRecoverable+Purgeable");
        s.soft_delete_retention_in_days = 90;
        assert_eq!(recovery_level(&s), "Recoverable+Purgeable");
    }
}
