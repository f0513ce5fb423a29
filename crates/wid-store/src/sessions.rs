//! Users' sign-in sessions: refresh-token chains and device codes (migration 0010). Every
//! state change is a compare-and-set on the state the caller saw, so of two replicas
//! redeeming one refresh token, or one device code, exactly one wins; the loser sees a
//! replay. What a record may still be used for is wid_core::session's decision.

use crate::codec::key;
use crate::error::conflict_if_taken;
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use wid_core::session::{DeviceCode, DeviceCodeState, RefreshToken};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, StoreError> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| StoreError::Corrupt(format!("hash {text:?}")))
        })
        .collect()
}

macro_rules! refresh_columns {
    () => {
        "token_hash, family_id, tenant_id, user_object_id, client_id, signed_in_at, issued_at, \
         spent, revoked"
    };
}

/// What [`Store::rotate_refresh_token`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is spent and the new one stored.
    Rotated,
    /// Someone redeemed the old token first: a replay; the family is revoked.
    Lost,
}

impl Store {
    pub async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_refresh(&mut tx, t).await?;
        tx.commit().await
    }

    pub async fn refresh_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<RefreshToken>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            refresh_columns!(),
            " FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(hex(token_hash))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(refresh).transpose()
    }

    /// Spends `old_hash` and stores `next` (of the same family) in one transaction, if
    /// `old_hash` is still unspent; otherwise revokes the family.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &[u8],
        next: &RefreshToken,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE refresh_tokens SET spent = 1 \
             WHERE token_hash = $1 AND spent = 0 AND revoked = 0",
        )
        .bind(hex(old_hash))
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            drop(tx);
            self.revoke_refresh_family(&next.family_id).await?;
            return Ok(Rotation::Lost);
        }
        insert_refresh(&mut tx, next).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated)
    }

    /// Revokes every token of the family; how many were not revoked yet.
    pub async fn revoke_refresh_family(&self, family_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = $1 AND revoked = 0",
        )
        .bind(family_id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Revokes all of a user's sessions (a disabled or deleted user, a password reset).
    pub async fn revoke_user_sessions(&self, user_object_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked = 1 WHERE user_key = $1 AND revoked = 0",
        )
        .bind(key(user_object_id))
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    pub async fn insert_device_code(&self, c: &DeviceCode) -> Result<(), StoreError> {
        let (state, user) = state_columns(&c.state);
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO device_codes (code_hash, user_code, tenant_id, client_id, scope, \
             created_at, expires_at, state, user_object_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(hex(&c.code_hash))
        .bind(&c.user_code)
        .bind(&c.tenant_id)
        .bind(&c.client_id)
        .bind(&c.scope)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(state)
        .bind(user)
        .execute(tx.conn())
        .await
        .map_err(conflict_if_taken("a device code with this user code"))?;
        tx.commit().await
    }

    pub async fn device_code(&self, code_hash: &[u8]) -> Result<Option<DeviceCode>, StoreError> {
        self.device_code_where("code_hash", &hex(code_hash)).await
    }

    pub async fn device_code_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceCode>, StoreError> {
        self.device_code_where("user_code", user_code).await
    }

    async fn device_code_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<DeviceCode>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT code_hash, user_code, tenant_id, client_id, scope, created_at, expires_at, \
             state, user_object_id FROM device_codes WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(device_code).transpose()
    }

    /// Moves the code from `seen` to `next`; whether it was still `seen`.
    pub async fn swap_device_code_state(
        &self,
        code_hash: &[u8],
        seen: &DeviceCodeState,
        next: &DeviceCodeState,
    ) -> Result<bool, StoreError> {
        let (seen_state, seen_user) = state_columns(seen);
        let (next_state, next_user) = state_columns(next);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE device_codes SET state = $4, user_object_id = $5 \
             WHERE code_hash = $1 AND state = $2 AND COALESCE(user_object_id, '') = $3",
        )
        .bind(hex(code_hash))
        .bind(seen_state)
        .bind(seen_user.unwrap_or_default())
        .bind(next_state)
        .bind(next_user)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes device codes that expired before `now`; how many.
    /// Deletes refresh-token links no session can redeem any more: issued longer ago than the
    /// inactivity window allows, or of a sign-in past the maximum age. A spent link goes with
    /// them, so a replay that old reads as an unknown token rather than revoking its family,
    /// which by then holds no redeemable link either.
    pub async fn purge_refresh_tokens(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM refresh_tokens WHERE issued_at <= $1 OR signed_in_at <= $2")
                .bind(now - wid_core::session::REFRESH_INACTIVITY_SECS)
                .bind(now - wid_core::session::REFRESH_MAX_AGE_SECS)
                .execute(tx.conn())
                .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    pub async fn purge_device_codes(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM device_codes WHERE expires_at <= $1")
            .bind(now)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

async fn insert_refresh(
    tx: &mut crate::db::WriteTx<'_>,
    t: &RefreshToken,
) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO refresh_tokens (user_key, ",
        refresh_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(key(&t.user_object_id))
    .bind(hex(&t.token_hash))
    .bind(&t.family_id)
    .bind(&t.tenant_id)
    .bind(&t.user_object_id)
    .bind(&t.client_id)
    .bind(t.signed_in_at)
    .bind(t.issued_at)
    .bind(i64::from(t.spent))
    .bind(i64::from(t.revoked))
    .execute(tx.conn())
    .await
    .map_err(conflict_if_taken("a refresh token with this value"))?;
    Ok(())
}

fn state_columns(state: &DeviceCodeState) -> (&'static str, Option<String>) {
    match state {
        DeviceCodeState::Pending => ("pending", None),
        DeviceCodeState::Approved { user_object_id } => ("approved", Some(user_object_id.clone())),
        DeviceCodeState::Declined => ("declined", None),
        DeviceCodeState::Redeemed => ("redeemed", None),
    }
}

fn refresh(row: &AnyRow) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        token_hash: unhex(&row.try_get::<String, _>("token_hash")?)?,
        family_id: row.try_get("family_id")?,
        tenant_id: row.try_get("tenant_id")?,
        user_object_id: row.try_get("user_object_id")?,
        client_id: row.try_get("client_id")?,
        signed_in_at: row.try_get("signed_in_at")?,
        issued_at: row.try_get("issued_at")?,
        spent: row.try_get::<i64, _>("spent")? != 0,
        revoked: row.try_get::<i64, _>("revoked")? != 0,
    })
}

fn device_code(row: &AnyRow) -> Result<DeviceCode, StoreError> {
    let state: String = row.try_get("state")?;
    let user: Option<String> = row.try_get("user_object_id")?;
    let state = match (state.as_str(), user) {
        ("pending", _) => DeviceCodeState::Pending,
        ("approved", Some(user_object_id)) => DeviceCodeState::Approved { user_object_id },
        ("declined", _) => DeviceCodeState::Declined,
        ("redeemed", _) => DeviceCodeState::Redeemed,
        (other, _) => return Err(StoreError::Corrupt(format!("device code state {other:?}"))),
    };
    Ok(DeviceCode {
        code_hash: unhex(&row.try_get::<String, _>("code_hash")?)?,
        user_code: row.try_get("user_code")?,
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        scope: row.try_get("scope")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        state,
    })
}
