//! First start and every later start of an installation. The database holds the tenant,
//! subscription, signing keys and principals, so replicas sharing a database agree on them;
//! the data directory holds what must not be in the database (the key-encryption key) and
//! what the local CLI needs (the admin's credentials).

use crate::config::ServerConfig;
use crate::datadir::{self, AdminCredentials};
use crate::error::ServerError;
use wid_core::clock::Clock;
use wid_core::model::{RoleAssignment, ServicePrincipal, SigningKeyRecord, Subscription, Tenant};
use wid_core::seal::KeyRing;
use wid_store::Store;

pub struct Installation {
    pub tenant: Tenant,
    pub subscription: Subscription,
    /// Oldest first.
    pub signing_keys: Vec<SigningKeyRecord>,
    pub admin: AdminCredentials,
}

fn new_guid() -> String {
    wid_core::ids::random_uuid().to_string()
}

pub async fn bootstrap(
    store: &Store,
    config: &ServerConfig,
    ring: &KeyRing,
    clock: &dyn Clock,
) -> Result<Installation, ServerError> {
    let tenant_id = store
        .put_setting_if_absent("tenant_id", &new_guid())
        .await?;
    let subscription_id = store
        .put_setting_if_absent("subscription_id", &new_guid())
        .await?;
    let tenant = match store.tenant(&tenant_id).await? {
        Some(t) => t,
        None => {
            let t = Tenant {
                id: tenant_id.clone(),
                display_name: "wid".to_owned(),
                default_domain: config.dns_suffix.clone(),
            };
            insert_once(store.insert_tenant(&t).await)?;
            t
        }
    };
    let subscription = match store.subscription(&subscription_id).await? {
        Some(s) => s,
        None => {
            let s = Subscription {
                id: subscription_id,
                tenant_id: tenant.id.clone(),
                display_name: "wid subscription".to_owned(),
            };
            insert_once(store.insert_subscription(&s).await)?;
            s
        }
    };
    let signing_keys = signing_keys(store, ring, &tenant.id, clock).await?;
    let admin = admin_credentials(store, config, &tenant.id).await?;
    make_admin_owner(store, &admin, &subscription.id, clock.now_unix()).await?;
    Ok(Installation {
        tenant,
        subscription,
        signing_keys,
        admin,
    })
}

/// The bootstrap admin is Owner of the subscription, as the creator of an Azure subscription
/// is. The assignment's name derives from the two ids, so every start (and every replica)
/// means the same assignment.
async fn make_admin_owner(
    store: &Store,
    admin: &AdminCredentials,
    subscription_id: &str,
    now: i64,
) -> Result<(), ServerError> {
    let owner = wid_core::rbac::builtin_by_name("Owner")
        .ok_or_else(|| ServerError::Config("the Owner role is missing".into()))?;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("owner\n{subscription_id}\n{}", admin.object_id).as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    let assignment = RoleAssignment {
        name: uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
        tenant_id: admin.tenant_id.clone(),
        scope: format!("/subscriptions/{subscription_id}"),
        role_definition_id: format!(
            "/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{}",
            owner.id
        ),
        principal_id: admin.object_id.clone(),
        principal_type: "ServicePrincipal".to_owned(),
        description: Some("The installation's bootstrap admin".to_owned()),
        audit: wid_core::model::Audit {
            created_by: admin.client_id.clone(),
            created_at: now,
            modified_by: admin.client_id.clone(),
            modified_at: now,
        },
    };
    match store.insert_role_assignment(&assignment).await {
        Ok(()) | Err(wid_store::StoreError::RoleAssignmentExists) => Ok(()),
        Err(wid_store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Another replica may have inserted the same row first; that is success too.
fn insert_once(result: Result<(), wid_store::StoreError>) -> Result<(), ServerError> {
    match result {
        Ok(()) | Err(wid_store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The tenant's key records, oldest first; a first start generates the first key.
async fn signing_keys(
    store: &Store,
    ring: &KeyRing,
    tenant_id: &str,
    clock: &dyn Clock,
) -> Result<Vec<SigningKeyRecord>, ServerError> {
    let records = store.signing_keys(tenant_id).await?;
    if !records.is_empty() {
        return Ok(records);
    }
    let record = crate::tenant_keys::generate(ring, tenant_id, clock.now_unix())?;
    insert_once(store.insert_signing_key(&record).await)?;
    Ok(store.signing_keys(tenant_id).await?)
}

/// Reuses the data directory's admin when the database knows it and the secret still
/// verifies; otherwise (first start, or a data directory pointed at another database)
/// registers a new admin principal and writes its credentials.
async fn admin_credentials(
    store: &Store,
    config: &ServerConfig,
    tenant_id: &str,
) -> Result<AdminCredentials, ServerError> {
    let path = config.data_dir.join(datadir::CREDENTIALS);
    let existing: Option<AdminCredentials> =
        datadir::read_json(&path).map_err(ServerError::io("reading credentials.json"))?;
    if let Some(creds) = existing.filter(|c| c.tenant_id.eq_ignore_ascii_case(tenant_id)) {
        if let Some(sp) = store
            .service_principal_by_app_id(tenant_id, &creds.client_id)
            .await?
        {
            if wid_core::secret::verify(&creds.client_secret, &sp.secret_hash) {
                return Ok(creds);
            }
        }
    }
    let secret = wid_core::secret::generate()?;
    let sp = ServicePrincipal {
        object_id: new_guid(),
        app_id: new_guid(),
        tenant_id: tenant_id.to_owned(),
        display_name: "wid bootstrap admin".to_owned(),
        secret_hash: wid_core::secret::hash(&secret),
    };
    store.insert_service_principal(&sp).await?;
    let creds = AdminCredentials {
        tenant_id: tenant_id.to_owned(),
        client_id: sp.app_id,
        client_secret: secret,
        object_id: sp.object_id,
    };
    datadir::write_json(&path, &creds, 0o600)
        .map_err(ServerError::io("writing credentials.json"))?;
    Ok(creds)
}
