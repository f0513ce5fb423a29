//! OIDC documents of a cluster's service-account issuer.

use serde::{Deserialize, Serialize};

/// kube-apiserver's discovery document: exactly these five members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerDiscovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub response_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
}
