//! Users of the directory. The UPN is unique per tenant regardless of case; the sign-in
//! throttle is written with a compare on the state that was read, so two replicas counting
//! failures of one user at the same time cannot lose one.

use crate::codec::key;
use crate::error::conflict_if_taken;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::model::User;
use wid_core::password::SignInState;

macro_rules! user_columns {
    () => {
        "object_id, tenant_id, upn, display_name, mail_nickname, account_enabled, \
         password_hash, failed_attempts, locked_until, created_at"
    };
}

/// The fields of a user an update may change; `None` keeps the stored value.
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub account_enabled: Option<bool>,
    /// A new password hash; it also clears the sign-in throttle, as an admin's reset does.
    pub password_hash: Option<String>,
}

impl Store {
    pub async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO users (object_id_key, tenant_key, upn_key, ",
            user_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(key(&u.object_id))
        .bind(key(&u.tenant_id))
        .bind(key(&u.user_principal_name))
        .bind(&u.object_id)
        .bind(&u.tenant_id)
        .bind(&u.user_principal_name)
        .bind(&u.display_name)
        .bind(&u.mail_nickname)
        .bind(i64::from(u.account_enabled))
        .bind(&u.password_hash)
        .bind(i64::from(u.sign_in.failed_attempts))
        .bind(u.sign_in.locked_until)
        .bind(u.created_at)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken(
            "a user with this object id or user principal name",
        ))?;
        tx.commit().await
    }

    pub async fn user_by_object_id(
        &self,
        tenant_id: &str,
        object_id: &str,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_key = $1 AND object_id_key = $2"
        ))
        .bind(key(tenant_id))
        .bind(key(object_id))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(user).transpose()
    }

    pub async fn user_by_upn(
        &self,
        tenant_id: &str,
        upn: &str,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_key = $1 AND upn_key = $2"
        ))
        .bind(key(tenant_id))
        .bind(key(upn))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(user).transpose()
    }

    /// A tenant's users in UPN order.
    pub async fn list_users(&self, tenant_id: &str) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE tenant_key = $1 ORDER BY upn_key"
        ))
        .bind(key(tenant_id))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(user).collect()
    }

    /// Applies `changes`; `None` if there is no such user.
    pub async fn update_user(
        &self,
        tenant_id: &str,
        object_id: &str,
        changes: &UserChanges,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = self.begin_write().await?;
        let reset = changes.password_hash.is_some();
        let done = sqlx::query(
            "UPDATE users SET display_name = COALESCE($3, display_name), \
             account_enabled = COALESCE($4, account_enabled), \
             password_hash = COALESCE($5, password_hash), \
             failed_attempts = CASE WHEN $6 = 1 THEN 0 ELSE failed_attempts END, \
             locked_until = CASE WHEN $6 = 1 THEN 0 ELSE locked_until END \
             WHERE tenant_key = $1 AND object_id_key = $2",
        )
        .bind(key(tenant_id))
        .bind(key(object_id))
        .bind(changes.display_name.as_deref())
        .bind(changes.account_enabled.map(i64::from))
        .bind(changes.password_hash.as_deref())
        .bind(i64::from(reset))
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        tx.commit().await?;
        self.user_by_object_id(tenant_id, object_id).await
    }

    /// Deletes the user; whether it existed.
    pub async fn delete_user(&self, tenant_id: &str, object_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM users WHERE tenant_key = $1 AND object_id_key = $2")
            .bind(key(tenant_id))
            .bind(key(object_id))
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the user's throttle state with `next` if it is still `seen`; whether it was.
    /// A caller that loses the race reads the user again and recomputes, so concurrent
    /// failures all count.
    pub async fn swap_sign_in_state(
        &self,
        tenant_id: &str,
        object_id: &str,
        seen: SignInState,
        next: SignInState,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET failed_attempts = $5, locked_until = $6 \
             WHERE tenant_key = $1 AND object_id_key = $2 \
             AND failed_attempts = $3 AND locked_until = $4",
        )
        .bind(key(tenant_id))
        .bind(key(object_id))
        .bind(i64::from(seen.failed_attempts))
        .bind(seen.locked_until)
        .bind(i64::from(next.failed_attempts))
        .bind(next.locked_until)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

fn user(row: &AnyRow) -> Result<User, StoreError> {
    let failed: i64 = row.try_get("failed_attempts")?;
    Ok(User {
        object_id: row.try_get("object_id")?,
        tenant_id: row.try_get("tenant_id")?,
        user_principal_name: row.try_get("upn")?,
        display_name: row.try_get("display_name")?,
        mail_nickname: row.try_get("mail_nickname")?,
        account_enabled: row.try_get::<i64, _>("account_enabled")? != 0,
        password_hash: row.try_get("password_hash")?,
        sign_in: SignInState {
            failed_attempts: u32::try_from(failed)
                .map_err(|_| StoreError::Corrupt(format!("failed_attempts {failed}")))?,
            locked_until: row.try_get("locked_until")?,
        },
        created_at: row.try_get("created_at")?,
    })
}
