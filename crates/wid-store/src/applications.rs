//! Application registrations with what belongs to them (client secrets, federated identity
//! credentials, the service principal of the tenant), and directory role assignments.
//!
//! An application's credential rules (unique issuer and subject, at most twenty) span all
//! its credentials, so a credential write checks and changes them in one transaction that
//! holds the application's row lock, as `credentials.rs` does for identities. Writes that
//! change what the token exchange caches (credentials, applications, service principals)
//! bump [`Topic::Credentials`].

use crate::changes::Topic;
use crate::codec::{self, key};
use crate::db::Backend;
use crate::error::conflict_if_taken;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use wid_core::federation::check_against_pairs;
use wid_core::model::{
    AppFederatedCredential, AppServicePrincipal, Application, ApplicationPassword,
    DirectoryRoleAssignment,
};

macro_rules! app_columns {
    () => {
        "object_id, tenant_id, app_id, display_name, sign_in_audience, identifier_uris, created_at"
    };
}
macro_rules! fic_columns {
    () => {
        "id, name, issuer, subject, audiences, description"
    };
}
macro_rules! sp_columns {
    () => {
        "object_id, tenant_id, app_id, display_name, created_at"
    };
}

/// The fields of an application an update may change; `None` keeps the stored value.
#[derive(Debug, Default, Clone)]
pub struct ApplicationChanges {
    pub display_name: Option<String>,
    pub sign_in_audience: Option<String>,
    pub identifier_uris: Option<Vec<String>>,
}

/// The fields of a federated credential an update may change (its name and id stay).
#[derive(Debug, Default, Clone)]
pub struct AppCredentialChanges {
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub audiences: Option<Vec<String>>,
    pub description: Option<String>,
}

fn uris_json(uris: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(uris).map_err(|e| StoreError::Corrupt(format!("identifierUris: {e}")))
}

