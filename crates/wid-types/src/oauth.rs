//! The token endpoint's bodies (contracts.md §1.3-1.4). v2.0 sends numbers as JSON integers,
//! v1.0 as strings: MSAL adds `expires_in` to a float without converting, so the types matter.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponseV2 {
    pub token_type: String,
    pub expires_in: i64,
    pub ext_expires_in: i64,
    pub access_token: String,
    /// User grants only: the delegated scopes, refresh token, id token and `client_info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponseV1 {
    pub token_type: String,
    pub expires_in: String,
    pub ext_expires_in: String,
    pub expires_on: String,
    pub not_before: String,
    pub resource: String,
    pub access_token: String,
    /// User grants only: the delegated scopes, refresh token, id token and `client_info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
}

/// Entra's error body. `error_description` carries `AADSTS{code}: …` and the trace lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
    pub error_codes: Vec<u32>,
    pub timestamp: String,
    pub trace_id: String,
    pub correlation_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_uri: Option<String>,
}
