//! A user's tokens between CLI runs, as az keeps them in its MSAL cache: the refresh token and
//! the access tokens it bought, in `cli-tokens.json` (mode 0600) in the data directory. The
//! password itself is never stored.
//!
//! The token service rotates refresh tokens at each redemption and treats a replayed old one as
//! theft, so redeeming holds an exclusive lock on `cli-tokens.lock`: two CLI runs at once never
//! redeem the same refresh token, and the second finds the first one's fresh access token.

use crate::context::{AccessToken, Context, Login};
use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use wid_client::UserTokenResponse;
use wid_server::datadir;

const STORE: &str = "cli-tokens.json";
const LOCK: &str = "cli-tokens.lock";
/// Access tokens this close to expiry are renewed rather than used, as MSAL does.
const RENEW_BEFORE_SECS: i64 = 300;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    pub user_principal_name: String,
    pub refresh_token: String,
    /// By requested scope.
    #[serde(default)]
    pub access_tokens: BTreeMap<String, CachedToken>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_on: i64,
}

impl Store {
    /// The cached token for `scope`, if it is still good for a while at `now`.
    pub fn usable(&self, scope: &str, now: i64) -> Option<&CachedToken> {
        self.access_tokens
            .get(scope)
            .filter(|t| t.expires_on - RENEW_BEFORE_SECS > now)
    }

    /// Records a grant's answer: the access token for `scope`, and the rotated refresh token
    /// (kept as it was when the server sends none, as Entra may for non-rotating clients).
    /// Expired entries of other scopes are dropped so the file does not grow.
    pub fn record(&mut self, scope: &str, answer: &UserTokenResponse, now: i64) {
        if let Some(rt) = &answer.refresh_token {
            self.refresh_token = rt.clone();
        }
        self.access_tokens.retain(|_, t| t.expires_on > now);
        self.access_tokens.insert(
            scope.to_owned(),
            CachedToken {
                access_token: answer.access_token.clone(),
                token_type: answer.token_type.clone(),
                expires_on: now + answer.expires_in,
            },
        );
    }
}

/// What a user's grant asks for: the resource's scope plus az's `offline_access openid
/// profile`, so that every answer carries a refresh token.
pub fn grant_scope(scope: &str) -> String {
    format!("{scope} offline_access openid profile")
}

/// The lock file, locked: held while the store is read, redeemed and written; dropping it
/// (closing the file) releases the lock.
fn lock(data_dir: &Path) -> Result<std::fs::File> {
    let path = data_dir.join(LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor this function owns; it blocks until the lock is ours.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        bail!(
            "cannot lock {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(file)
}

fn load(data_dir: &Path) -> Result<Option<Store>> {
    Ok(datadir::read_json(&data_dir.join(STORE))?)
}

fn save(data_dir: &Path, store: &Store) -> Result<()> {
    datadir::write_json(&data_dir.join(STORE), store, 0o600)?;
    Ok(())
}

/// `wid login -u UPN -p PASSWORD`: the resource-owner-password grant for the management plane,
/// whose refresh token then buys every other token.
pub async fn sign_in(ctx: &Context, tenant: &str, upn: &str, password: &str) -> Result<()> {
    let scope = format!("{}.default", ctx.server.management_resource);
    let _lock = lock(&ctx.data_dir)?;
    let answer = ctx
        .client
        .token_with_password(tenant, upn, password, &grant_scope(&scope))
        .await?;
    let refresh_token = answer
        .refresh_token
        .clone()
        .ok_or_else(|| anyhow!("the token service issued no refresh token for offline_access"))?;
    let now = wid_core::clock::Clock::now_unix(&wid_core::clock::SystemClock);
    let mut store = Store {
        user_principal_name: upn.to_owned(),
        refresh_token,
        access_tokens: BTreeMap::new(),
    };
    store.record(&scope, &answer, now);
    save(&ctx.data_dir, &store)
}

/// A token for `scope` as the logged-in user: the cached one while it lasts, else one bought
/// with the refresh token (whose rotated successor replaces it).
pub async fn access_token(
    ctx: &Context,
    login: &Login,
    scope: &str,
    now: i64,
) -> Result<AccessToken> {
    let _lock = lock(&ctx.data_dir)?;
    let relogin = || {
        anyhow!(
            "no tokens for {} in {}: run `wid login -u UPN -p PASSWORD` again",
            login.user_principal_name.as_deref().unwrap_or("the user"),
            ctx.data_dir.display()
        )
    };
    let mut store = load(&ctx.data_dir)?.ok_or_else(relogin)?;
    if Some(store.user_principal_name.as_str()) != login.user_principal_name.as_deref() {
        return Err(relogin());
    }
    if let Some(t) = store.usable(scope, now) {
        return Ok(AccessToken {
            token: t.access_token.clone(),
            token_type: t.token_type.clone(),
            expires_on: t.expires_on,
        });
    }
    let answer = ctx
        .client
        .token_with_refresh_token(&login.tenant_id, &store.refresh_token, &grant_scope(scope))
        .await
        .context("the refresh token was refused: run `wid login -u UPN -p PASSWORD` again")?;
    store.record(scope, &answer, now);
    save(&ctx.data_dir, &store)?;
    Ok(AccessToken {
        token: answer.access_token,
        token_type: answer.token_type,
        expires_on: now + answer.expires_in,
    })
}

/// `wid logout`: the user's tokens go with the login.
pub fn forget(data_dir: &Path) -> Result<()> {
    match std::fs::remove_file(data_dir.join(STORE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(token: &str, refresh: Option<&str>, expires_in: i64) -> UserTokenResponse {
        serde_json::from_value(serde_json::json!({
            "token_type": "Bearer", "expires_in": expires_in, "access_token": token,
            "refresh_token": refresh,
        }))
        .unwrap()
    }

    #[test]
    fn cached_tokens_are_used_until_five_minutes_before_expiry() {
        let mut s = Store {
            user_principal_name: "u@x".into(),
            refresh_token: "rt0".into(),
            access_tokens: BTreeMap::new(),
        };
        s.record("mgmt/.default", &answer("at1", Some("rt1"), 3600), 1000);
        assert_eq!(s.refresh_token, "rt1");
        assert_eq!(s.usable("mgmt/.default", 1000).unwrap().access_token, "at1");
        assert!(s.usable("mgmt/.default", 1000 + 3600 - 301).is_some());
        assert!(s.usable("mgmt/.default", 1000 + 3600 - 300).is_none());
        assert!(s.usable("graph/.default", 1000).is_none());
    }

    #[test]
    fn a_missing_refresh_token_keeps_the_old_one_and_expired_entries_go() {
        let mut s = Store {
            user_principal_name: "u@x".into(),
            refresh_token: "rt0".into(),
            access_tokens: BTreeMap::new(),
        };
        s.record("a", &answer("at-a", None, 60), 0);
        s.record("b", &answer("at-b", None, 3600), 100);
        assert_eq!(s.refresh_token, "rt0");
        assert!(!s.access_tokens.contains_key("a"));
        assert!(s.access_tokens.contains_key("b"));
    }

    #[test]
    fn grants_ask_for_a_refresh_token() {
        assert_eq!(
            grant_scope("https://management.wid.localhost/.default"),
            "https://management.wid.localhost/.default offline_access openid profile"
        );
    }
}
