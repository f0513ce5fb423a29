//! What every handler shares, built once at start. Keys are parsed when they change (see
//! `tenant_keys`), never per request.

use crate::cache::TtlCache;
use crate::config::Limits;
use crate::keyring::SharedKeyRing;
use crate::sts::issuers::IssuerKeys;
use std::sync::Arc;
use wid_core::clock::Clock;
use wid_core::cloud::Cloud;
use wid_core::model::{RoleAssignment, Subscription, Tenant};
use wid_store::Store;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub cloud: Cloud,
    pub tenant: Tenant,
    pub subscription: Subscription,
    pub keys: crate::tenant_keys::SharedTenantKeys,
    pub limits: Limits,
    /// Seals what wid keeps private (issuer keys, vault data keys, backups).
    pub kek: SharedKeyRing,
    /// How the server was started: where its data directory is, for key rotation.
    pub config: crate::config::ServerConfig,
    pub issuer_keys: IssuerKeys,
    /// A client id's managed identity or application with its federated credentials
    /// (`None`: neither).
    pub clients: TtlCache<Option<crate::sts::federated_client::FederatedClient>>,
    /// A principal's role assignments.
    pub role_assignments: TtlCache<Vec<RoleAssignment>>,
    /// Live vaults with their data keys opened (`None`: no such vault).
    pub vaults: TtlCache<Option<crate::vault::OpenVault>>,
    /// Vault keys' private keys, parsed, by `vault/name/version`. A version's key material
    /// never changes, and every operation reads the version first (so a deleted, disabled or
    /// expired key is refused before its cached key is used).
    pub vault_keys: TtlCache<wid_core::vault_key::PrivateKey>,
    /// What the crypto operations read of a key, by `vault/name/version` (`vault/name/` for
    /// the newest version; `None`: no such key), dropped when any key changes.
    pub key_versions: TtlCache<Option<wid_core::model::VaultKey>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where token requests are recorded (`auditLogs/signIns`).
    pub sign_ins: crate::activity::Log<wid_core::sign_in::SignIn>,
    /// Where vault data-plane requests are recorded (Key Vault's `AuditEvent`).
    pub vault_events: crate::activity::Log<wid_core::vault_audit::AuditEvent>,
    /// This replica's name in the activity logs.
    pub replica: String,
    /// Key Vault bearer tokens whose signature, issuer and audience were verified.
    pub verified_tokens: TtlCache<crate::access_token::AccessClaims>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// A handle that does not keep the state alive (for callbacks the state's own parts hold).
    pub fn downgrade(&self) -> std::sync::Weak<Shared> {
        Arc::downgrade(&self.0)
    }

    pub fn upgrade(weak: &std::sync::Weak<Shared>) -> Option<Self> {
        weak.upgrade().map(Self)
    }

    pub fn now(&self) -> i64 {
        self.clock.now_unix()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_unix_ms()
    }
}
