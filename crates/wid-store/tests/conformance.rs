//! The behaviour every backend must show, run on each: `sqlite::<test>` against a fresh
//! temporary file, `postgres::<test>` against a fresh database on the server named by
//! `WID_TEST_POSTGRES_URL` (which `scripts/test` sets up).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use wid_core::federation::{CredentialError, DEFAULT_AUDIENCE};
use wid_core::model::{
    AppFederatedCredential, AppServicePrincipal, Application, ApplicationPassword, Audit,
    Certificate, CertificateOperation, CertificateVersion, Cluster, ClusterKey,
    DirectoryRoleAssignment, FederatedCredential, IdentityKey, IssuerKey, KeyVersion,
    ManagedIdentity, PublicJwk, ResourceGroup, RoleAssignment, SecretVersion, ServicePrincipal,
    SigningKeyRecord, Subscription, Tenant, User, Vault, VaultKey, VaultSettings,
};
use wid_core::password::SignInState;
use wid_core::session::{DeviceCode, DeviceCodeState, RefreshToken};
use wid_core::sign_in::{CredentialKind, Query as SignInQuery, SignIn, SignInKind};
use wid_core::vault_audit::{AuditEvent, Decision, Query as VaultEventQuery};
use wid_store::{
    AppCredentialChanges, ApplicationChanges, Backend, LogCursor, Rotation, Store, StoreError,
    Topic, UserChanges,
};

/// Declares each test once per backend. `store` tests get a migrated store; `reopen` tests
/// also get its URL, to connect again; `fresh` tests get only the URL of an empty database.
macro_rules! conformance {
    (
        store: [$($s:ident),* $(,)?],
        reopen: [$($r:ident),* $(,)?],
        fresh: [$($f:ident),* $(,)?] $(,)?
    ) => {
        conformance!(@backend sqlite, Sqlite, [$($s),*], [$($r),*], [$($f),*]);
        conformance!(@backend postgres, Postgres, [$($s),*], [$($r),*], [$($f),*]);
    };
    (@backend $module:ident, $backend:ident, [$($s:ident),*], [$($r:ident),*], [$($f:ident),*]) => {
        mod $module {
            use wid_store::Backend::$backend as BACKEND;
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $s() {
                    super::run(BACKEND, |url| async move {
                        super::$s(super::connect(&url).await).await
                    })
                    .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $r() {
                    super::run(BACKEND, |url| async move {
                        super::$r(super::connect(&url).await, url).await
                    })
                    .await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $f() {
                    super::run(BACKEND, super::$f).await;
                }
            )*
        }
    };
}

conformance! {
    store: [
        settings_first_writer_wins,
        tenancy_round_trip,
        service_principals_round_trip,
        users_round_trip_and_throttle,
        refresh_tokens_rotate_and_replay_revokes,
        device_codes_move_forward_once,
        applications_round_trip_and_cascade,
        app_credentials_follow_entra_rules,
        concurrent_app_credentials_respect_limit,
        directory_role_assignments_round_trip,
        signing_keys_round_trip,
        resource_group_upsert,
        resource_group_delete_cascades,
        identity_upsert_keeps_ids,
        identity_requires_group,
        identity_by_client_id,
        identity_client_id_is_unique,
        credential_create_update_delete,
        credential_limit,
        credential_issuer_subject_unique,
        credential_paging,
        credentials_require_identity,
        concurrent_puts_respect_limit,
        concurrent_duplicates_rejected,
        cluster_lifecycle_and_cascade,
        operations_expire,
        issuer_key_rotation_and_export,
        role_assignments_round_trip,
        vaults_soft_delete_and_names,
        secrets_versions_and_soft_delete,
        keys_versions_soft_delete_and_rotation_policy,
        certificates_versions_operations_and_soft_delete,
        leases_have_one_holder,
        expired_soft_deletes_are_purged,
        writes_bump_their_change_generation,
        sign_ins_list_page_and_prune,
        vault_events_list_by_vault_and_prune,
        backup_restores_into_an_empty_database,
        restore_refuses_damaged_backups_and_full_databases,
    ],
    reopen: [
        migrations_are_idempotent,
        data_survives_reopen,
        backups_refuse_tables_they_do_not_know,
    ],
    fresh: [concurrent_first_start],
}

// ---- harness ----------------------------------------------------------------------------

const POSTGRES_URL_VAR: &str = "WID_TEST_POSTGRES_URL";

async fn connect(url: &str) -> Store {
    Store::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// Runs `body` on the URL of a fresh, empty database and removes the database afterwards,
/// also when the body panics (the panic is then passed on).
async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = TempDir::new();
            let url = format!("sqlite://{}", dir.0.join("wid.db").display());
            finish(tokio::spawn(body(url)).await);
        }
        Backend::Postgres => {
            let db = PgTestDb::create().await;
            let outcome = tokio::spawn(body(db.url.clone())).await;
            db.drop().await;
            finish(outcome);
        }
    }
}

fn finish(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("wid-store-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct PgTestDb {
    server: String,
    name: String,
    url: String,
}

impl PgTestDb {
    async fn create() -> PgTestDb {
        let server = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_URL_VAR} is not set, so the PostgreSQL conformance tests cannot run. \
                 Run `scripts/test`, which sets it up, or start a server with \
                 `scripts/start-postgres /tmp/widpg 55432` and run \
                 `{POSTGRES_URL_VAR}=<the URL it prints> cargo test -p wid-store`. \
                 (To skip them: cargo test -p wid-store -- --skip postgres::)"
            )
        });
        let name = format!("wid_test_{}", uuid::Uuid::new_v4().simple());
        admin(&server, &format!("CREATE DATABASE {name}")).await;
        let url = with_database(&server, &name);
        PgTestDb { server, name, url }
    }

    async fn drop(self) {
        admin(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

async fn admin(server: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("connect to {POSTGRES_URL_VAR}={server}: {e}"));
    conn.execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// `postgres://u@h:p/db?x` with its database replaced.
fn with_database(server: &str, db: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority..]
        .find('/')
        .map_or(base, |i| &base[..authority + i]);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

// ---- fixtures ---------------------------------------------------------------------------

const SUB: &str = "7F1C0E3A-0000-4000-8000-00000000000A";
const TENANT: &str = "7F1C0E3A-0000-4000-8000-0000000000AA";
const ISSUER: &str = "https://oidc.example.test/issuer/";

fn audit(by: &str, at: i64) -> Audit {
    Audit {
        created_by: by.into(),
        created_at: at,
        modified_by: by.into(),
        modified_at: at,
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn group(name: &str) -> ResourceGroup {
    ResourceGroup {
        subscription_id: SUB.into(),
        name: name.into(),
        location: "westeurope".into(),
        tags: tags(&[("env", "test")]),
        managed_by: None,
        audit: audit("alice", 1_000),
    }
}

/// A distinct, upper-case client id per `n`, so lookups show case-insensitivity.
fn client_id(n: u32) -> String {
    format!("C11E0000-0000-4000-8000-{n:012X}")
}

fn identity(rg: &str, name: &str, n: u32) -> ManagedIdentity {
    ManagedIdentity {
        subscription_id: SUB.into(),
        resource_group: rg.into(),
        name: name.into(),
        location: "westeurope".into(),
        tags: tags(&[("team", "id")]),
        tenant_id: "7E4A0000-0000-4000-8000-000000000001".into(),
        client_id: client_id(n),
        principal_id: format!("9121C000-0000-4000-8000-{n:012X}"),
        isolation_scope: "None".into(),
        audit: audit("alice", 2_000),
    }
}

fn key(rg: &str, name: &str) -> IdentityKey {
    IdentityKey {
        subscription_id: SUB.into(),
        resource_group: rg.into(),
        name: name.into(),
    }
}

fn cred(name: &str, subject: &str) -> FederatedCredential {
    FederatedCredential {
        name: name.into(),
        issuer: ISSUER.into(),
        subject: subject.into(),
        audiences: vec![DEFAULT_AUDIENCE.into()],
        audit: audit("alice", 3_000),
    }
}

/// A resource group with one identity in it; returns the identity's key.
async fn identity_in_group(store: &Store, rg: &str, name: &str, n: u32) -> IdentityKey {
    store
        .put_resource_group(&group(rg))
        .await
        .expect("put group");
    store
        .put_identity(&identity(rg, name, n))
        .await
        .expect("put identity");
    key(rg, name)
}

async fn names(store: &Store, key: &IdentityKey) -> Vec<String> {
    let all = store
        .federated_credentials(key, None, 100)
        .await
        .expect("list credentials");
    all.into_iter().map(|c| c.name).collect()
}

// ---- tests ------------------------------------------------------------------------------

async fn migrations_are_idempotent(store: Store, url: String) {
    let backend = store.backend();
    store
        .put_setting_if_absent("marker", "kept")
        .await
        .expect("put");
    drop(store);
    for _ in 0..2 {
        let again = connect(&url).await;
        assert_eq!(again.backend(), backend);
        again.ping().await.expect("ping");
        assert_eq!(
            again.setting("marker").await.expect("get").as_deref(),
            Some("kept")
        );
    }
}

async fn concurrent_first_start(url: String) {
    let starts: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn({
                let url = url.clone();
                async move { Store::connect(&url).await }
            })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.expect("join").expect("concurrent connect"));
    }
    stores[0]
        .put_setting_if_absent("k", "v")
        .await
        .expect("put");
    assert_eq!(
        stores[3].setting("k").await.expect("get").as_deref(),
        Some("v")
    );
}

async fn settings_first_writer_wins(store: Store) {
    assert_eq!(store.setting("tenant_id").await.expect("get"), None);
    assert_eq!(
        store
            .put_setting_if_absent("tenant_id", "first")
            .await
            .expect("put"),
        "first"
    );
    assert_eq!(
        store
            .put_setting_if_absent("tenant_id", "second")
            .await
            .expect("put"),
        "first"
    );
    assert_eq!(
        store.setting("tenant_id").await.expect("get").as_deref(),
        Some("first")
    );
    assert_eq!(
        store.setting("TENANT_ID").await.expect("get"),
        None,
        "setting keys are exact"
    );

    let racers: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(
                async move { store.put_setting_if_absent("raced", &format!("v{i}")).await },
            )
        })
        .collect();
    let mut seen = Vec::new();
    for racer in racers {
        seen.push(racer.await.expect("join").expect("put"));
    }
    let stored = store.setting("raced").await.expect("get").expect("stored");
    assert!(seen.iter().all(|v| *v == stored), "{seen:?} vs {stored}");
}