impl Store {
    pub async fn insert_application(&self, a: &Application) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO applications (object_id_key, tenant_key, app_id_key, ",
            app_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(key(&a.object_id))
        .bind(key(&a.tenant_id))
        .bind(key(&a.app_id))
        .bind(&a.object_id)
        .bind(&a.tenant_id)
        .bind(&a.app_id)
        .bind(&a.display_name)
        .bind(&a.sign_in_audience)
        .bind(uris_json(&a.identifier_uris)?)
        .bind(a.created_at)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken(
            "an application with this object id or app id",
        ))?;
        tx.commit_changing(&[Topic::Credentials]).await
    }

    pub async fn application(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<Option<Application>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            app_columns!(),
            " FROM applications WHERE tenant_key = $1 AND object_id_key = $2"
        ))
        .bind(key(tenant_id))
        .bind(key(object_id))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(application).transpose()
    }

    /// The application with this client id, in any tenant: the token endpoint then checks
    /// the tenant, as it does for identities.
    pub async fn application_by_app_id(
        &self,
        app_id: &str,
    ) -> Result<Option<Application>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            app_columns!(),
            " FROM applications WHERE app_id_key = $1"
        ))
        .bind(key(app_id))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(application).transpose()
    }

    /// A tenant's applications in creation order (then object id).
    pub async fn list_applications(&self, tenant_id: &str) -> Result<Vec<Application>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            app_columns!(),
            " FROM applications WHERE tenant_key = $1 ORDER BY created_at, object_id_key"
        ))
        .bind(key(tenant_id))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(application).collect()
    }

    /// Applies `changes`; `None` if there is no such application.
    pub async fn update_application(
        &self,
        tenant_id: &str,
        object_id: &str,
        changes: &ApplicationChanges,
    ) -> Result<Option<Application>, StoreError> {
        let uris = changes
            .identifier_uris
            .as_deref()
            .map(uris_json)
            .transpose()?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE applications SET display_name = COALESCE($3, display_name), \
             sign_in_audience = COALESCE($4, sign_in_audience), \
             identifier_uris = COALESCE($5, identifier_uris) \
             WHERE tenant_key = $1 AND object_id_key = $2",
        )
        .bind(key(tenant_id))
        .bind(key(object_id))
        .bind(changes.display_name.as_deref())
        .bind(changes.sign_in_audience.as_deref())
        .bind(uris.as_deref())
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        tx.commit().await?;
        self.application(tenant_id, object_id).await
    }

    /// Deletes the application with its secrets, credentials and service principal (the
    /// schema cascades); whether it existed.
    pub async fn delete_application(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM applications WHERE tenant_key = $1 AND object_id_key = $2")
                .bind(key(tenant_id))
                .bind(key(object_id))
                .execute(tx.conn())
                .await?;
        tx.commit_changing(&[Topic::Credentials]).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds a client secret; `false` if the application does not exist.
    pub async fn add_application_password(
        &self,
        tenant_id: &str,
        object_id: &str,
        p: &ApplicationPassword,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if !lock_application(tx.conn(), self.backend(), tenant_id, object_id).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO application_passwords (application_key, key_id_key, key_id, \
             display_name, hint, secret_hash, start_at, end_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(key(object_id))
        .bind(key(&p.key_id))
        .bind(&p.key_id)
        .bind(p.display_name.as_deref())
        .bind(&p.hint)
        .bind(&p.secret_hash)
        .bind(p.start_at)
        .bind(p.end_at)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken("a password with this key id"))?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a client secret; whether there was one with this key id.
    pub async fn remove_application_password(
        &self,
        object_id: &str,
        key_id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM application_passwords WHERE application_key = $1 AND key_id_key = $2",
        )
        .bind(key(object_id))
        .bind(key(key_id))
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// An application's client secrets, oldest first.
    pub async fn application_passwords(
        &self,
        object_id: &str,
    ) -> Result<Vec<ApplicationPassword>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_id, display_name, hint, secret_hash, start_at, end_at \
             FROM application_passwords WHERE application_key = $1 ORDER BY start_at, key_id_key",
        )
        .bind(key(object_id))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApplicationPassword {
                    key_id: r.try_get("key_id")?,
                    display_name: r.try_get("display_name")?,
                    hint: r.try_get("hint")?,
                    secret_hash: r.try_get("secret_hash")?,
                    start_at: r.try_get("start_at")?,
                    end_at: r.try_get("end_at")?,
                })
            })
            .collect()
    }

    /// Creates a federated credential after checking it against the application's others,
    /// in one transaction holding the application's lock. A missing application is
    /// `Ok(None)`; a taken name is [`StoreError::Conflict`].
    pub async fn insert_app_federated_credential(
        &self,
        tenant_id: &str,
        object_id: &str,
        c: &AppFederatedCredential,
    ) -> Result<Option<()>, StoreError> {
        let mut tx = self.begin_write().await?;
        if !lock_application(tx.conn(), self.backend(), tenant_id, object_id).await? {
            return Ok(None);
        }
        let others = app_credentials(tx.conn(), object_id).await?;
        check_against_pairs(
            others
                .iter()
                .map(|o| (o.issuer.as_str(), o.subject.as_str())),
            &c.issuer,
            &c.subject,
        )?;
        sqlx::query(concat!(
            "INSERT INTO application_federated_credentials (application_key, id_key, name_key, ",
            fic_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(key(object_id))
        .bind(key(&c.id))
        .bind(key(&c.name))
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.issuer)
        .bind(&c.subject)
        .bind(codec::audiences_json(&c.audiences)?)
        .bind(c.description.as_deref())
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken(
            "a federated identity credential with this name",
        ))?;
        tx.commit_changing(&[Topic::Credentials]).await?;
        Ok(Some(()))
    }

    /// Changes the credential named (or with the id) `id_or_name`, checked against the
    /// others; `None` if the application or the credential is missing.
    pub async fn update_app_federated_credential(
        &self,
        tenant_id: &str,
        object_id: &str,
        id_or_name: &str,
        changes: &AppCredentialChanges,
    ) -> Result<Option<AppFederatedCredential>, StoreError> {
        let mut tx = self.begin_write().await?;
        if !lock_application(tx.conn(), self.backend(), tenant_id, object_id).await? {
            return Ok(None);
        }
        let all = app_credentials(tx.conn(), object_id).await?;
        let (current, others): (Vec<_>, Vec<_>) = all.into_iter().partition(|c| {
            c.id.eq_ignore_ascii_case(id_or_name) || key(&c.name) == key(id_or_name)
        });
        let Some(current) = current.into_iter().next() else {
            return Ok(None);
        };
        let next = AppFederatedCredential {
            issuer: changes.issuer.clone().unwrap_or(current.issuer),
            subject: changes.subject.clone().unwrap_or(current.subject),
            audiences: changes.audiences.clone().unwrap_or(current.audiences),
            description: changes.description.clone().or(current.description),
            ..current
        };
        check_against_pairs(
            others
                .iter()
                .map(|o| (o.issuer.as_str(), o.subject.as_str())),
            &next.issuer,
            &next.subject,
        )?;
        sqlx::query(
            "UPDATE application_federated_credentials SET issuer = $3, subject = $4, \
             audiences = $5, description = $6 WHERE application_key = $1 AND id_key = $2",
        )
        .bind(key(object_id))
        .bind(key(&next.id))
        .bind(&next.issuer)
        .bind(&next.subject)
        .bind(codec::audiences_json(&next.audiences)?)
        .bind(next.description.as_deref())
        .execute(tx.conn())
        .await?;
        tx.commit_changing(&[Topic::Credentials]).await?;
        Ok(Some(next))
    }

    /// An application's federated credentials in name order.
    pub async fn app_federated_credentials(
        &self,
        object_id: &str,
    ) -> Result<Vec<AppFederatedCredential>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        app_credentials(&mut conn, object_id).await
    }

    /// Deletes the credential with this id or name; whether there was one.
    pub async fn delete_app_federated_credential(
        &self,
        object_id: &str,
        id_or_name: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM application_federated_credentials WHERE application_key = $1 \
             AND (id_key = $2 OR name_key = $2)",
        )
        .bind(key(object_id))
        .bind(key(id_or_name))
        .execute(tx.conn())
        .await?;
        tx.commit_changing(&[Topic::Credentials]).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Creates the service principal of an application; a second one is a conflict.
    pub async fn insert_app_service_principal(
        &self,
        sp: &AppServicePrincipal,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO application_service_principals (object_id_key, tenant_key, app_id_key, ",
            sp_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(key(&sp.object_id))
        .bind(key(&sp.tenant_id))
        .bind(key(&sp.app_id))
        .bind(&sp.object_id)
        .bind(&sp.tenant_id)
        .bind(&sp.app_id)
        .bind(&sp.display_name)
        .bind(sp.created_at)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken(
            "a service principal for this application",
        ))?;
        tx.commit_changing(&[Topic::Credentials]).await
    }

    pub async fn app_service_principal(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<Option<AppServicePrincipal>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            sp_columns!(),
            " FROM application_service_principals WHERE tenant_key = $1 AND object_id_key = $2"
        ))
        .bind(key(tenant_id))
        .bind(key(object_id))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(service_principal).transpose()
    }

    pub async fn app_service_principal_by_app_id(
        &self,
        tenant_id: &str,
        app_id: &str,
    ) -> Result<Option<AppServicePrincipal>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            sp_columns!(),
            " FROM application_service_principals WHERE tenant_key = $1 AND app_id_key = $2"
        ))
        .bind(key(tenant_id))
        .bind(key(app_id))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(service_principal).transpose()
    }

    pub async fn list_app_service_principals(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<AppServicePrincipal>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            sp_columns!(),
            " FROM application_service_principals WHERE tenant_key = $1 \
             ORDER BY created_at, object_id_key"
        ))
        .bind(key(tenant_id))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(service_principal).collect()
    }

    /// Deletes an application's service principal (the application stays); whether it existed.
    pub async fn delete_app_service_principal(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM application_service_principals WHERE tenant_key = $1 AND object_id_key = $2",
        )
        .bind(key(tenant_id))
        .bind(key(object_id))
        .execute(tx.conn())
        .await?;
        tx.commit_changing(&[Topic::Credentials]).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a directory role assignment; the same role held twice is a conflict.
    pub async fn insert_directory_role_assignment(
        &self,
        a: &DirectoryRoleAssignment,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO directory_role_assignments (id_key, id, tenant_key, tenant_id, \
             principal_key, principal_id, role_definition_key, role_definition_id, \
             directory_scope_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(key(&a.id))
        .bind(&a.id)
        .bind(key(&a.tenant_id))
        .bind(&a.tenant_id)
        .bind(key(&a.principal_id))
        .bind(&a.principal_id)
        .bind(key(&a.role_definition_id))
        .bind(&a.role_definition_id)
        .bind(&a.directory_scope_id)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken(
            "a role assignment of this role to this principal",
        ))?;
        tx.commit().await
    }

    /// A tenant's directory role assignments, or only those of `principal_id`.
    pub async fn directory_role_assignments(
        &self,
        tenant_id: &str,
        principal_id: Option<&str>,
    ) -> Result<Vec<DirectoryRoleAssignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, principal_id, role_definition_id, directory_scope_id \
             FROM directory_role_assignments WHERE tenant_key = $1 \
             AND ($2 IS NULL OR principal_key = $2) ORDER BY id_key",
        )
        .bind(key(tenant_id))
        .bind(principal_id.map(key))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DirectoryRoleAssignment {
                    id: r.try_get("id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    principal_id: r.try_get("principal_id")?,
                    role_definition_id: r.try_get("role_definition_id")?,
                    directory_scope_id: r.try_get("directory_scope_id")?,
                })
            })
            .collect()
    }

    pub async fn delete_directory_role_assignment(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM directory_role_assignments WHERE tenant_key = $1 AND id_key = $2",
        )
        .bind(key(tenant_id))
        .bind(key(id))
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Takes the application's row lock for the rest of the transaction (PostgreSQL; SQLite's
/// writers are serialized already); whether the application exists in the tenant. On
/// PostgreSQL the lock is its own statement, so the reads after it see what the previous
/// holder committed.
async fn lock_application(
    conn: &mut AnyConnection,
    backend: Backend,
    tenant_id: &str,
    object_id: &str,
) -> Result<bool, StoreError> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT object_id FROM applications WHERE tenant_key = $1 AND object_id_key = $2 \
             FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT object_id FROM applications WHERE tenant_key = $1 AND object_id_key = $2"
        }
    };
    let row = sqlx::query(sql)
        .bind(key(tenant_id))
        .bind(key(object_id))
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

