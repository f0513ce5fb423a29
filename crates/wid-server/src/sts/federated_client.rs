//! The clients that exchange a federated assertion for a token: user-assigned managed
//! identities and application registrations. The exchange matches an assertion against
//! either's credentials in the same way (`wid_core::federation::match_assertion`); what
//! differs is whom the token names.

use wid_core::model::{
    AppFederatedCredential, AppServicePrincipal, Application, Audit, FederatedCredential,
    ManagedIdentity,
};

/// A client id's federated principal and its credentials, as `AppState::clients` caches it.
#[derive(Debug, Clone)]
pub struct FederatedClient {
    pub principal: FederatedPrincipal,
    pub credentials: Vec<FederatedCredential>,
}

#[derive(Debug, Clone)]
pub enum FederatedPrincipal {
    Identity(ManagedIdentity),
    /// An application, with its service principal in the application's tenant if it has one.
    Application {
        app: Application,
        service_principal: Option<AppServicePrincipal>,
    },
}

impl FederatedClient {
    pub fn tenant_id(&self) -> &str {
        match &self.principal {
            FederatedPrincipal::Identity(mi) => &mi.tenant_id,
            FederatedPrincipal::Application { app, .. } => &app.tenant_id,
        }
    }
}

/// An application's credential in the shape the matcher reads. Applications' credentials
/// carry no ARM `systemData`, so the audit is empty; the matcher reads only name, issuer,
/// subject and audiences.
pub fn matchable(c: AppFederatedCredential) -> FederatedCredential {
    FederatedCredential {
        name: c.name,
        issuer: c.issuer,
        subject: c.subject,
        audiences: c.audiences,
        audit: Audit {
            created_by: String::new(),
            created_at: 0,
            modified_by: String::new(),
            modified_at: 0,
        },
    }
}