async fn tenancy_round_trip(store: Store) {
    let t = Tenant {
        id: "7E4A0000-0000-4000-8000-000000000001".into(),
        display_name: "Default Directory".into(),
        default_domain: "wid.localhost".into(),
    };
    store.insert_tenant(&t).await.expect("insert tenant");
    assert_eq!(store.tenants().await.expect("tenants"), vec![t.clone()]);
    assert_eq!(
        store.tenant(&t.id.to_lowercase()).await.expect("tenant"),
        Some(t.clone())
    );
    assert_eq!(
        store
            .tenant("00000000-0000-0000-0000-000000000000")
            .await
            .expect("tenant"),
        None
    );
    assert!(matches!(
        store.insert_tenant(&t).await,
        Err(StoreError::Conflict(_))
    ));

    let s = Subscription {
        id: SUB.into(),
        tenant_id: t.id.clone(),
        display_name: "wid".into(),
    };
    store
        .insert_subscription(&s)
        .await
        .expect("insert subscription");
    let other = Subscription {
        id: "0".repeat(8),
        ..s.clone()
    };
    store
        .insert_subscription(&other)
        .await
        .expect("insert subscription");
    assert_eq!(
        store.subscriptions().await.expect("subscriptions"),
        vec![other, s.clone()]
    );
    assert_eq!(
        store.subscription(&SUB.to_lowercase()).await.expect("get"),
        Some(s.clone())
    );
    assert_eq!(store.subscription("nope").await.expect("get"), None);
    let dup = Subscription {
        id: SUB.to_lowercase(),
        ..s
    };
    assert!(matches!(
        store.insert_subscription(&dup).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn service_principals_round_trip(store: Store) {
    let sp = ServicePrincipal {
        object_id: "0B1EC700-0000-4000-8000-000000000001".into(),
        app_id: "A9910000-0000-4000-8000-000000000001".into(),
        tenant_id: "7E4A0000-0000-4000-8000-000000000001".into(),
        display_name: "wid-admin".into(),
        secret_hash: vec![0, 1, 2, 0xfe, 0xff, 0],
    };
    store.insert_service_principal(&sp).await.expect("insert");
    let found = store
        .service_principal_by_app_id(&sp.tenant_id.to_lowercase(), &sp.app_id.to_lowercase())
        .await
        .expect("get");
    assert_eq!(found, Some(sp.clone()));
    let elsewhere = store
        .service_principal_by_app_id("other-tenant", &sp.app_id)
        .await
        .expect("get");
    assert_eq!(elsewhere, None);
    let same_app = ServicePrincipal {
        object_id: "another".into(),
        ..sp.clone()
    };
    assert!(matches!(
        store.insert_service_principal(&same_app).await,
        Err(StoreError::Conflict(_))
    ));
    let same_object = ServicePrincipal {
        app_id: "another".into(),
        ..sp
    };
    assert!(matches!(
        store.insert_service_principal(&same_object).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn users_round_trip_and_throttle(store: Store) {
    let tenant = "7E4A0000-0000-4000-8000-000000000001";
    let user = User {
        object_id: "0B1EC700-0000-4000-8000-0000000000AA".into(),
        tenant_id: tenant.into(),
        user_principal_name: "Admin@wid.localhost".into(),
        display_name: "Admin".into(),
        mail_nickname: "admin".into(),
        account_enabled: true,
        password_hash: "$argon2id$stored".into(),
        sign_in: SignInState::default(),
        created_at: 1_700_000_000,
    };
    store.insert_user(&user).await.expect("insert");
    let by_upn = store
        .user_by_upn(tenant, "ADMIN@WID.LOCALHOST")
        .await
        .expect("get");
    assert_eq!(by_upn.as_ref(), Some(&user));
    let by_id = store
        .user_by_object_id(&tenant.to_lowercase(), &user.object_id.to_lowercase())
        .await
        .expect("get");
    assert_eq!(by_id.as_ref(), Some(&user));
    assert_eq!(
        store
            .user_by_upn("other", &user.user_principal_name)
            .await
            .expect("get"),
        None
    );
    let same_upn = User {
        object_id: "another".into(),
        user_principal_name: "admin@WID.localhost".into(),
        ..user.clone()
    };
    assert!(matches!(
        store.insert_user(&same_upn).await,
        Err(StoreError::Conflict(_))
    ));

    // The throttle only moves from the state the caller saw.
    let locked = SignInState {
        failed_attempts: 10,
        locked_until: 1_700_000_060,
    };
    assert!(store
        .swap_sign_in_state(tenant, &user.object_id, SignInState::default(), locked)
        .await
        .expect("swap"));
    assert!(!store
        .swap_sign_in_state(
            tenant,
            &user.object_id,
            SignInState::default(),
            SignInState::default()
        )
        .await
        .expect("swap"));
    let read = store
        .user_by_upn(tenant, &user.user_principal_name)
        .await
        .expect("get")
        .unwrap();
    assert_eq!(read.sign_in, locked);

    // A new password clears the throttle; other fields are kept unless given.
    let changed = store
        .update_user(
            tenant,
            &user.object_id,
            &UserChanges {
                password_hash: Some("$argon2id$new".into()),
                ..UserChanges::default()
            },
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(changed.sign_in, SignInState::default());
    assert_eq!(changed.password_hash, "$argon2id$new");
    assert_eq!(changed.display_name, "Admin");
    let disabled = store
        .update_user(
            tenant,
            &user.object_id,
            &UserChanges {
                account_enabled: Some(false),
                display_name: Some("Renamed".into()),
                ..UserChanges::default()
            },
        )
        .await
        .expect("update")
        .expect("exists");
    assert!(!disabled.account_enabled);
    assert_eq!(disabled.display_name, "Renamed");
    assert_eq!(disabled.password_hash, "$argon2id$new");
    assert!(store
        .update_user(tenant, "nobody", &UserChanges::default())
        .await
        .expect("update")
        .is_none());

    let second = User {
        object_id: "0B1EC700-0000-4000-8000-0000000000BB".into(),
        user_principal_name: "alice@wid.localhost".into(),
        ..user.clone()
    };
    store.insert_user(&second).await.expect("insert");
    let listed: Vec<String> = store
        .list_users(tenant)
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.user_principal_name)
        .collect();
    assert_eq!(listed, ["Admin@wid.localhost", "alice@wid.localhost"]);
    assert!(store
        .delete_user(tenant, &user.object_id)
        .await
        .expect("delete"));
    assert!(!store
        .delete_user(tenant, &user.object_id)
        .await
        .expect("delete"));
    assert_eq!(store.list_users(tenant).await.expect("list").len(), 1);
}

async fn refresh_tokens_rotate_and_replay_revokes(store: Store) {
    let first = RefreshToken {
        token_hash: vec![0xab; 32],
        family_id: "family-1".into(),
        tenant_id: "tenant".into(),
        user_object_id: "User-1".into(),
        client_id: "client".into(),
        signed_in_at: 1000,
        issued_at: 1000,
        spent: false,
        revoked: false,
    };
    store.insert_refresh_token(&first).await.expect("insert");
    assert_eq!(
        store.refresh_token(&first.token_hash).await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(store.refresh_token(&[0xcd; 32]).await.expect("get"), None);
    assert!(matches!(
        store.insert_refresh_token(&first).await,
        Err(StoreError::Conflict(_))
    ));

    let second = RefreshToken {
        token_hash: vec![0x01; 32],
        issued_at: 2000,
        ..first.clone()
    };
    assert_eq!(
        store
            .rotate_refresh_token(&first.token_hash, &second)
            .await
            .expect("rotate"),
        Rotation::Rotated
    );
    let spent = store
        .refresh_token(&first.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(spent.spent && !spent.revoked);
    assert_eq!(
        store.refresh_token(&second.token_hash).await.unwrap(),
        Some(second.clone())
    );

    // The spent token rotated again (a replay, or the loser of a race) revokes the family,
    // and its would-be successor is not stored.
    let third = RefreshToken {
        token_hash: vec![0x02; 32],
        ..second.clone()
    };
    assert_eq!(
        store
            .rotate_refresh_token(&first.token_hash, &third)
            .await
            .expect("rotate"),
        Rotation::Lost
    );
    assert_eq!(store.refresh_token(&third.token_hash).await.unwrap(), None);
    for hash in [&first.token_hash, &second.token_hash] {
        assert!(store.refresh_token(hash).await.unwrap().unwrap().revoked);
    }
    assert_eq!(
        store
            .rotate_refresh_token(&second.token_hash, &third)
            .await
            .expect("rotate"),
        Rotation::Lost
    );

    // Another family of the same user, revoked with all of the user's sessions.
    let other = RefreshToken {
        token_hash: vec![0x03; 32],
        family_id: "family-2".into(),
        ..first.clone()
    };
    store.insert_refresh_token(&other).await.expect("insert");
    assert_eq!(store.revoke_refresh_family("family-2").await.unwrap(), 1);
    assert_eq!(store.revoke_refresh_family("family-2").await.unwrap(), 0);
    let fourth = RefreshToken {
        token_hash: vec![0x04; 32],
        family_id: "family-3".into(),
        ..first.clone()
    };
    store.insert_refresh_token(&fourth).await.expect("insert");
    assert_eq!(store.revoke_user_sessions("user-1").await.unwrap(), 1);
    assert!(
        store
            .refresh_token(&fourth.token_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );

    // Links nobody can redeem go: unused for the inactivity window, then past the maximum age.
    use wid_core::session::{REFRESH_INACTIVITY_SECS, REFRESH_MAX_AGE_SECS};
    let inactive = 1000 + REFRESH_INACTIVITY_SECS;
    assert_eq!(store.purge_refresh_tokens(inactive - 1).await.unwrap(), 0);
    assert_eq!(store.purge_refresh_tokens(inactive).await.unwrap(), 3);
    assert_eq!(store.refresh_token(&first.token_hash).await.unwrap(), None);
    assert!(store
        .refresh_token(&second.token_hash)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .purge_refresh_tokens(1000 + REFRESH_MAX_AGE_SECS)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.refresh_token(&second.token_hash).await.unwrap(), None);
}

async fn device_codes_move_forward_once(store: Store) {
    let code = DeviceCode {
        code_hash: vec![0x10; 32],
        user_code: "BCDFGHJKM".into(),
        tenant_id: "tenant".into(),
        client_id: "client".into(),
        scope: "https://management/.default openid".into(),
        created_at: 1000,
        expires_at: 1900,
        state: DeviceCodeState::Pending,
    };
    store.insert_device_code(&code).await.expect("insert");
    assert!(matches!(
        store
            .insert_device_code(&DeviceCode {
                code_hash: vec![0x11; 32],
                ..code.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.device_code(&code.code_hash).await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(
        store.device_code_by_user_code("BCDFGHJKM").await.unwrap(),
        Some(code.clone())
    );
    let approved = DeviceCodeState::Approved {
        user_object_id: "user".into(),
    };
    assert!(store
        .swap_device_code_state(&code.code_hash, &DeviceCodeState::Pending, &approved)
        .await
        .unwrap());
    assert!(!store
        .swap_device_code_state(
            &code.code_hash,
            &DeviceCodeState::Pending,
            &DeviceCodeState::Declined
        )
        .await
        .unwrap());
    let other_user = DeviceCodeState::Approved {
        user_object_id: "someone else".into(),
    };
    assert!(!store
        .swap_device_code_state(&code.code_hash, &other_user, &DeviceCodeState::Redeemed)
        .await
        .unwrap());
    assert_eq!(
        store
            .device_code(&code.code_hash)
            .await
            .unwrap()
            .unwrap()
            .state,
        approved
    );
    assert!(store
        .swap_device_code_state(&code.code_hash, &approved, &DeviceCodeState::Redeemed)
        .await
        .unwrap());
    assert!(!store
        .swap_device_code_state(&code.code_hash, &approved, &DeviceCodeState::Redeemed)
        .await
        .unwrap());
    assert_eq!(store.purge_device_codes(1899).await.unwrap(), 0);
    assert_eq!(store.purge_device_codes(1900).await.unwrap(), 1);
    assert_eq!(store.device_code(&code.code_hash).await.unwrap(), None);
}

async fn signing_keys_round_trip(store: Store) {
    let k = |kid: &str, tenant: &str, at: i64| SigningKeyRecord {
        kid: kid.into(),
        tenant_id: tenant.into(),
        alg: "RS256".into(),
        public_spki_der: vec![0x30, 0x82, 0, 0xff],
        sealed_private_key: kid.bytes().chain([0, 0xff]).collect(),
        created_at: at,
    };
    // Inserted out of time order, with a tie that insertion order breaks.
    let keys = [
        k("k-late", "T1", 200),
        k("k-early", "T1", 100),
        k("k-late-2", "T1", 200),
        k("other", "T2", 1),
    ];
    for key in &keys {
        store.insert_signing_key(key).await.expect("insert");
    }
    let t1 = store.signing_keys("t1").await.expect("keys");
    assert_eq!(t1, vec![keys[1].clone(), keys[0].clone(), keys[2].clone()]);
    assert_eq!(
        store.signing_keys("T2").await.expect("keys"),
        vec![keys[3].clone()]
    );
    assert!(store.signing_keys("T3").await.expect("keys").is_empty());
    assert!(matches!(
        store.insert_signing_key(&keys[0]).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn resource_group_upsert(store: Store) {
    let rg = group("MyGroup");
    assert_eq!(
        store.put_resource_group(&rg).await.expect("create"),
        (rg.clone(), true)
    );

    let update = ResourceGroup {
        subscription_id: SUB.to_lowercase(),
        name: "MYGROUP".into(),
        location: "eastus".into(),
        tags: tags(&[("owner", "bob")]),
        managed_by: Some("someone".into()),
        audit: audit("bob", 5_000),
    };
    let (stored, created) = store.put_resource_group(&update).await.expect("update");
    assert!(!created);
    let expected = ResourceGroup {
        tags: update.tags.clone(),
        audit: Audit {
            modified_by: "bob".into(),
            modified_at: 5_000,
            ..rg.audit.clone()
        },
        ..rg.clone()
    };
    assert_eq!(stored, expected);
    assert_eq!(
        store
            .resource_group(&SUB.to_lowercase(), "mygroup")
            .await
            .expect("get"),
        Some(expected.clone())
    );
    assert_eq!(store.resource_group(SUB, "other").await.expect("get"), None);

    store
        .put_resource_group(&group("b-group"))
        .await
        .expect("create");
    store
        .put_resource_group(&group("A-group"))
        .await
        .expect("create");
    store
        .put_resource_group(&ResourceGroup {
            subscription_id: "elsewhere".into(),
            ..group("c")
        })
        .await
        .expect("create");
    let listed: Vec<_> = store
        .resource_groups(SUB)
        .await
        .expect("list")
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(listed, ["A-group", "b-group", "MyGroup"]);
    assert!(store
        .resource_groups("nobody")
        .await
        .expect("list")
        .is_empty());

    assert!(store
        .delete_resource_group(SUB, "MYGROUP")
        .await
        .expect("delete"));
    assert!(!store
        .delete_resource_group(SUB, "mygroup")
        .await
        .expect("delete"));
    assert_eq!(
        store.resource_group(SUB, "MyGroup").await.expect("get"),
        None
    );
}

async fn resource_group_delete_cascades(store: Store) {
    let doomed = identity_in_group(&store, "Doomed", "id-a", 1).await;
    store
        .put_identity(&identity("doomed", "id-b", 2))
        .await
        .expect("put");
    store
        .put_federated_credential(&doomed, &cred("fic", "sub-a"))
        .await
        .expect("put");
    store
        .put_federated_credential(&key("Doomed", "id-b"), &cred("fic", "sub-b"))
        .await
        .expect("put");
    let kept = identity_in_group(&store, "Kept", "id-c", 3).await;
    store
        .put_federated_credential(&kept, &cred("fic", "sub-c"))
        .await
        .expect("put");

    assert!(store
        .delete_resource_group(SUB, "doomed")
        .await
        .expect("delete"));
    assert_eq!(store.identity(&doomed).await.expect("get"), None);
    assert_eq!(
        store
            .identity_by_client_id(&client_id(2))
            .await
            .expect("get"),
        None
    );
    assert!(matches!(
        store
            .federated_credentials_by_client_id(&client_id(1))
            .await,
        Err(StoreError::IdentityNotFound)
    ));
    assert_eq!(
        store
            .identities_in_subscription(SUB)
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(names(&store, &kept).await, ["fic"]);

    // Nothing comes back when the names are reused.
    store
        .put_resource_group(&group("Doomed"))
        .await
        .expect("recreate");
    assert!(store
        .identities_in_group(SUB, "Doomed")
        .await
        .expect("list")
        .is_empty());
    store
        .put_identity(&identity("Doomed", "id-a", 1))
        .await
        .expect("recreate");
    assert!(names(&store, &doomed).await.is_empty());

    // Deleting an identity takes its credentials too.
    store
        .put_federated_credential(&kept, &cred("fic2", "sub-d"))
        .await
        .expect("put");
    assert!(store
        .delete_identity(&key("KEPT", "ID-C"))
        .await
        .expect("delete"));
    assert!(!store.delete_identity(&kept).await.expect("delete"));
    store
        .put_identity(&identity("Kept", "id-c", 3))
        .await
        .expect("recreate");
    assert!(names(&store, &kept).await.is_empty());
}

async fn identity_upsert_keeps_ids(store: Store) {
    store
        .put_resource_group(&group("MyGroup"))
        .await
        .expect("group");
    let id = identity("mygroup", "MyIdentity", 1);
    let (stored, created) = store.put_identity(&id).await.expect("create");
    assert!(created);
    let expected = ManagedIdentity {
        resource_group: "MyGroup".into(),
        ..id.clone()
    };
    assert_eq!(stored, expected);

    let update = ManagedIdentity {
        subscription_id: SUB.to_lowercase(),
        resource_group: "MYGROUP".into(),
        name: "MYIDENTITY".into(),
        location: "eastus".into(),
        tags: tags(&[("v", "2")]),
        tenant_id: "other-tenant".into(),
        client_id: client_id(99),
        principal_id: "other-principal".into(),
        isolation_scope: "Regional".into(),
        audit: audit("bob", 9_000),
    };
    let (stored, created) = store.put_identity(&update).await.expect("update");
    assert!(!created);
    let expected = ManagedIdentity {
        location: "eastus".into(),
        tags: update.tags.clone(),
        isolation_scope: "Regional".into(),
        audit: Audit {
            modified_by: "bob".into(),
            modified_at: 9_000,
            ..id.audit.clone()
        },
        ..expected
    };
    assert_eq!(stored, expected);
    assert_eq!(
        store
            .identity(&key("MYGROUP", "myidentity"))
            .await
            .expect("get"),
        Some(expected.clone())
    );
    // The replaced client id was not taken: the identity still answers to its first one.
    assert_eq!(
        store
            .identity_by_client_id(&client_id(99))
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store
            .identity_by_client_id(&client_id(1))
            .await
            .expect("get"),
        Some(expected.clone())
    );
    // Re-putting with the stored ids (what a client echoing the resource does) is fine too.
    assert!(!store.put_identity(&expected).await.expect("update").1);

    store
        .put_identity(&identity("MyGroup", "b-second", 2))
        .await
        .expect("create");
    store
        .put_identity(&identity("MyGroup", "A-first", 3))
        .await
        .expect("create");
    let in_group: Vec<_> = store
        .identities_in_group(SUB, "mygroup")
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(in_group, ["A-first", "b-second", "MyIdentity"]);
    identity_in_group(&store, "Another", "z", 4).await;
    let in_sub = store
        .identities_in_subscription(&SUB.to_lowercase())
        .await
        .expect("list");
    let in_sub: Vec<_> = in_sub
        .iter()
        .map(|i| (i.resource_group.as_str(), i.name.as_str()))
        .collect();
    assert_eq!(
        in_sub,
        [
            ("Another", "z"),
            ("MyGroup", "A-first"),
            ("MyGroup", "b-second"),
            ("MyGroup", "MyIdentity")
        ]
    );
}

async fn identity_requires_group(store: Store) {
    let missing = identity("missing", "id", 1);
    assert!(matches!(
        store.put_identity(&missing).await,
        Err(StoreError::ResourceGroupNotFound)
    ));
    assert!(matches!(
        store.identities_in_group(SUB, "missing").await,
        Err(StoreError::ResourceGroupNotFound)
    ));
    assert!(matches!(
        store.delete_identity(&key("missing", "id")).await,
        Err(StoreError::ResourceGroupNotFound)
    ));
    assert_eq!(
        store.identity(&key("missing", "id")).await.expect("get"),
        None
    );
    store
        .put_resource_group(&group("present"))
        .await
        .expect("group");
    assert!(store
        .identities_in_group(SUB, "present")
        .await
        .expect("list")
        .is_empty());
    assert!(!store
        .delete_identity(&key("present", "id"))
        .await
        .expect("delete"));
}

async fn identity_by_client_id(store: Store) {
    identity_in_group(&store, "rg", "one", 1).await;
    identity_in_group(&store, "rg", "two", 2).await;
    let found = store
        .identity_by_client_id(&client_id(2).to_lowercase())
        .await
        .expect("get");
    assert_eq!(found.map(|i| i.name).as_deref(), Some("two"));
    assert_eq!(
        store
            .identity_by_client_id(&client_id(3))
            .await
            .expect("get"),
        None
    );
}

async fn identity_client_id_is_unique(store: Store) {
    identity_in_group(&store, "rg", "one", 1).await;
    let clash = ManagedIdentity {
        principal_id: "fresh".into(),
        ..identity("rg", "two", 1)
    };
    assert!(matches!(
        store.put_identity(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    let clash = ManagedIdentity {
        client_id: "fresh".into(),
        ..identity("rg", "two", 1)
    };
    assert!(matches!(
        store.put_identity(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .identities_in_group(SUB, "rg")
            .await
            .expect("list")
            .len(),
        1
    );
}

async fn credential_create_update_delete(store: Store) {
    let id = identity_in_group(&store, "rg", "id", 1).await;
    let c = cred("GitHub-Main", "repo:org/app:ref:refs/heads/main");
    assert_eq!(
        store
            .put_federated_credential(&id, &c)
            .await
            .expect("create"),
        (c.clone(), true)
    );
    let id_other_case = key("RG", "ID");
    assert_eq!(
        store
            .federated_credential(&id_other_case, "github-main")
            .await
            .expect("get"),
        Some(c.clone())
    );

    let update = FederatedCredential {
        name: "GITHUB-MAIN".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
        subject: "repo:org/app:environment:prod".into(),
        audiences: vec!["api://custom".into()],
        audit: audit("bob", 8_000),
    };
    let (stored, created) = store
        .put_federated_credential(&id, &update)
        .await
        .expect("update");
    assert!(!created);
    let expected = FederatedCredential {
        name: "GitHub-Main".into(),
        audit: Audit {
            modified_by: "bob".into(),
            modified_at: 8_000,
            ..c.audit.clone()
        },
        ..update
    };
    assert_eq!(stored, expected);
    assert_eq!(
        store
            .federated_credential(&id, "GitHub-Main")
            .await
            .expect("get"),
        Some(expected.clone())
    );
    assert_eq!(
        store
            .federated_credentials_by_client_id(&client_id(1))
            .await
            .expect("by client"),
        vec![expected]
    );

    assert!(store
        .delete_federated_credential(&id_other_case, "GITHUB-main")
        .await
        .expect("delete"));
    assert!(!store
        .delete_federated_credential(&id, "github-main")
        .await
        .expect("delete"));
    assert_eq!(
        store
            .federated_credential(&id, "github-main")
            .await
            .expect("get"),
        None
    );
    assert!(store
        .federated_credentials_by_client_id(&client_id(1))
        .await
        .expect("by client")
        .is_empty());
}

async fn credential_limit(store: Store) {
    let id = identity_in_group(&store, "rg", "id", 1).await;
    for i in 0..20 {
        store
            .put_federated_credential(&id, &cred(&format!("fic{i:02}"), &format!("s{i}")))
            .await
            .expect("put");
    }
    let over = store
        .put_federated_credential(&id, &cred("fic20", "s20"))
        .await;
    assert!(
        matches!(over, Err(StoreError::Rejected(CredentialError::TooMany))),
        "{over:?}"
    );
    // Replacing one of the twenty is not adding a twenty-first.
    let (_, created) = store
        .put_federated_credential(&id, &cred("FIC07", "s7-changed"))
        .await
        .expect("update at limit");
    assert!(!created);
    assert_eq!(names(&store, &id).await.len(), 20);
    // Another identity has its own twenty.
    let other = identity_in_group(&store, "rg", "other", 2).await;
    store
        .put_federated_credential(&other, &cred("fic20", "s20"))
        .await
        .expect("put");
}

async fn credential_issuer_subject_unique(store: Store) {
    let id = identity_in_group(&store, "rg", "id", 1).await;
    let subject = "system:serviceaccount:ns:sa";
    store
        .put_federated_credential(&id, &cred("first", subject))
        .await
        .expect("put");
    let dup = store
        .put_federated_credential(&id, &cred("second", subject))
        .await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Rejected(
                CredentialError::DuplicateIssuerSubject
            ))
        ),
        "{dup:?}"
    );
    // Values compare exactly: another case, or another issuer, is another credential.
    store
        .put_federated_credential(&id, &cred("upper", "system:serviceaccount:ns:SA"))
        .await
        .expect("case");
    let other_issuer = FederatedCredential {
        issuer: "https://oidc.example.test/issuer".into(),
        ..cred("slash", subject)
    };
    store
        .put_federated_credential(&id, &other_issuer)
        .await
        .expect("issuer");
    // A credential may be re-put with its own issuer and subject.
    assert!(
        !store
            .put_federated_credential(&id, &cred("FIRST", subject))
            .await
            .expect("same")
            .1
    );
    // But not moved onto another's.
    let steal = store
        .put_federated_credential(&id, &cred("upper", subject))
        .await;
    assert!(
        matches!(
            steal,
            Err(StoreError::Rejected(
                CredentialError::DuplicateIssuerSubject
            ))
        ),
        "{steal:?}"
    );
    // The same pair on another identity is fine.
    let other = identity_in_group(&store, "rg", "other", 2).await;
    store
        .put_federated_credential(&other, &cred("first", subject))
        .await
        .expect("other identity");
    assert_eq!(names(&store, &id).await, ["first", "slash", "upper"]);
}

async fn credential_paging(store: Store) {
    let id = identity_in_group(&store, "rg", "id", 1).await;
    // Mixed case, inserted out of order; pages follow the lower-cased names.
    let mut expected: Vec<String> = (0..20)
        .map(|i| {
            if i % 3 == 0 {
                format!("FIC-{i:02}")
            } else {
                format!("fic-{i:02}")
            }
        })
        .collect();
    for i in [
        7, 0, 19, 3, 12, 5, 18, 1, 9, 14, 2, 16, 4, 11, 6, 17, 8, 13, 10, 15,
    ] {
        store
            .put_federated_credential(&id, &cred(&expected[i], &format!("s{i}")))
            .await
            .expect("put");
    }
    expected.sort_by_key(|n| n.to_lowercase());

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let page = store
            .federated_credentials(&id, after.as_deref(), 7)
            .await
            .expect("page");
        sizes.push(page.len());
        let Some(last) = page.last() else { break };
        // The cursor is a name key, whatever case the caller hands it back in.
        after = Some(last.name.to_uppercase());
        seen.extend(page.into_iter().map(|c| c.name));
    }
    assert_eq!(sizes, [7, 7, 6, 0]);
    assert_eq!(seen, expected);
    let tail = store
        .federated_credentials(&id, Some("fic-17"), 100)
        .await
        .expect("tail");
    assert_eq!(
        tail.into_iter().map(|c| c.name).collect::<Vec<_>>(),
        ["FIC-18", "fic-19"]
    );
    assert!(store
        .federated_credentials(&id, None, 0)
        .await
        .expect("empty page")
        .is_empty());
}

async fn credentials_require_identity(store: Store) {
    store.put_resource_group(&group("rg")).await.expect("group");
    let missing = key("rg", "missing");
    let put = store
        .put_federated_credential(&missing, &cred("fic", "s"))
        .await;
    assert!(matches!(put, Err(StoreError::IdentityNotFound)), "{put:?}");
    let in_missing_group = store
        .put_federated_credential(&key("nope", "missing"), &cred("fic", "s"))
        .await;
    assert!(
        matches!(in_missing_group, Err(StoreError::IdentityNotFound)),
        "{in_missing_group:?}"
    );
    assert!(matches!(
        store.federated_credentials(&missing, None, 10).await,
        Err(StoreError::IdentityNotFound)
    ));
    assert!(matches!(
        store.delete_federated_credential(&missing, "fic").await,
        Err(StoreError::IdentityNotFound)
    ));
    assert_eq!(
        store
            .federated_credential(&missing, "fic")
            .await
            .expect("get"),
        None
    );
    assert!(matches!(
        store
            .federated_credentials_by_client_id(&client_id(1))
            .await,
        Err(StoreError::IdentityNotFound)
    ));
    let id = identity_in_group(&store, "rg", "present", 1).await;
    assert!(store
        .federated_credentials(&id, None, 10)
        .await
        .expect("list")
        .is_empty());
    assert!(store
        .federated_credentials_by_client_id(&client_id(1))
        .await
        .expect("by client")
        .is_empty());
}

/// Twenty writers race for the last ten places: the count check and the insert must not
/// interleave, on either backend.
async fn concurrent_puts_respect_limit(store: Store) {
    let id = identity_in_group(&store, "rg", "id", 1).await;
    for i in 0..10 {
        store
            .put_federated_credential(&id, &cred(&format!("base{i:02}"), &format!("base{i}")))
            .await
            .expect("put");
    }
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                store
                    .put_federated_credential(
                        &id,
                        &cred(&format!("race{i:02}"), &format!("race{i}")),
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for racer in racers {
        match racer.await.expect("join") {
            Ok((_, true)) => created += 1,
            Err(StoreError::Rejected(CredentialError::TooMany)) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(created, 10);
    assert_eq!(names(&store, &id).await.len(), 20);
    assert_eq!(
        store
            .federated_credentials_by_client_id(&client_id(1))
            .await
            .expect("by client")
            .len(),
        20
    );
}

async fn concurrent_duplicates_rejected(store: Store) {
    let id = identity_in_group(&store, "rg", "id", 1).await;
    let racers: Vec<_> = (0..10)
        .map(|i| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                store
                    .put_federated_credential(&id, &cred(&format!("dup{i}"), "same"))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for racer in racers {
        match racer.await.expect("join") {
            Ok((_, true)) => created += 1,
            Err(StoreError::Rejected(CredentialError::DuplicateIssuerSubject)) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(names(&store, &id).await.len(), 1);
}

async fn data_survives_reopen(store: Store, url: String) {
    store
        .put_setting_if_absent("tenant_id", "t1")
        .await
        .expect("setting");
    let id = identity_in_group(&store, "rg", "id", 1).await;
    let c = cred("fic", "s");
    store
        .put_federated_credential(&id, &c)
        .await
        .expect("credential");
    let before = store.identity(&id).await.expect("get");
    drop(store);

    let store = connect(&url).await;
    assert_eq!(
        store
            .setting("tenant_id")
            .await
            .expect("setting")
            .as_deref(),
        Some("t1")
    );
    assert_eq!(store.identity(&id).await.expect("get"), before);
    assert_eq!(
        store.federated_credential(&id, "fic").await.expect("get"),
        Some(c)
    );
}

fn cluster(rg: &str, name: &str, issuer_id: &str) -> Cluster {
    Cluster {
        subscription_id: SUB.to_owned(),
        resource_group: rg.to_owned(),
        name: name.to_owned(),
        location: "eastus".to_owned(),
        tags: tags(&[("env", "test")]),
        tenant_id: TENANT.to_owned(),
        issuer_id: issuer_id.to_owned(),
        oidc_issuer_enabled: true,
        workload_identity_enabled: false,
        spec: wid_core::cluster_spec::initial(&wid_core::cluster_spec::Placement {
            subscription_id: SUB,
            resource_group: rg,
            name,
            location: "eastus",
            issuer_id,
        }),
        sealed_kubeconfig: None,
        audit: audit("creator", 100),
    }
}

fn issuer_key(kid: &str, signing: bool, private: bool, at: i64) -> IssuerKey {
    IssuerKey {
        kid: kid.to_owned(),
        alg: "RS256".to_owned(),
        public_spki_der: kid.as_bytes().to_vec(),
        sealed_private_key: private.then(|| vec![1, 2, 3]),
        signing,
        exported_at: None,
        created_at: at,
    }
}

fn cluster_key(rg: &str, name: &str) -> ClusterKey {
    ClusterKey {
        subscription_id: SUB.to_owned(),
        resource_group: rg.to_owned(),
        name: name.to_owned(),
    }
}

async fn cluster_lifecycle_and_cascade(store: Store) {
    assert!(matches!(
        store
            .put_cluster(&cluster("nogroup", "c1", "i0"), &[])
            .await,
        Err(StoreError::ResourceGroupNotFound)
    ));
    store.put_resource_group(&group("RG-One")).await.unwrap();
    let (made, created) = store
        .put_cluster(
            &cluster("rg-one", "Aks1", "issuer-1"),
            &[issuer_key("k1", true, true, 1)],
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(made.resource_group, "RG-One");
    // An update keeps name casing and issuer id and changes the flags, the spec and the
    // sealed kubeconfig.
    let mut update = cluster("RG-ONE", "AKS1", "another-issuer");
    update.workload_identity_enabled = true;
    update.spec.agent_pools[0].count = 7;
    update.spec.kubernetes_version = "1.34".to_owned();
    update.sealed_kubeconfig = Some(vec![9, 8, 7]);
    update.audit = audit("updater", 200);
    let (stored, created) = store
        .put_cluster(&update, &[issuer_key("k9", true, true, 2)])
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(
        (stored.name.as_str(), stored.issuer_id.as_str()),
        ("Aks1", "issuer-1")
    );
    assert!(stored.workload_identity_enabled);
    assert_eq!(stored.spec, update.spec);
    assert_eq!(stored.sealed_kubeconfig, Some(vec![9, 8, 7]));
    assert!(store
        .sealed_values()
        .await
        .unwrap()
        .iter()
        .any(|(which, v)| {
            *which
                == wid_store::SealedValue::ClusterKubeconfig {
                    issuer_id: "issuer-1".into(),
                }
                && v == &[9, 8, 7]
        }));
    assert_eq!(
        (
            stored.audit.created_by.as_str(),
            stored.audit.modified_by.as_str()
        ),
        ("creator", "updater")
    );
    let keys = store.issuer_keys("issuer-1").await.unwrap();
    assert_eq!(keys.len(), 1, "an update adds no keys");
    assert_eq!(
        store.cluster(&cluster_key("rg-one", "aks1")).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store.cluster_by_issuer_id("issuer-1").await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store.clusters_in_group(SUB, "rg-one").await.unwrap().len(),
        1
    );
    assert_eq!(store.clusters_in_subscription(SUB).await.unwrap().len(), 1);
    assert!(matches!(
        store.clusters_in_group(SUB, "missing").await,
        Err(StoreError::ResourceGroupNotFound)
    ));
    assert!(store
        .delete_cluster(&cluster_key("rg-one", "AKS1"))
        .await
        .unwrap());
    assert!(!store
        .delete_cluster(&cluster_key("rg-one", "AKS1"))
        .await
        .unwrap());
    assert!(store.issuer_keys("issuer-1").await.unwrap().is_empty());
    // Deleting the group takes its clusters and their keys along.
    store
        .put_cluster(
            &cluster("rg-one", "aks2", "issuer-2"),
            &[issuer_key("k2", true, true, 1)],
        )
        .await
        .unwrap();
    assert!(store.delete_resource_group(SUB, "rg-one").await.unwrap());
    assert_eq!(store.cluster_by_issuer_id("issuer-2").await.unwrap(), None);
    assert!(store.issuer_keys("issuer-2").await.unwrap().is_empty());
}

async fn operations_expire(store: Store) {
    let op = |id: &str, expires_at| {
        wid_core::model::ArmOperation {
        id: id.to_owned(),
        subscription_id: SUB.to_owned(),
        resource_id: format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/{id}"),
        status: "Succeeded".to_owned(),
        started_at: 10,
        ended_at: 11,
        expires_at,
    }
    };
    store.put_operation(&op("aaaa", 100), 10).await.unwrap();
    store.put_operation(&op("bbbb", 200), 10).await.unwrap();
    assert_eq!(
        store.operation("AAAA", 99).await.unwrap(),
        Some(op("aaaa", 100)),
        "ids compare case-insensitively"
    );
    assert_eq!(store.operation("aaaa", 100).await.unwrap(), None, "expired");
    assert_eq!(store.operation("cccc", 10).await.unwrap(), None);
    // Writing after the first expiry removes it for good; the second stays.
    store.put_operation(&op("cccc", 300), 150).await.unwrap();
    assert_eq!(store.operation("aaaa", 0).await.unwrap(), None);
    assert_eq!(
        store.operation("bbbb", 150).await.unwrap(),
        Some(op("bbbb", 200))
    );
}

async fn issuer_key_rotation_and_export(store: Store) {
    store.put_resource_group(&group("rg")).await.unwrap();
    store
        .put_cluster(
            &cluster("rg", "aks", "iss"),
            &[issuer_key("old", true, true, 1)],
        )
        .await
        .unwrap();
    store
        .add_issuer_key("iss", &issuer_key("new", true, true, 2))
        .await
        .unwrap();
    store
        .add_issuer_key("iss", &issuer_key("byo", false, false, 3))
        .await
        .unwrap();
    let keys = store.issuer_keys("iss").await.unwrap();
    let summary: Vec<_> = keys
        .iter()
        .map(|k| (k.kid.as_str(), k.signing, k.sealed_private_key.is_some()))
        .collect();
    assert_eq!(
        summary,
        [
            ("old", false, true),
            ("new", true, true),
            ("byo", false, false)
        ]
    );
    assert!(matches!(
        store
            .add_issuer_key("iss", &issuer_key("byo", false, false, 4))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.remove_issuer_key("iss", "new").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.remove_issuer_key("iss", "old").await.unwrap());
    assert!(!store.remove_issuer_key("iss", "old").await.unwrap());
    assert!(store
        .mark_issuer_key_exported("iss", "new", 50)
        .await
        .unwrap());
    assert!(
        !store
            .mark_issuer_key_exported("iss", "new", 60)
            .await
            .unwrap(),
        "only once"
    );
    assert!(
        !store
            .mark_issuer_key_exported("iss", "byo", 60)
            .await
            .unwrap(),
        "no private key"
    );
    let new = store
        .issuer_keys("iss")
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == "new")
        .unwrap();
    assert_eq!(new.exported_at, Some(50));
}

fn assignment(name: &str, scope: &str, role: &str, principal: &str) -> RoleAssignment {
    RoleAssignment {
        name: name.to_owned(),
        tenant_id: TENANT.to_owned(),
        scope: scope.to_owned(),
        role_definition_id: format!(
            "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"
        ),
        principal_id: principal.to_owned(),
        principal_type: "ServicePrincipal".to_owned(),
        description: None,
        audit: audit("admin", 10),
    }
}

async fn role_assignments_round_trip(store: Store) {
    let sub_scope = format!("/subscriptions/{SUB}");
    let a = assignment(
        "A1B2C3D4-0000-4000-8000-000000000001",
        &sub_scope,
        "4633458b-17de-408a-b874-0445c86b69e6",
        "P1000000-0000-4000-8000-000000000000",
    );
    store.insert_role_assignment(&a).await.unwrap();
    assert_eq!(
        store
            .role_assignment("a1b2c3d4-0000-4000-8000-000000000001")
            .await
            .unwrap(),
        Some(a.clone())
    );
    // The same principal, role and scope under another name, whatever the id form and case.
    let mut twin = assignment(
        "A1B2C3D4-0000-4000-8000-000000000002",
        &format!("{}/", sub_scope.to_uppercase()),
        "4633458B-17DE-408A-B874-0445C86B69E6",
        "p1000000-0000-4000-8000-000000000000",
    );
    twin.role_definition_id =
        "/providers/Microsoft.Authorization/roleDefinitions/4633458B-17DE-408A-B874-0445C86B69E6"
            .to_owned();
    assert!(matches!(
        store.insert_role_assignment(&twin).await,
        Err(StoreError::RoleAssignmentExists)
    ));
    // A taken name is a conflict.
    let other = assignment(
        &a.name,
        &sub_scope,
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "p2",
    );
    assert!(matches!(
        store.insert_role_assignment(&other).await,
        Err(StoreError::Conflict(_))
    ));
    let b = assignment(
        "b0000000-0000-4000-8000-000000000003",
        &format!("{sub_scope}/resourceGroups/rg"),
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "P1000000-0000-4000-8000-000000000000",
    );
    store.insert_role_assignment(&b).await.unwrap();
    let mine = store
        .role_assignments_of("p1000000-0000-4000-8000-000000000000")
        .await
        .unwrap();
    assert_eq!(mine, vec![a.clone(), b.clone()]);
    assert_eq!(store.role_assignments(TENANT).await.unwrap().len(), 2);
    // Named under another scope (b's group), a stays.
    assert_eq!(
        store
            .delete_role_assignment(&a.name, &b.scope)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .delete_role_assignment(&a.name, &a.scope.to_uppercase())
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .delete_role_assignment(&a.name, &a.scope)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .role_assignments_of("P1000000-0000-4000-8000-000000000000")
            .await
            .unwrap(),
        vec![b]
    );
}

fn vault(rg: &str, name: &str, sub: &str) -> Vault {
    Vault {
        subscription_id: sub.to_owned(),
        resource_group: rg.to_owned(),
        name: name.to_owned(),
        location: "eastus".to_owned(),
        tags: tags(&[]),
        tenant_id: TENANT.to_owned(),
        settings: VaultSettings {
            sku_name: "standard".to_owned(),
            enable_rbac_authorization: true,
            enable_soft_delete: true,
            soft_delete_retention_in_days: 90,
            enable_purge_protection: false,
            access_policies: vec![],
            enabled_for_deployment: false,
            enabled_for_disk_encryption: false,
            enabled_for_template_deployment: false,
        },
        sealed_data_key: vec![9, 9, 9],
        deleted_at: None,
        scheduled_purge_at: None,
        audit: audit("admin", 5),
    }
}

async fn vaults_soft_delete_and_names(store: Store) {
    store.put_resource_group(&group("rg")).await.unwrap();
    assert!(matches!(
        store.put_vault(&vault("nope", "kv1", SUB)).await,
        Err(StoreError::ResourceGroupNotFound)
    ));
    let (made, created) = store.put_vault(&vault("RG", "MyVault", SUB)).await.unwrap();
    assert!(created);
    assert_eq!(made.resource_group, "rg");
    let mut update = vault("rg", "myvault", SUB);
    update.settings.enable_purge_protection = true;
    update.sealed_data_key = vec![1];
    let (stored, created) = store.put_vault(&update).await.unwrap();
    assert!(!created);
    assert_eq!(
        (stored.name.as_str(), stored.sealed_data_key.as_slice()),
        ("MyVault", &[9u8, 9, 9][..])
    );
    assert!(stored.settings.enable_purge_protection);
    // Names are global.
    let other_sub = "7F1C0E3A-0000-4000-8000-00000000000B";
    let mut elsewhere = vault("rg", "MYVAULT", other_sub);
    elsewhere.subscription_id = other_sub.to_owned();
    store
        .insert_subscription(&Subscription {
            id: other_sub.into(),
            tenant_id: TENANT.into(),
            display_name: "other".into(),
        })
        .await
        .unwrap();
    let mut rg2 = group("rg");
    rg2.subscription_id = other_sub.to_owned();
    store.put_resource_group(&rg2).await.unwrap();
    assert!(matches!(
        store.put_vault(&elsewhere).await,
        Err(StoreError::VaultNameTaken)
    ));
    assert_eq!(store.vaults(SUB, None).await.unwrap().len(), 1);
    assert_eq!(store.vaults(SUB, Some("RG")).await.unwrap().len(), 1);
    assert!(store.soft_delete_vault("myvault", 100, 200).await.unwrap());
    assert!(!store.soft_delete_vault("myvault", 100, 200).await.unwrap());
    assert!(store.vaults(SUB, None).await.unwrap().is_empty());
    let deleted = store.deleted_vaults(SUB).await.unwrap();
    assert_eq!(
        (deleted[0].deleted_at, deleted[0].scheduled_purge_at),
        (Some(100), Some(200))
    );
    assert!(matches!(
        store.put_vault(&vault("rg", "myvault", SUB)).await,
        Err(StoreError::VaultDeleted)
    ));
    assert!(store.recover_vault("MYVAULT").await.unwrap());
    assert!(
        !store.purge_vault("myvault").await.unwrap(),
        "only deleted vaults purge"
    );
    store.soft_delete_vault("myvault", 100, 200).await.unwrap();
    assert!(store.purge_vault("myvault").await.unwrap());
    assert_eq!(store.vault("myvault").await.unwrap(), None);
}

fn version(v: &str, value: &[u8], at: i64) -> SecretVersion {
    SecretVersion {
        version: v.to_owned(),
        sealed_value: value.to_vec(),
        content_type: None,
        tags: tags(&[]),
        enabled: true,
        nbf: None,
        exp: None,
        created: at,
        updated: at,
        managed: false,
    }
}

fn cert_version(v: &str, at: i64) -> CertificateVersion {
    CertificateVersion {
        version: v.to_owned(),
        der: vec![0x30, 0x03, at as u8],
        x5t: format!("x5t-{v}"),
        tags: tags(&[("env", "test")]),
        enabled: true,
        nbf: Some(at),
        exp: Some(at + 100),
        created: at,
        updated: at,
    }
}

async fn certificates_versions_operations_and_soft_delete(store: Store) {
    store.put_resource_group(&group("rg")).await.unwrap();
    store.put_vault(&vault("rg", "kv", SUB)).await.unwrap();
    assert!(matches!(
        store.put_certificate("missing", "c", "{}", 1, None).await,
        Err(StoreError::VaultNotFound)
    ));
    // Pending: a certificate with a policy and an operation but no version yet.
    store
        .put_certificate("kv", "Web", "{\"p\":1}", 5, None)
        .await
        .unwrap();
    let pending = store.certificate("KV", "web", None).await.unwrap().unwrap();
    assert_eq!(
        (pending.name.as_str(), pending.version.as_ref()),
        ("Web", None)
    );
    let op = CertificateOperation {
        request_id: "r1".into(),
        status: "inProgress".into(),
        status_details: None,
        error: None,
        csr: Some(vec![1, 2]),
        cancellation_requested: false,
        enabled: true,
        tags: tags(&[("k", "v")]),
    };
    store
        .put_certificate_operation("kv", "web", &op)
        .await
        .unwrap();
    assert_eq!(
        store.certificate_operation("kv", "WEB").await.unwrap(),
        Some(op.clone())
    );
    let done = CertificateOperation {
        status: "completed".into(),
        ..op
    };
    store
        .put_certificate_operation("kv", "web", &done)
        .await
        .unwrap();
    assert_eq!(
        store.certificate_operation("kv", "web").await.unwrap(),
        Some(done)
    );

    // A new create's operation: one claim at a time, a stale claim taken over, and the end
    // recorded only for the operation that is still in progress.
    let second = CertificateOperation {
        request_id: "r2".into(),
        status: "inProgress".into(),
        status_details: None,
        error: None,
        csr: None,
        cancellation_requested: false,
        enabled: true,
        tags: tags(&[]),
    };
    store
        .put_certificate_operation("kv", "web", &second)
        .await
        .unwrap();
    let claim = |request: &'static str, now: i64, stale_before: i64| {
        let store = store.clone();
        async move {
            store
                .claim_certificate_operation("kv", "WEB", request, now, stale_before)
                .await
                .unwrap()
        }
    };
    assert!(
        claim("r2", 100, 0).await,
        "an unclaimed operation is claimed"
    );
    assert!(!claim("r2", 101, 1).await, "a fresh claim holds");
    assert!(
        !claim("r1", 500, 200).await,
        "another request's id claims nothing"
    );
    assert!(claim("r2", 500, 200).await, "a stale claim is taken over");
    assert!(store
        .cancel_certificate_operation("kv", "web")
        .await
        .unwrap());
    assert!(!store
        .cancel_certificate_operation("kv", "none")
        .await
        .unwrap());
    assert!(
        claim("r2", 800, 700).await,
        "a cancelled operation is claimed to record its end"
    );
    let stale_end = CertificateOperation {
        request_id: "r1".into(),
        status: "completed".into(),
        ..second.clone()
    };
    assert!(!store
        .finish_certificate_operation("kv", "web", &stale_end)
        .await
        .unwrap());
    let cancelled = CertificateOperation {
        status: "cancelled".into(),
        status_details: Some("stopped".into()),
        ..second.clone()
    };
    assert!(store
        .finish_certificate_operation("kv", "web", &cancelled)
        .await
        .unwrap());
    assert!(
        !store
            .finish_certificate_operation("kv", "web", &second)
            .await
            .unwrap(),
        "an ended operation stays as it ended"
    );
    assert!(
        !claim("r2", 1000, 900).await,
        "an ended operation is not claimed"
    );
    assert_eq!(
        store.certificate_operation("kv", "web").await.unwrap(),
        Some(CertificateOperation {
            cancellation_requested: true,
            ..cancelled
        })
    );

    store
        .put_certificate("kv", "web", "{\"p\":2}", 10, Some(&cert_version("v1", 10)))
        .await
        .unwrap();
    store
        .put_certificate("kv", "web", "{\"p\":3}", 10, Some(&cert_version("v2", 10)))
        .await
        .unwrap();
    let latest = store.certificate("kv", "web", None).await.unwrap().unwrap();
    assert_eq!(
        latest.version.as_ref().unwrap().version,
        "v2",
        "the sequence orders versions"
    );
    assert_eq!(
        (
            latest.policy.as_str(),
            latest.policy_created,
            latest.policy_updated
        ),
        ("{\"p\":3}", 5, 10)
    );
    assert_eq!(
        store
            .certificate("kv", "web", Some("V1"))
            .await
            .unwrap()
            .unwrap()
            .version,
        Some(cert_version("v1", 10))
    );
    assert_eq!(
        store.certificate("kv", "web", Some("v9")).await.unwrap(),
        None
    );
    let versions = store.certificate_versions("kv", "web").await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|c| c.version.as_ref().unwrap().version.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2"]
    );

    let mut changed = cert_version("v1", 10);
    changed.enabled = false;
    changed.tags = tags(&[]);
    changed.updated = 20;
    assert!(store
        .update_certificate_version("kv", "web", &changed)
        .await
        .unwrap());
    assert_eq!(
        store
            .certificate("kv", "web", Some("v1"))
            .await
            .unwrap()
            .unwrap()
            .version,
        Some(changed)
    );

    store
        .put_certificate("kv", "other", "{}", 1, None)
        .await
        .unwrap();
    let names = |cs: Vec<Certificate>| cs.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.certificates("kv", false).await.unwrap()),
        ["other", "Web"]
    );
    assert!(store
        .delete_certificate("kv", "web", 100, 200)
        .await
        .unwrap());
    assert!(!store
        .delete_certificate("kv", "web", 100, 200)
        .await
        .unwrap());
    assert_eq!(
        names(store.certificates("kv", false).await.unwrap()),
        ["other"]
    );
    let deleted = store.certificates("kv", true).await.unwrap();
    assert_eq!(
        (deleted[0].deleted_at, deleted[0].scheduled_purge_at),
        (Some(100), Some(200))
    );
    assert!(store
        .certificate_versions("kv", "web")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.certificate_operation("kv", "web").await.unwrap(),
        None
    );
    assert!(matches!(
        store.put_certificate("kv", "web", "{}", 1, None).await,
        Err(StoreError::SecretDeleted)
    ));
    assert!(
        !store.purge_certificate("kv", "other").await.unwrap(),
        "only deleted certificates purge"
    );
    assert!(store.recover_certificate("kv", "web").await.unwrap());
    assert_eq!(
        store.certificate_versions("kv", "web").await.unwrap().len(),
        2
    );
    store
        .delete_certificate("kv", "web", 100, 200)
        .await
        .unwrap();
    assert!(store.purge_certificate("kv", "web").await.unwrap());
    assert_eq!(store.certificate("kv", "web", None).await.unwrap(), None);
    assert!(!store
        .delete_certificate_operation("kv", "web")
        .await
        .unwrap());
}

async fn secrets_versions_and_soft_delete(store: Store) {
    store.put_resource_group(&group("rg")).await.unwrap();
    store.put_vault(&vault("rg", "kv", SUB)).await.unwrap();
    assert!(matches!(
        store
            .add_secret_version("missing", "s", &version("a", b"x", 1))
            .await,
        Err(StoreError::VaultNotFound)
    ));
    store
        .add_secret_version("kv", "Db-Password", &version("v1", b"one", 10))
        .await
        .unwrap();
    // Same second, later version: the sequence, not the clock, says which is newest.
    let second = store
        .add_secret_version("KV", "db-password", &version("v2", b"two", 10))
        .await
        .unwrap();
    assert_eq!(second.name, "Db-Password");
    let latest = store
        .secret("kv", "DB-PASSWORD", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.version.sealed_value, b"two");
    assert!(!latest.version.managed);
    let backing = SecretVersion {
        managed: true,
        ..version("m1", b"pem", 11)
    };
    store.put_vault(&vault("rg", "kv-m", SUB)).await.unwrap();
    store
        .add_secret_version("kv-m", "cert-backed", &backing)
        .await
        .unwrap();
    let stored = store
        .secret("kv-m", "cert-backed", None)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.version.managed, "the managed flag is kept");
    assert_eq!(
        store
            .secret("kv", "db-password", Some("V1"))
            .await
            .unwrap()
            .unwrap()
            .version
            .sealed_value,
        b"one"
    );
    assert_eq!(
        store
            .secret_versions("kv", "db-password")
            .await
            .unwrap()
            .len(),
        2
    );
    store
        .add_secret_version("kv", "other", &version("o1", b"o", 11))
        .await
        .unwrap();
    let names: Vec<String> = store
        .secrets("kv", false)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["Db-Password", "other"]);
    let mut changed = version("v1", b"ignored", 10);
    changed.enabled = false;
    changed.updated = 20;
    assert!(store
        .update_secret_version("kv", "db-password", &changed)
        .await
        .unwrap());
    let v1 = store
        .secret("kv", "db-password", Some("v1"))
        .await
        .unwrap()
        .unwrap()
        .version;
    assert_eq!(
        (v1.enabled, v1.updated, v1.sealed_value.as_slice()),
        (false, 20, &b"one"[..])
    );
    assert!(store
        .delete_secret("kv", "db-password", 30, 40)
        .await
        .unwrap());
    assert!(matches!(
        store
            .add_secret_version("kv", "db-password", &version("v3", b"3", 31))
            .await,
        Err(StoreError::SecretDeleted)
    ));
    assert_eq!(store.secrets("kv", true).await.unwrap().len(), 1);
    assert_eq!(store.secrets("kv", false).await.unwrap().len(), 1);
    assert!(store.recover_secret("kv", "db-password").await.unwrap());
    assert!(
        !store.purge_secret("kv", "db-password").await.unwrap(),
        "only deleted secrets purge"
    );
    store
        .delete_secret("kv", "db-password", 30, 40)
        .await
        .unwrap();
    assert!(store.purge_secret("kv", "db-password").await.unwrap());
    assert_eq!(store.secret("kv", "db-password", None).await.unwrap(), None);
    // Purging the vault takes its secrets along.
    store.soft_delete_vault("kv", 50, 60).await.unwrap();
    store.purge_vault("kv").await.unwrap();
    assert_eq!(store.secret("kv", "other", None).await.unwrap(), None);
}

fn key_version(v: &str, sealed: &[u8], at: i64) -> KeyVersion {
    KeyVersion {
        version: v.to_owned(),
        kty: "EC".to_owned(),
        crv: Some("P-256".to_owned()),
        size: None,
        key_ops: vec!["sign".to_owned(), "verify".to_owned()],
        public_jwk: PublicJwk {
            kty: "EC".to_owned(),
            crv: Some("P-256".to_owned()),
            x: Some("eA".to_owned()),
            y: Some("eQ".to_owned()),
            ..PublicJwk::default()
        },
        sealed_private_key: sealed.to_vec(),
        tags: tags(&[]),
        enabled: true,
        nbf: None,
        exp: None,
        created: at,
        updated: at,
        exportable: false,
        managed: false,
    }
}

async fn keys_versions_soft_delete_and_rotation_policy(store: Store) {
    store.put_resource_group(&group("rg")).await.unwrap();
    store.put_vault(&vault("rg", "kv", SUB)).await.unwrap();
    assert!(matches!(
        store
            .add_key_version("missing", "k", &key_version("a", b"x", 1))
            .await,
        Err(StoreError::VaultNotFound)
    ));
    store
        .add_key_version("kv", "Signing-Key", &key_version("v1", b"one", 10))
        .await
        .unwrap();
    let mut rsa = key_version("v2", b"two", 10);
    rsa.kty = "RSA-HSM".to_owned();
    rsa.crv = None;
    rsa.size = Some(4096);
    rsa.public_jwk = PublicJwk {
        kty: "RSA".to_owned(),
        n: Some("AQAB".to_owned()),
        e: Some("AQAB".to_owned()),
        ..PublicJwk::default()
    };
    rsa.managed = true;
    rsa.tags = tags(&[("env", "prod")]);
    rsa.nbf = Some(5);
    rsa.exp = Some(500);
    // Same second, later version: the sequence, not the clock, says which is newest.
    let second = store
        .add_key_version("KV", "signing-key", &rsa)
        .await
        .unwrap();
    assert_eq!(second.name, "Signing-Key");
    let latest = store.key("kv", "SIGNING-KEY", None).await.unwrap().unwrap();
    assert_eq!(
        latest,
        VaultKey {
            name: "Signing-Key".to_owned(),
            deleted_at: None,
            scheduled_purge_at: None,
            version: rsa.clone(),
        },
        "every field round-trips"
    );
    let first = store
        .key("kv", "signing-key", Some("V1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.version, key_version("v1", b"one", 10));
    let versions: Vec<String> = store
        .key_versions("kv", "signing-key")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.version.version)
        .collect();
    assert_eq!(versions, ["v1", "v2"]);
    store
        .add_key_version("kv", "other", &key_version("o1", b"o", 11))
        .await
        .unwrap();
    let names: Vec<String> = store
        .keys("kv", false)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["other", "Signing-Key"]);
    let mut changed = key_version("v1", b"ignored", 10);
    changed.kty = "RSA".to_owned();
    changed.managed = true;
    changed.enabled = false;
    changed.key_ops = vec!["verify".to_owned()];
    changed.tags = tags(&[("a", "b")]);
    changed.exp = Some(99);
    changed.updated = 20;
    assert!(store
        .update_key_version("kv", "signing-key", &changed)
        .await
        .unwrap());
    assert!(!store
        .update_key_version("kv", "signing-key", &key_version("nope", b"", 1))
        .await
        .unwrap());
    let v1 = store
        .key("kv", "signing-key", Some("v1"))
        .await
        .unwrap()
        .unwrap()
        .version;
    let mut expected = key_version("v1", b"one", 10);
    expected.enabled = false;
    expected.key_ops = vec!["verify".to_owned()];
    expected.tags = tags(&[("a", "b")]);
    expected.exp = Some(99);
    expected.updated = 20;
    assert_eq!(v1, expected, "key material, kty and managed never change");

    assert_eq!(
        store
            .key_rotation_policy("kv", "signing-key")
            .await
            .unwrap(),
        Some(None)
    );
    assert_eq!(store.key_rotation_policy("kv", "nope").await.unwrap(), None);
    assert!(store
        .set_key_rotation_policy("kv", "Signing-key", r#"{"lifetimeActions":[]}"#)
        .await
        .unwrap());
    assert!(!store
        .set_key_rotation_policy("kv", "nope", "{}")
        .await
        .unwrap());
    assert_eq!(
        store
            .key_rotation_policy("kv", "signing-key")
            .await
            .unwrap(),
        Some(Some(r#"{"lifetimeActions":[]}"#.to_owned()))
    );

    assert!(store.delete_key("kv", "signing-key", 30, 40).await.unwrap());
    assert!(!store.delete_key("kv", "signing-key", 30, 40).await.unwrap());
    assert!(matches!(
        store
            .add_key_version("kv", "signing-key", &key_version("v3", b"3", 31))
            .await,
        Err(StoreError::KeyDeleted)
    ));
    assert!(store
        .key_versions("kv", "signing-key")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .key_rotation_policy("kv", "signing-key")
            .await
            .unwrap(),
        None,
        "a deleted key has no policy to read"
    );
    let deleted = store.keys("kv", true).await.unwrap();
    assert_eq!(
        (
            deleted.len(),
            deleted[0].deleted_at,
            deleted[0].scheduled_purge_at,
            deleted[0].version.version.as_str()
        ),
        (1, Some(30), Some(40), "v2")
    );
    assert_eq!(store.keys("kv", false).await.unwrap().len(), 1);
    assert!(store.recover_key("kv", "signing-key").await.unwrap());
    assert!(!store.recover_key("kv", "signing-key").await.unwrap());
    assert!(
        !store.purge_key("kv", "signing-key").await.unwrap(),
        "only deleted keys purge"
    );
    store.delete_key("kv", "signing-key", 30, 40).await.unwrap();
    assert!(store.purge_key("kv", "signing-key").await.unwrap());
    assert_eq!(store.key("kv", "signing-key", None).await.unwrap(), None);
    assert_eq!(
        store.key("kv", "signing-key", Some("v1")).await.unwrap(),
        None
    );
    // Purging the vault takes its keys along.
    store.soft_delete_vault("kv", 50, 60).await.unwrap();
    store.purge_vault("kv").await.unwrap();
    assert_eq!(store.key("kv", "other", None).await.unwrap(), None);
}

async fn leases_have_one_holder(store: Store) {
    assert!(store.try_lease("purge", "a", 100, 30).await.unwrap());
    assert!(
        !store.try_lease("purge", "b", 110, 30).await.unwrap(),
        "held until 130"
    );
    assert!(
        store.try_lease("purge", "a", 120, 30).await.unwrap(),
        "the holder renews"
    );
    assert!(!store.try_lease("purge", "b", 149, 30).await.unwrap());
    assert!(
        store.try_lease("purge", "b", 151, 30).await.unwrap(),
        "expired: taken over"
    );
    assert!(!store.try_lease("purge", "a", 152, 30).await.unwrap());
    assert!(
        store.try_lease("other", "a", 152, 30).await.unwrap(),
        "leases are independent"
    );
}

async fn expired_soft_deletes_are_purged(store: Store) {
    store.put_resource_group(&group("rg")).await.unwrap();
    store.put_vault(&vault("rg", "kv", SUB)).await.unwrap();
    store.put_vault(&vault("rg", "gone", SUB)).await.unwrap();
    for name in ["old", "recent", "live"] {
        store
            .add_secret_version("kv", name, &version("v1", b"x", 1))
            .await
            .unwrap();
    }
    store.delete_secret("kv", "old", 10, 100).await.unwrap();
    store.delete_secret("kv", "recent", 10, 300).await.unwrap();
    for (name, purge_at) in [("old-cert", 100), ("recent-cert", 300)] {
        store
            .put_certificate("kv", name, "{}", 1, Some(&cert_version("v1", 1)))
            .await
            .unwrap();
        store
            .delete_certificate("kv", name, 10, purge_at)
            .await
            .unwrap();
    }
    store.soft_delete_vault("gone", 10, 150).await.unwrap();
    store
        .add_key_version("kv", "old-key", &key_version("k1", b"x", 1))
        .await
        .unwrap();
    store.delete_key("kv", "old-key", 10, 100).await.unwrap();
    let purged = store.purge_expired(200).await.unwrap();
    assert_eq!(
        (
            purged.secrets,
            purged.keys,
            purged.certificates,
            purged.vaults
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(store.key("kv", "old-key", None).await.unwrap(), None);
    assert_eq!(
        store.certificate("kv", "old-cert", None).await.unwrap(),
        None
    );
    assert!(store
        .certificate("kv", "recent-cert", None)
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.secret("kv", "old", None).await.unwrap(), None);
    assert!(store.secret("kv", "recent", None).await.unwrap().is_some());
    assert!(store.secret("kv", "live", None).await.unwrap().is_some());
    assert_eq!(store.vault("gone").await.unwrap(), None);
    assert_eq!(
        store.purge_expired(200).await.unwrap(),
        wid_store::Purged::default()
    );
}

async fn writes_bump_their_change_generation(store: Store) {
    let generation = |store: Store, topic: Topic| async move {
        store
            .change_generations()
            .await
            .unwrap()
            .get(&topic)
            .copied()
            .unwrap_or(0)
    };
    let id = identity_in_group(&store, "rg", "id", 1).await;
    let before = generation(store.clone(), Topic::Credentials).await;
    store
        .put_federated_credential(&id, &cred("c", "s"))
        .await
        .unwrap();
    assert_eq!(
        generation(store.clone(), Topic::Credentials).await,
        before + 1
    );
    store.delete_federated_credential(&id, "c").await.unwrap();
    assert_eq!(
        generation(store.clone(), Topic::Credentials).await,
        before + 2
    );

    let a = assignment(
        "A1B2C3D4-0000-4000-8000-000000000001",
        &format!("/subscriptions/{SUB}"),
        "4633458b-17de-408a-b874-0445c86b69e6",
        "P1000000-0000-4000-8000-000000000000",
    );
    store.insert_role_assignment(&a).await.unwrap();
    assert_eq!(generation(store.clone(), Topic::RoleAssignments).await, 1);
    store
        .delete_role_assignment(
            "a1b2c3d4-0000-4000-8000-000000000001",
            &format!("/subscriptions/{SUB}/"),
        )
        .await
        .unwrap();
    assert_eq!(generation(store.clone(), Topic::RoleAssignments).await, 2);

    store.put_vault(&vault("rg", "kv", SUB)).await.unwrap();
    assert_eq!(generation(store.clone(), Topic::Vaults).await, 1);
    store
        .put_cluster(
            &cluster("rg", "aks", "issuer-1"),
            &[issuer_key("k1", true, true, 1)],
        )
        .await
        .unwrap();
    store
        .add_issuer_key("issuer-1", &issuer_key("k2", false, false, 2))
        .await
        .unwrap();
    assert_eq!(
        generation(store.clone(), Topic::IssuerKeys).await,
        2,
        "created, then a key added"
    );

    let key = SigningKeyRecord {
        kid: "k".into(),
        tenant_id: "T".into(),
        alg: "RS256".into(),
        public_spki_der: vec![1],
        sealed_private_key: vec![2],
        created_at: 1,
    };
    store.insert_signing_key(&key).await.unwrap();
    assert!(store.delete_signing_key("t", "k").await.unwrap());
    assert_eq!(generation(store.clone(), Topic::SigningKeys).await, 2);
    assert!(store.signing_keys("T").await.unwrap().is_empty());
}

/// Something of every table, for backups to carry.
async fn populate(store: &Store) {
    store
        .insert_tenant(&Tenant {
            id: "T1".into(),
            display_name: "wid".into(),
            default_domain: "wid.localhost".into(),
        })
        .await
        .unwrap();
    store
        .put_setting_if_absent("tenant_id", "T1")
        .await
        .unwrap();
    store
        .insert_service_principal(&ServicePrincipal {
            object_id: "O1".into(),
            app_id: "A1".into(),
            tenant_id: "T1".into(),
            display_name: "admin".into(),
            secret_hash: vec![0, 1, 2, 255],
        })
        .await
        .unwrap();
    store
        .insert_signing_key(&SigningKeyRecord {
            kid: "sk1".into(),
            tenant_id: "T1".into(),
            alg: "RS256".into(),
            public_spki_der: vec![0x30, 0x82],
            sealed_private_key: vec![9; 40],
            created_at: 5,
        })
        .await
        .unwrap();
    let id = identity_in_group(store, "rg", "id", 1).await;
    store
        .put_federated_credential(&id, &cred("c1", "system:serviceaccount:ns:sa"))
        .await
        .unwrap();
    store
        .put_cluster(
            &cluster("rg", "aks", "issuer-1"),
            &[issuer_key("k1", true, true, 1)],
        )
        .await
        .unwrap();
    store
        .insert_role_assignment(&assignment(
            "A1B2C3D4-0000-4000-8000-000000000001",
            &format!("/subscriptions/{SUB}"),
            "4633458b-17de-408a-b874-0445c86b69e6",
            "P1000000-0000-4000-8000-000000000000",
        ))
        .await
        .unwrap();
    store.put_vault(&vault("rg", "kv", SUB)).await.unwrap();
    for (v, value) in [("v1", b"one".as_slice()), ("v2", b"\x00two")] {
        store
            .add_secret_version("kv", "db-password", &version(v, value, 10))
            .await
            .unwrap();
    }
    store
        .delete_secret("kv", "db-password", 20, 1000)
        .await
        .unwrap();
}

fn sorted_lines(backup: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8(backup.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

async fn backup_restores_into_an_empty_database(store: Store) {
    populate(&store).await;
    let mut backup = Vec::new();
    let summary = store.backup(&mut backup).await.unwrap();
    assert!(summary.rows >= 14, "{summary:?}");
    run(store.backend(), |url| async move {
        let target = connect(&url).await;
        let restored = target.restore(&mut backup.as_slice()).await.unwrap();
        assert_eq!(restored, summary);
        let mut again = Vec::new();
        target.backup(&mut again).await.unwrap();
        assert_eq!(sorted_lines(&again), sorted_lines(&backup));
        // What the restored database answers, not only what it holds.
        assert!(target
            .identity_by_client_id(&client_id(1))
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            target
                .federated_credentials_by_client_id(&client_id(1))
                .await
                .unwrap()
                .len(),
            1
        );
        let deleted = target
            .secret("kv", "db-password", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(deleted.version.sealed_value, b"\x00two");
        assert_eq!(deleted.deleted_at, Some(20));
        assert_eq!(target.secrets("kv", true).await.unwrap().len(), 1);
        // Generated sequences continue after the restored rows.
        target
            .insert_signing_key(&SigningKeyRecord {
                kid: "sk2".into(),
                tenant_id: "T1".into(),
                alg: "RS256".into(),
                public_spki_der: vec![1],
                sealed_private_key: vec![2],
                created_at: 5,
            })
            .await
            .unwrap();
        let kids: Vec<String> = target
            .signing_keys("t1")
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(kids, ["sk1", "sk2"]);
    })
    .await;
}

async fn restore_refuses_damaged_backups_and_full_databases(store: Store) {
    populate(&store).await;
    let mut backup = Vec::new();
    store.backup(&mut backup).await.unwrap();
    assert!(matches!(
        store.restore(&mut backup.as_slice()).await,
        Err(StoreError::Backup(m)) if m.contains("not empty")
    ));
    let text = String::from_utf8(backup).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let truncated = lines[..lines.len() - 1].join("\n");
    let miscounted = text.replace("{\"end\":{\"rows\":", "{\"end\":{\"rows\":1");
    let injected = text.replacen("\"row\":{\"", "\"row\":{\"x) VALUES (1); --\":1,\"", 1);
    let other_schema = text.replacen("\"schemaVersion\":", "\"schemaVersion\":1000", 1);
    let trailing = format!("{text}{}\n", lines[1]);
    // The first row (a setting, which nothing references) moved after all the others.
    let mut reordered = lines.clone();
    reordered[1..lines.len() - 1].rotate_left(1);
    let reordered = reordered.join("\n");
    run(store.backend(), |url| async move {
        let target = connect(&url).await;
        for (damaged, why) in [
            (truncated.as_str(), "truncated"),
            (miscounted.as_str(), "rows"),
            (injected.as_str(), "invalid column name"),
            ("{}", "not a wid backup"),
            (other_schema.as_str(), "schema version"),
            (trailing.as_str(), "follow the end line"),
            (reordered.as_str(), "out of order"),
        ] {
            match target.restore(&mut damaged.as_bytes()).await {
                Err(StoreError::Backup(m)) => assert!(m.contains(why), "{why}: {m}"),
                other => panic!("{why}: {other:?}"),
            }
            let mut empty = Vec::new();
            assert_eq!(
                target.backup(&mut empty).await.unwrap().rows,
                0,
                "{why}: rolled back"
            );
        }
    })
    .await;
}

/// Outgrowing one machine: the embedded default's data moves to PostgreSQL by backup and
/// restore.
#[tokio::test(flavor = "multi_thread")]
async fn backup_moves_from_sqlite_to_postgres() {
    run(Backend::Sqlite, |sqlite_url| async move {
        let source = connect(&sqlite_url).await;
        populate(&source).await;
        let mut backup = Vec::new();
        let summary = source.backup(&mut backup).await.unwrap();
        run(Backend::Postgres, |pg_url| async move {
            let target = connect(&pg_url).await;
            assert_eq!(
                target.restore(&mut backup.as_slice()).await.unwrap().rows,
                summary.rows
            );
            let mut again = Vec::new();
            target.backup(&mut again).await.unwrap();
            let strip_backend = |b: &[u8]| {
                sorted_lines(b)
                    .into_iter()
                    .filter(|l| !l.contains("widBackup"))
                    .collect::<Vec<_>>()
            };
            assert_eq!(strip_backend(&again), strip_backend(&backup));
        })
        .await;
    })
    .await;
}

/// A table a later migration adds must be added to backups too, or backups refuse to run.
async fn backups_refuse_tables_they_do_not_know(store: Store, url: String) {
    use sqlx::Executor;
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    pool.execute("CREATE TABLE not_in_backups (x BIGINT)")
        .await
        .unwrap();
    pool.close().await;
    match store.backup(&mut Vec::new()).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("not_in_backups"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// ---- applications -----------------------------------------------------------------------

const APP_TENANT: &str = "7E4A0000-0000-4000-8000-000000000001";

fn app(n: u32) -> Application {
    Application {
        object_id: format!("A0000000-0000-4000-8000-{n:012}"),
        tenant_id: APP_TENANT.into(),
        app_id: format!("C0000000-0000-4000-8000-{n:012}"),
        display_name: format!("app{n}"),
        sign_in_audience: "AzureADMyOrg".into(),
        identifier_uris: vec![format!("api://app{n}")],
        created_at: 1_700_000_000 + i64::from(n),
    }
}

fn app_cred(name: &str, subject: &str) -> AppFederatedCredential {
    AppFederatedCredential {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.into(),
        issuer: "https://issuer.example".into(),
        subject: subject.into(),
        audiences: vec![DEFAULT_AUDIENCE.into()],
        description: None,
    }
}

async fn applications_round_trip_and_cascade(store: Store) {
    let a = app(1);
    store.insert_application(&a).await.expect("insert");
    assert!(matches!(
        store
            .insert_application(&Application {
                object_id: "other".into(),
                ..a.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .application(&APP_TENANT.to_lowercase(), &a.object_id.to_lowercase())
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .application("other-tenant", &a.object_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .application_by_app_id(&a.app_id.to_lowercase())
            .await
            .unwrap(),
        Some(a.clone())
    );
    store.insert_application(&app(2)).await.expect("insert");
    let listed: Vec<_> = store
        .list_applications(APP_TENANT)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.display_name)
        .collect();
    assert_eq!(listed, ["app1", "app2"]);
    let changed = store
        .update_application(
            APP_TENANT,
            &a.object_id,
            &ApplicationChanges {
                display_name: Some("renamed".into()),
                identifier_uris: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(
        (changed.display_name.as_str(), changed.identifier_uris.len()),
        ("renamed", 0)
    );
    assert_eq!(changed.sign_in_audience, "AzureADMyOrg");
    assert_eq!(
        store
            .update_application(APP_TENANT, "missing", &ApplicationChanges::default())
            .await
            .unwrap(),
        None
    );
    // Passwords, credentials and the service principal go with the application.
    let password = ApplicationPassword {
        key_id: "K1".into(),
        display_name: Some("rbac".into()),
        hint: "abc".into(),
        secret_hash: vec![1, 2, 3],
        start_at: 10,
        end_at: 20,
    };
    assert!(store
        .add_application_password(APP_TENANT, &a.object_id, &password)
        .await
        .unwrap());
    assert!(!store
        .add_application_password(APP_TENANT, "missing", &password)
        .await
        .unwrap());
    assert_eq!(
        store.application_passwords(&a.object_id).await.unwrap(),
        vec![password.clone()]
    );
    store
        .insert_app_federated_credential(APP_TENANT, &a.object_id, &app_cred("fic", "s"))
        .await
        .unwrap()
        .expect("app exists");
    let sp = AppServicePrincipal {
        object_id: "5E000000-0000-4000-8000-000000000001".into(),
        tenant_id: APP_TENANT.into(),
        app_id: a.app_id.clone(),
        display_name: "renamed".into(),
        created_at: 5,
    };
    store.insert_app_service_principal(&sp).await.expect("sp");
    assert!(matches!(
        store
            .insert_app_service_principal(&AppServicePrincipal {
                object_id: "another".into(),
                ..sp.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .app_service_principal_by_app_id(APP_TENANT, &a.app_id.to_lowercase())
            .await
            .unwrap(),
        Some(sp.clone())
    );
    assert_eq!(
        store
            .app_service_principal(APP_TENANT, &sp.object_id)
            .await
            .unwrap(),
        Some(sp.clone())
    );
    assert_eq!(
        store.list_app_service_principals(APP_TENANT).await.unwrap(),
        vec![sp.clone()]
    );
    assert!(store
        .remove_application_password(&a.object_id, "k1")
        .await
        .unwrap());
    assert!(!store
        .remove_application_password(&a.object_id, "k1")
        .await
        .unwrap());
    store
        .add_application_password(APP_TENANT, &a.object_id, &password)
        .await
        .unwrap();
    assert!(store
        .delete_application(APP_TENANT, &a.object_id)
        .await
        .unwrap());
    assert!(!store
        .delete_application(APP_TENANT, &a.object_id)
        .await
        .unwrap());
    assert_eq!(
        store
            .app_service_principal(APP_TENANT, &sp.object_id)
            .await
            .unwrap(),
        None
    );
    assert!(store
        .application_passwords(&a.object_id)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .app_federated_credentials(&a.object_id)
        .await
        .unwrap()
        .is_empty());
    // A service principal needs its application.
    assert!(store.insert_app_service_principal(&sp).await.is_err());
}

async fn app_credentials_follow_entra_rules(store: Store) {
    let a = app(1);
    store.insert_application(&a).await.unwrap();
    assert_eq!(
        store
            .insert_app_federated_credential(APP_TENANT, "missing", &app_cred("x", "s"))
            .await
            .unwrap(),
        None
    );
    for i in 0..20 {
        store
            .insert_app_federated_credential(
                APP_TENANT,
                &a.object_id,
                &app_cred(&format!("fic{i:02}"), &format!("s{i}")),
            )
            .await
            .unwrap()
            .unwrap();
    }
    let over = store
        .insert_app_federated_credential(APP_TENANT, &a.object_id, &app_cred("fic20", "s20"))
        .await;
    assert!(
        matches!(over, Err(StoreError::Rejected(CredentialError::TooMany))),
        "{over:?}"
    );
    store
        .delete_app_federated_credential(&a.object_id, "FIC19")
        .await
        .unwrap();
    let dup = store
        .insert_app_federated_credential(APP_TENANT, &a.object_id, &app_cred("fic20", "s3"))
        .await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Rejected(
                CredentialError::DuplicateIssuerSubject
            ))
        ),
        "{dup:?}"
    );
    let same_name = store
        .insert_app_federated_credential(APP_TENANT, &a.object_id, &app_cred("FIC00", "s-new"))
        .await;
    assert!(
        matches!(same_name, Err(StoreError::Conflict(_))),
        "{same_name:?}"
    );
    // An update is checked against the others only, and addresses the credential by id or name.
    let all = store.app_federated_credentials(&a.object_id).await.unwrap();
    assert_eq!(all.len(), 19);
    let first = all[0].clone();
    let kept = store
        .update_app_federated_credential(
            APP_TENANT,
            &a.object_id,
            &first.id.to_uppercase(),
            &AppCredentialChanges {
                description: Some("d".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .expect("found by id");
    assert_eq!(
        (kept.subject.as_str(), kept.description.as_deref()),
        (first.subject.as_str(), Some("d"))
    );
    let clash = store
        .update_app_federated_credential(
            APP_TENANT,
            &a.object_id,
            "fic00",
            &AppCredentialChanges {
                subject: Some("s1".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(
            clash,
            Err(StoreError::Rejected(
                CredentialError::DuplicateIssuerSubject
            ))
        ),
        "{clash:?}"
    );
    assert_eq!(
        store
            .update_app_federated_credential(
                APP_TENANT,
                &a.object_id,
                "nothing",
                &AppCredentialChanges::default()
            )
            .await
            .unwrap(),
        None
    );
    assert!(store
        .delete_app_federated_credential(&a.object_id, &first.id)
        .await
        .unwrap());
    assert!(!store
        .delete_app_federated_credential(&a.object_id, "fic00")
        .await
        .unwrap());
}

async fn concurrent_app_credentials_respect_limit(store: Store) {
    let a = app(1);
    store.insert_application(&a).await.unwrap();
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let store = store.clone();
            let oid = a.object_id.clone();
            tokio::spawn(async move {
                store
                    .insert_app_federated_credential(
                        APP_TENANT,
                        &oid,
                        &app_cred(&format!("c{i}"), &format!("s{}", i % 25)),
                    )
                    .await
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await.unwrap();
    }
    let all = store.app_federated_credentials(&a.object_id).await.unwrap();
    assert_eq!(all.len(), 20);
    let mut pairs: Vec<_> = all.iter().map(|c| c.subject.clone()).collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(
        pairs.len(),
        20,
        "issuer and subject stay unique under concurrency"
    );
}

async fn directory_role_assignments_round_trip(store: Store) {
    let assignment = DirectoryRoleAssignment {
        id: "R1".into(),
        tenant_id: APP_TENANT.into(),
        principal_id: "P1".into(),
        role_definition_id: "88d8e3e3-8f55-4a1e-953a-9b9898b8876b".into(),
        directory_scope_id: "/".into(),
    };
    store
        .insert_directory_role_assignment(&assignment)
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_directory_role_assignment(&DirectoryRoleAssignment {
                id: "R2".into(),
                principal_id: "p1".into(),
                ..assignment.clone()
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .directory_role_assignments(APP_TENANT, Some("p1"))
            .await
            .unwrap(),
        vec![assignment.clone()]
    );
    assert!(store
        .directory_role_assignments(APP_TENANT, Some("p2"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .directory_role_assignments(APP_TENANT, None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .delete_directory_role_assignment(APP_TENANT, "r1")
        .await
        .unwrap());
    assert!(store
        .directory_role_assignments(APP_TENANT, None)
        .await
        .unwrap()
        .is_empty());
}

fn sign_in(id: &str, at_ms: i64, app: &str, code: u32, kind: SignInKind) -> SignIn {
    SignIn {
        id: id.into(),
        created_at_ms: at_ms,
        tenant_id: "T".into(),
        app_id: app.into(),
        app_display_name: None,
        principal_id: Some(format!("P-{app}")),
        principal_name: None,
        user_principal_name: None,
        kind,
        credential: CredentialKind::FederatedIdentityCredential,
        resource: Some("https://vault.azure.net".into()),
        error_code: code,
        failure_reason: (code != 0).then(|| "AADSTS700213: no match".into()),
        federated: None,
        assertion_issuer: Some("https://issuer.example/".into()),
        assertion_subject: Some("system:serviceaccount:default:workload".into()),
        managed_identity_resource_id: None,
        ip_address: "127.0.0.1".into(),
        correlation_id: format!("corr-{id}"),
        request_id: format!("req-{id}"),
        replica: "r1".into(),
    }
}

async fn sign_ins_list_page_and_prune(store: Store) {
    use SignInKind::{ManagedIdentity, ServicePrincipal};
    let all = [
        sign_in("a", 1_000, "app-1", 0, ManagedIdentity),
        sign_in("b", 2_000, "app-1", 700213, ManagedIdentity),
        sign_in("c", 2_000, "APP-2", 0, ServicePrincipal),
        sign_in("d", 3_000, "app-2", 7000215, ServicePrincipal),
        sign_in("e", 4_000, "app-1", 0, ManagedIdentity),
    ];
    store.insert_sign_ins(&all[..2]).await.unwrap();
    store.insert_sign_ins(&all[2..]).await.unwrap();
    store.insert_sign_ins(&[]).await.unwrap();
    let ids = |v: Vec<SignIn>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let list = |filter: &str| {
        let store = store.clone();
        let query = SignInQuery::from_filter(filter).unwrap();
        async move { ids(store.sign_ins("t", &query, None, 10).await.unwrap()) }
    };
    // Newest first; one millisecond ordered by id, descending.
    assert_eq!(
        ids(store
            .sign_ins("T", &SignInQuery::default(), None, 10)
            .await
            .unwrap()),
        ["e", "d", "c", "b", "a"]
    );
    assert_eq!(list("status/errorCode ne 0").await, ["d", "b"]);
    assert_eq!(list("appId eq 'App-2'").await, ["d", "c"]);
    assert_eq!(
        list("signInEventTypes/any(t:t eq 'managedIdentity') and status/errorCode eq 0").await,
        ["e", "a"]
    );
    assert_eq!(
        list("servicePrincipalId eq 'p-app-1' and createdDateTime le 1970-01-01T00:00:02Z").await,
        ["b", "a"]
    );
    assert_eq!(
        list("createdDateTime gt 1970-01-01T00:00:02Z").await,
        ["e", "d"]
    );
    assert!(list("signInEventTypes/any(t:t eq 'nothing')")
        .await
        .is_empty());
    assert!(store
        .sign_ins("other-tenant", &SignInQuery::default(), None, 10)
        .await
        .unwrap()
        .is_empty());
    // Pages follow one another without a gap or a repeat, through the tie at 2,000 ms.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .sign_ins("T", &SignInQuery::default(), after.as_ref(), 2)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some(LogCursor {
            created_at_ms: last.created_at_ms,
            id: last.id.clone(),
        });
        seen.extend(ids(page));
    }
    assert_eq!(seen, ["e", "d", "c", "b", "a"]);
    assert_eq!(store.sign_in("T", "D").await.unwrap(), Some(all[3].clone()));
    assert_eq!(store.sign_in("other", "d").await.unwrap(), None);
    // By age (before 2,000 ms), then by count (the newest three).
    assert_eq!(store.prune_sign_ins(2_000, 10).await.unwrap(), 1);
    assert_eq!(store.prune_sign_ins(0, 3).await.unwrap(), 1);
    assert_eq!(store.prune_sign_ins(0, 3).await.unwrap(), 0);
    assert_eq!(
        ids(store
            .sign_ins("T", &SignInQuery::default(), None, 10)
            .await
            .unwrap()),
        ["e", "d", "c"]
    );
    assert_eq!(store.prune_sign_ins(0, 0).await.unwrap(), 3);
}

fn vault_event(id: &str, vault: &str, at_ms: i64, operation: &str, status: u16) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        created_at_ms: at_ms,
        tenant_id: "t".into(),
        vault_id: format!(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/{vault}"
        ),
        operation_name: operation.into(),
        operation_version: "7.5".into(),
        http_status: status,
        result_description: (status >= 400).then(|| "refused".into()),
        duration_ms: 3,
        caller_ip: "10.0.0.7".into(),
        correlation_id: format!("corr-{id}"),
        object_id: Some("OID".into()),
        app_id: Some("App".into()),
        request_uri: "/secrets/s?api-version=7.5".into(),
        item_id: Some(format!("https://{vault}.vault.localhost/secrets/s")),
        decision: Some(Decision::Rbac(status < 400)),
        client_info: "azsdk-python-keyvault-secrets/4.9".into(),
        replica: "r1".into(),
    }
}

async fn vault_events_list_by_vault_and_prune(store: Store) {
    let all = [
        vault_event("a", "v1", 1_000, "SecretGet", 200),
        vault_event("b", "v1", 2_000, "SecretGet", 403),
        vault_event("c", "V2", 2_000, "KeySign", 200),
        vault_event("d", "v1", 3_000, "SecretList", 401),
    ];
    store.insert_vault_events(&all).await.unwrap();
    store.insert_vault_events(&[]).await.unwrap();
    let v1 = "/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/vaults/V1";
    let list = |vault: &'static str, filter: &str| {
        let store = store.clone();
        let query = if filter.is_empty() {
            VaultEventQuery::default()
        } else {
            VaultEventQuery::from_filter(filter).unwrap()
        };
        async move {
            store
                .vault_events(vault, &query, None, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(v1, "").await, ["d", "b", "a"]);
    assert_eq!(list(v1, "httpStatusCode ge 400").await, ["d", "b"]);
    assert_eq!(
        list(v1, "operationName eq 'secretget' and appId eq 'APP'").await,
        ["b", "a"]
    );
    assert_eq!(list(v1, "time lt 1970-01-01T00:00:02Z").await, ["a"]);
    assert_eq!(
        list(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v2",
            ""
        )
        .await,
        ["c"]
    );
    let first = store
        .vault_events(v1, &VaultEventQuery::default(), None, 1)
        .await
        .unwrap();
    assert_eq!(first, vec![all[3].clone()]);
    let next = store
        .vault_events(
            v1,
            &VaultEventQuery::default(),
            Some(&LogCursor {
                created_at_ms: 3_000,
                id: "d".into(),
            }),
            1,
        )
        .await
        .unwrap();
    assert_eq!(next, vec![all[1].clone()]);
    assert_eq!(store.prune_vault_events(2_000, 10).await.unwrap(), 1);
    assert_eq!(store.prune_vault_events(0, 1).await.unwrap(), 2);
    assert_eq!(list(v1, "").await, ["d"]);

    // A writer's batch spans several statements and is stored whole, or not at all.
    let many: Vec<AuditEvent> = (0..70)
        .map(|i| vault_event(&format!("m{i:02}"), "v3", 10_000 + i, "SecretGet", 200))
        .collect();
    let v3 = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v3";
    let mut clashing = many.clone();
    clashing[65].id = "m01".into();
    assert!(store.insert_vault_events(&clashing).await.is_err());
    assert!(list(v3, "").await.is_empty());
    store.insert_vault_events(&many).await.unwrap();
    let stored = store
        .vault_events(v3, &VaultEventQuery::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(stored.len(), 70);
    assert_eq!(stored[0], many[69]);
    assert_eq!(stored[69], many[0]);
}
