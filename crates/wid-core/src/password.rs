//! Users' passwords and sign-in throttling. Unlike client secrets (256 random bits, see
//! [`crate::secret`]), passwords are chosen by people and guessable, so they are stored as a
//! slow salted hash (Argon2id with OWASP's minimum parameters) and failures lock the account
//! for a while, as Entra's smart lockout does.

use crate::seal::{random_bytes, SealError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use thiserror::Error;

/// Failed sign-ins in a row that lock an account (Entra's smart-lockout default).
pub const LOCKOUT_THRESHOLD: u32 = 10;
/// How long the first lockout lasts; each further failure while at the threshold doubles it.
pub const LOCKOUT_SECS: i64 = 60;
/// The longest a lockout lasts, however many failures came before.
pub const MAX_LOCKOUT_SECS: i64 = 3600;

/// Entra's length bounds for cloud-only accounts.
const MIN_LEN: usize = 8;
const MAX_LEN: usize = 256;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Graph's wording for a password that fails the tenant's complexity policy.
    #[error("The specified password does not comply with password complexity requirements. Please provide a different password.")]
    TooWeak,
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Random(#[from] SealError),
}

/// Entra's complexity rule: 8 to 256 characters, three of lower case, upper case, digits
/// and symbols.
pub fn check_complexity(password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
    ];
    let held = classes.iter().filter(|held| **held).count();
    if (MIN_LEN..=MAX_LEN).contains(&len) && held >= 3 {
        Ok(())
    } else {
        Err(PasswordError::TooWeak)
    }
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `password`.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&random_bytes(16)?)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `stored`; the hash comparison is constant-time. A stored value
/// that does not parse matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A well-formed hash with the parameters [`hash`] uses, of a password nobody knows.
const DECOY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lkZWNveWRlY295$1BrVyTdkwcQ+ZKh9OcZ8bHaKMN8YHFxsRyJd1PvhGbY";

/// Spends the time of one verification without a user to verify against, so that whether a
/// user name exists does not show in how long a refusal takes.
pub fn verify_nothing(password: &str) {
    let _ = verify(password, DECOY);
}

/// A user's record of recent failed sign-ins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInState {
    pub failed_attempts: u32,
    /// Unix time until which sign-ins are refused without looking at the password; 0 if none.
    pub locked_until: i64,
}

impl SignInState {
    /// `Err(until)` while the account is locked out.
    pub fn check(&self, now: i64) -> Result<(), i64> {
        if now < self.locked_until {
            Err(self.locked_until)
        } else {
            Ok(())
        }
    }

    /// The state after a wrong password at `now`: counted, and locked once the count reaches
    /// the threshold, for longer with every failure beyond it.
    pub fn after_failure(&self, now: i64) -> Self {
        let failed_attempts = self.failed_attempts.saturating_add(1);
        let locked_until = match failed_attempts.checked_sub(LOCKOUT_THRESHOLD) {
            Some(beyond) => {
                let factor = 1i64 << beyond.min(6);
                now + (LOCKOUT_SECS * factor).min(MAX_LOCKOUT_SECS)
            }
            None => self.locked_until,
        };
        Self {
            failed_attempts,
            locked_until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complexity() {
        let cases = [
            ("Passw0rd", true),
            ("passw0rd!", true),
            ("PASSWORD1!", true),
            ("password", false),
            ("Password", false),
            ("Pa0!", false),
            ("ÄÖÜäöü12", true),
            ("", false),
        ];
        for (password, ok) in cases {
            assert_eq!(check_complexity(password).is_ok(), ok, "{password:?}");
        }
        assert!(check_complexity(&format!("Aa1{}", "x".repeat(254))).is_err());
    }

    #[test]
    fn hash_and_verify() {
        let stored = hash("Correct horse 1").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("Correct horse 1", &stored));
        assert!(!verify("Correct horse 2", &stored));
        assert!(!verify("", &stored));
        assert!(!verify("Correct horse 1", "not a hash"));
        assert_ne!(stored, hash("Correct horse 1").unwrap(), "salted");
        let decoy = PasswordHash::new(DECOY).unwrap();
        let real = PasswordHash::new(&stored).unwrap();
        assert_eq!(
            decoy.params, real.params,
            "the decoy costs what a real check costs"
        );
    }

    #[test]
    fn lockout_follows_failures() {
        let mut state = SignInState::default();
        for _ in 0..LOCKOUT_THRESHOLD - 1 {
            state = state.after_failure(1000);
            assert_eq!(state.check(1000), Ok(()));
        }
        state = state.after_failure(1000);
        assert_eq!(state.check(1000), Err(1000 + LOCKOUT_SECS));
        assert_eq!(state.check(1000 + LOCKOUT_SECS), Ok(()));
        let again = state.after_failure(1000 + LOCKOUT_SECS);
        assert_eq!(
            again.check(1000 + LOCKOUT_SECS),
            Err(1000 + 3 * LOCKOUT_SECS)
        );
        let mut long = again;
        for _ in 0..20 {
            long = long.after_failure(5000);
        }
        assert_eq!(long.check(5000), Err(5000 + MAX_LOCKOUT_SECS));
    }
}
