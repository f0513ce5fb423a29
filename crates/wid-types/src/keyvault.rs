//! Key Vault's secret request bodies (contracts.md §4), as clients send them to
//! `{vault}.vault.{suffix}`. Named after the Key Vault REST API's models. They live here
//! rather than in the server so the bodies an attacker controls can be decoded, and
//! fuzzed, without a running server.

use crate::resources::Redacted;
use crate::resources::Tags;
use serde::{Deserialize, Serialize};

/// `attributes` of a secret: all optional, so an update changes only what it names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretAttributes {
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// `PUT /secrets/{name}`: a new version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSetParameters {
    pub value: Redacted,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub attributes: Option<SecretAttributes>,
}

/// `PATCH /secrets/{name}[/{version}]`: everything but the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretUpdateParameters {
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub attributes: Option<SecretAttributes>,
}

/// `POST /secrets/restore`: the blob a backup returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRestoreParameters {
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_value_in_a_body_is_not_shown_by_debug() {
        let body: SecretSetParameters =
            serde_json::from_value(serde_json::json!({"value": "hunter2-value"})).unwrap();
        assert_eq!(body.value.0, "hunter2-value");
        assert!(!format!("{body:?}").contains("hunter2-value"));
    }
}
