//! The tenant's token-signing keys as the token service uses them: parsed once per change,
//! never per token, and swapped whole when another replica (or the rotation job) adds or
//! retires one.

use crate::error::ServerError;
use crate::keyring::SIGNING_KEY_PURPOSE;
use std::collections::HashMap;
use wid_core::key_rotation::{self, RotationPolicy};
use wid_core::model::SigningKeyRecord;
use wid_core::seal::KeyRing;
use wid_jose::{Jwks, SigningKey, VerifyingKey};
use wid_store::Store;

/// Every published key verifies; which one signs depends on the time (see
/// [`key_rotation::signer`]).
pub struct TenantKeys {
    /// Oldest first, with their creation times.
    keys: Vec<(SigningKey, i64)>,
    /// The creation times alone, for choosing the signer without allocating per token.
    created: Vec<i64>,
    verifying: HashMap<String, VerifyingKey>,
    jwks: Jwks,
    activation: i64,
}

impl TenantKeys {
    /// `keys` oldest first, at least one.
    pub fn new(keys: Vec<(SigningKey, i64)>, activation: i64) -> Option<Self> {
        if keys.is_empty() {
            return None;
        }
        let verifying = keys
            .iter()
            .map(|(k, _)| (k.kid().to_owned(), k.verifying_key()))
            .collect();
        let jwks = Jwks {
            keys: keys
                .iter()
                .map(|(k, _)| k.verifying_key().to_jwk())
                .collect(),
        };
        let created = keys.iter().map(|(_, at)| *at).collect();
        Some(Self {
            keys,
            created,
            verifying,
            jwks,
            activation,
        })
    }

    pub fn signing(&self, now: i64) -> &SigningKey {
        let index = key_rotation::signer(&self.created, now, self.activation).unwrap_or(0);
        &self.keys[index].0
    }

    pub fn verifying(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.get(kid)
    }

    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|(k, _)| k.kid()).collect()
    }
}

/// The keys in use, replaced whole on change.
pub type SharedTenantKeys = crate::swap::Swap<TenantKeys>;

impl SharedTenantKeys {
    /// Re-reads the keys; only a changed set is parsed.
    pub async fn reload(
        &self,
        store: &Store,
        ring: &KeyRing,
        tenant_id: &str,
        policy: &RotationPolicy,
    ) -> Result<(), ServerError> {
        let records = store.signing_keys(tenant_id).await?;
        let current = self.get();
        if records.iter().map(|r| r.kid.as_str()).eq(current.kids()) {
            return Ok(());
        }
        let keys = open(&records, ring, policy)?;
        self.replace(keys);
        Ok(())
    }
}

/// Opens sealed key records (oldest first) into usable keys.
pub fn open(
    records: &[SigningKeyRecord],
    ring: &KeyRing,
    policy: &RotationPolicy,
) -> Result<TenantKeys, ServerError> {
    let keys = records
        .iter()
        .map(|r| {
            let der = ring.open(&r.sealed_private_key, SIGNING_KEY_PURPOSE)?;
            Ok((SigningKey::from_pkcs8_der(&der)?, r.created_at))
        })
        .collect::<Result<Vec<_>, ServerError>>()?;
    TenantKeys::new(keys, policy.activation)
        .ok_or_else(|| ServerError::Config("the tenant has no signing key".into()))
}

/// A new key record for `tenant_id`, its private half sealed under the current KEK.
pub fn generate(
    ring: &KeyRing,
    tenant_id: &str,
    now: i64,
) -> Result<SigningKeyRecord, ServerError> {
    let (key, pkcs8) = SigningKey::generate_rsa()?;
    Ok(SigningKeyRecord {
        kid: key.kid().to_owned(),
        tenant_id: tenant_id.to_owned(),
        alg: key.algorithm().to_string(),
        public_spki_der: key.public_spki_der(),
        sealed_private_key: ring.seal(&pkcs8, SIGNING_KEY_PURPOSE)?,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_key_signs_only_once_active_and_every_key_verifies() {
        let (old, _) = SigningKey::generate_rsa().unwrap();
        let (new, _) = SigningKey::generate_rsa().unwrap();
        let (old_kid, new_kid) = (old.kid().to_owned(), new.kid().to_owned());
        let keys = TenantKeys::new(vec![(old, 0), (new, 100)], 50).unwrap();
        assert_eq!(keys.signing(149).kid(), old_kid);
        assert_eq!(keys.signing(150).kid(), new_kid);
        assert!(keys.verifying(&old_kid).is_some() && keys.verifying(&new_kid).is_some());
        assert_eq!(keys.jwks().keys.len(), 2);
        assert!(TenantKeys::new(Vec::new(), 50).is_none());
    }
}
