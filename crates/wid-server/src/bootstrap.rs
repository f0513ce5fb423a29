//! First start and every later start of an installation. The database holds the tenant,
//! subscription, signing keys and principals, so replicas sharing a database agree on them;
//! the data directory holds what must not be in the database (the key-encryption key) and
//! what the local CLI needs (the admin's credentials).

use crate::config::ServerConfig;
use crate::datadir::{self, AdminCredentials, AdminUser};
use crate::error::ServerError;
use wid_core::clock::Clock;
use wid_core::model::{
    RoleAssignment, ServicePrincipal, SigningKeyRecord, Subscription, Tenant, User,
};
use wid_core::seal::KeyRing;
use wid_store::Store;

pub struct Installation {
    pub tenant: Tenant,
    pub subscription: Subscription,
    /// Oldest first.
    pub signing_keys: Vec<SigningKeyRecord>,
    pub admin: AdminCredentials,
    pub admin_user: AdminUser,
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
    let now = clock.now_unix();
    make_owner(
        store,
        &admin,
        &admin.object_id,
        "ServicePrincipal",
        &subscription.id,
        now,
    )
    .await?;
    let admin_user = admin_user(store, config, &tenant, now).await?;
    make_owner(
        store,
        &admin,
        &admin_user.object_id,
        "User",
        &subscription.id,
        now,
    )
    .await?;
    make_global_administrator(store, &tenant.id, &admin_user.object_id).await?;
    Ok(Installation {
        tenant,
        subscription,
        signing_keys,
        admin,
        admin_user,
    })
}

/// The bootstrap admins (the service principal and the user) are Owners of the subscription,
/// as the creator of an Azure subscription is. The assignment's name derives from the two
/// ids, so every start (and every replica) means the same assignment.
async fn make_owner(
    store: &Store,
    admin: &AdminCredentials,
    principal_id: &str,
    principal_type: &str,
    subscription_id: &str,
    now: i64,
) -> Result<(), ServerError> {
    let owner = wid_core::rbac::builtin_by_name("Owner")
        .ok_or_else(|| ServerError::Config("the Owner role is missing".into()))?;
    let assignment = RoleAssignment {
        name: stable_id(&format!("owner\n{subscription_id}\n{principal_id}")),
        tenant_id: admin.tenant_id.clone(),
        scope: format!("/subscriptions/{subscription_id}"),
        role_definition_id: format!(
            "/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{}",
            owner.id
        ),
        principal_id: principal_id.to_owned(),
        principal_type: principal_type.to_owned(),
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

/// The admin user is the directory's Global Administrator, as the user who creates an Entra
/// tenant is; the bootstrap service principal needs no role, the Graph plane knows it.
async fn make_global_administrator(
    store: &Store,
    tenant_id: &str,
    user_object_id: &str,
) -> Result<(), ServerError> {
    let role = wid_core::directory::DirectoryRole::GlobalAdministrator.template_id();
    let assignment = wid_core::model::DirectoryRoleAssignment {
        id: stable_id(&format!(
            "directory-role\n{tenant_id}\n{role}\n{user_object_id}"
        )),
        tenant_id: tenant_id.to_owned(),
        principal_id: user_object_id.to_owned(),
        role_definition_id: role.to_owned(),
        directory_scope_id: "/".to_owned(),
    };
    insert_once(store.insert_directory_role_assignment(&assignment).await)
}

/// A GUID derived from `seed`, so that every start (and every replica) names the same record.
fn stable_id(seed: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
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

/// A generated password: 256 random bits, framed so it holds all four character classes
/// Entra's complexity rule counts, whatever the random part holds.
fn generate_password() -> Result<String, ServerError> {
    let password = format!("Wid-{}-9a", wid_core::secret::generate()?);
    wid_core::password::check_complexity(&password)
        .map_err(|e| ServerError::Config(e.to_string()))?;
    Ok(password)
}

/// The bootstrap admin user, `admin@{default domain}`: reused while the data directory's
/// password still signs it in; otherwise created, or (a data directory pointed at another
/// database) given a new password, and written to `admin-user.json`.
async fn admin_user(
    store: &Store,
    config: &ServerConfig,
    tenant: &Tenant,
    now: i64,
) -> Result<AdminUser, ServerError> {
    let path = config.data_dir.join(datadir::ADMIN_USER);
    let existing: Option<AdminUser> =
        datadir::read_json(&path).map_err(ServerError::io("reading admin-user.json"))?;
    if let Some(saved) = existing.filter(|u| u.tenant_id.eq_ignore_ascii_case(&tenant.id)) {
        if let Some(user) = store
            .user_by_object_id(&tenant.id, &saved.object_id)
            .await?
        {
            let password = saved.password.clone();
            let hash = user.password_hash.clone();
            let verified =
                tokio::task::spawn_blocking(move || wid_core::password::verify(&password, &hash))
                    .await
                    .map_err(|e| ServerError::Config(e.to_string()))?;
            if verified {
                return Ok(saved);
            }
        }
    }
    let upn = format!("admin@{}", tenant.default_domain);
    let password = generate_password()?;
    let hashed = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || wid_core::password::hash(&password))
            .await
            .map_err(|e| ServerError::Config(e.to_string()))?
            .map_err(|e| ServerError::Config(e.to_string()))?
    };
    let object_id = match store.user_by_upn(&tenant.id, &upn).await? {
        Some(user) => {
            let changes = wid_store::UserChanges {
                password_hash: Some(hashed),
                ..wid_store::UserChanges::default()
            };
            store
                .update_user(&tenant.id, &user.object_id, &changes)
                .await?;
            user.object_id
        }
        None => {
            let user = User {
                object_id: new_guid(),
                tenant_id: tenant.id.clone(),
                user_principal_name: upn.clone(),
                display_name: "wid admin".to_owned(),
                mail_nickname: "admin".to_owned(),
                account_enabled: true,
                password_hash: hashed,
                sign_in: wid_core::password::SignInState::default(),
                created_at: now,
            };
            match store.insert_user(&user).await {
                Ok(()) => user.object_id,
                // Another replica created the admin first: take it over with this password.
                Err(wid_store::StoreError::Conflict(_)) => {
                    let Some(theirs) = store.user_by_upn(&tenant.id, &upn).await? else {
                        return Err(ServerError::Config("the admin user vanished".into()));
                    };
                    let changes = wid_store::UserChanges {
                        password_hash: Some(user.password_hash),
                        ..wid_store::UserChanges::default()
                    };
                    store
                        .update_user(&tenant.id, &theirs.object_id, &changes)
                        .await?;
                    theirs.object_id
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let saved = AdminUser {
        tenant_id: tenant.id.clone(),
        user_principal_name: upn,
        password,
        object_id,
    };
    datadir::write_json(&path, &saved, 0o600)
        .map_err(ServerError::io("writing admin-user.json"))?;
    Ok(saved)
}