async fn app_credentials(
    conn: &mut AnyConnection,
    object_id: &str,
) -> Result<Vec<AppFederatedCredential>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        fic_columns!(),
        " FROM application_federated_credentials WHERE application_key = $1 ORDER BY name_key"
    ))
    .bind(key(object_id))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AppFederatedCredential {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                issuer: r.try_get("issuer")?,
                subject: r.try_get("subject")?,
                audiences: codec::audiences(r)?,
                description: r.try_get("description")?,
            })
        })
        .collect()
}

fn application(row: &AnyRow) -> Result<Application, StoreError> {
    let uris: String = row.try_get("identifier_uris")?;
    Ok(Application {
        object_id: row.try_get("object_id")?,
        tenant_id: row.try_get("tenant_id")?,
        app_id: row.try_get("app_id")?,
        display_name: row.try_get("display_name")?,
        sign_in_audience: row.try_get("sign_in_audience")?,
        identifier_uris: serde_json::from_str(&uris)
            .map_err(|e| StoreError::Corrupt(format!("identifier_uris {uris:?}: {e}")))?,
        created_at: row.try_get("created_at")?,
    })
}

fn service_principal(row: &AnyRow) -> Result<AppServicePrincipal, StoreError> {
    Ok(AppServicePrincipal {
        object_id: row.try_get("object_id")?,
        tenant_id: row.try_get("tenant_id")?,
        app_id: row.try_get("app_id")?,
        display_name: row.try_get("display_name")?,
        created_at: row.try_get("created_at")?,
    })
}
