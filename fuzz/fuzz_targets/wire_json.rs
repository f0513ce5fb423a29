//! The JSON bodies clients send to the management plane and to Key Vault, decoded into the
//! `wid_types` wire types the handlers take, then checked as the handlers check them.
//!
//! Input: one byte choosing the body's type, then the body.
//! Properties: decoding never panics; a decoded body re-encodes to JSON that decodes to the
//! same value (so what wid stores and echoes is what the client sent); the pure validation
//! the handlers run next never panics either; a secret value never shows in `Debug`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use wid_types::keyvault::{SecretRestoreParameters, SecretSetParameters, SecretUpdateParameters};
use wid_types::resources::{
    ClusterCreate, FederatedCredentialCreate, IdentityCreate, IdentityPatch, IssuerKeyAdd,
    Redacted, ResourceGroupCreate, RoleAssignmentCreate, SecretResourceInput,
    ServiceAccountTokenRequest, VaultInput, VaultNameCheck,
};

fuzz_target!(|data: &[u8]| {
    let Some((kind, body)) = data.split_first() else {
        return;
    };
    match kind % 14 {
        0 => {
            round_trip::<ResourceGroupCreate>(body);
        }
        1 => {
            round_trip::<IdentityCreate>(body);
        }
        2 => {
            round_trip::<IdentityPatch>(body);
        }
        3 => {
            if let Some(fic) = round_trip::<FederatedCredentialCreate>(body) {
                let p = fic.properties.unwrap_or_default();
                let audiences = p.audiences.unwrap_or_default();
                let (issuer, subject) =
                    (p.issuer.unwrap_or_default(), p.subject.unwrap_or_default());
                if wid_core::federation::validate(&issuer, &subject, &audiences).is_ok() {
                    assert!(issuer.starts_with("https://") && audiences.len() == 1);
                }
            }
        }
        4 => {
            round_trip::<ClusterCreate>(body);
        }
        5 => {
            round_trip::<IssuerKeyAdd>(body);
        }
        6 => {
            if let Some(body) = round_trip::<ServiceAccountTokenRequest>(body) {
                service_account_token(body);
            }
        }
        7 => {
            round_trip::<RoleAssignmentCreate>(body);
        }
        8 => {
            round_trip::<VaultInput>(body);
        }
        9 => {
            round_trip::<SecretSetParameters>(body);
        }
        10 => {
            round_trip::<SecretUpdateParameters>(body);
        }
        11 => {
            round_trip::<SecretRestoreParameters>(body);
        }
        12 => {
            if let Some(secret) = round_trip::<SecretResourceInput>(body) {
                // What a log would print does not depend on the value.
                let mut other = secret.clone();
                if let Some(p) = other.properties.as_mut() {
                    p.value = p.value.as_ref().map(|v| Redacted(format!("{}-other", v.0)));
                }
                assert_eq!(format!("{secret:?}"), format!("{other:?}"));
            }
        }
        _ => {
            if let Some(check) = round_trip::<VaultNameCheck>(body) {
                let name = check.name.unwrap_or_default();
                if wid_core::names::vault(&name).is_ok() {
                    assert!(name.len() <= 24 && !name.contains(['/', '.', '%']));
                }
            }
        }
    }
});

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(body: &[u8]) -> Option<T> {
    let value: T = serde_json::from_slice(body).ok()?;
    let encoded = serde_json::to_vec(&value).expect("a decoded body encodes");
    if is_unreadable_by_serde_json(&encoded) {
        return Some(value);
    }
    let again: T = serde_json::from_slice(&encoded).expect("a body wid encoded decodes");
    assert_eq!(value, again, "{}", String::from_utf8_lossy(&encoded));
    Some(value)
}

/// As the `serviceAccountToken` handler reads the body. The subject of an accepted request
/// must name exactly its namespace and service account: federated credentials match on it,
/// so two requests sharing a subject would share identities.
fn service_account_token(body: ServiceAccountTokenRequest) {
    use wid_core::cluster;
    let request = cluster::TokenRequest::from(body);
    if request.validate().is_ok() {
        let subject =
            cluster::service_account_subject(&request.namespace, &request.service_account);
        let parts: Vec<&str> = subject.split(':').collect();
        assert_eq!(
            parts,
            [
                "system",
                "serviceaccount",
                &request.namespace,
                &request.service_account
            ]
        );
    }
}

/// serde_json reads an object whose first key is its private `RawValue` token as a raw
/// value, so it cannot read back an object it wrote with that key sorted first. Only free-form
/// members (`accessPolicies`) can hold one, and the handler reads those into typed policies
/// without writing them out again, so the server never meets this.
fn is_unreadable_by_serde_json(encoded: &[u8]) -> bool {
    const TOKEN: &[u8] = b"$serde_json::private::RawValue";
    encoded.windows(TOKEN.len()).any(|w| w == TOKEN)
}
