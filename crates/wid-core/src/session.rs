//! Users' sign-in sessions: refresh tokens and device codes. Both are bearer secrets given
//! to a public client, so they are 256 random bits stored as a SHA-256 only (see
//! [`crate::secret`]); what they may still be used for is decided here, from the stored
//! record and the time, so the rules have table tests and the token endpoint only applies them.

use thiserror::Error;

/// A refresh token unused this long expires (Entra's default inactivity window).
pub const REFRESH_INACTIVITY_SECS: i64 = 90 * 24 * 3600;
/// However often it is used, a session ends this long after its sign-in, and the user
/// signs in again (Entra has no default maximum; wid bounds sessions to a year).
pub const REFRESH_MAX_AGE_SECS: i64 = 365 * 24 * 3600;
/// How long a device code may be entered and polled (Entra: 15 minutes).
pub const DEVICE_CODE_LIFETIME_SECS: i64 = 900;
/// How long an expired device code is kept, so that late polls still hear `expired_token`
/// rather than that the code is unknown.
pub const DEVICE_CODE_KEPT_AFTER_EXPIRY_SECS: i64 = 3600;
/// Seconds a client waits between polls.
pub const DEVICE_CODE_INTERVAL_SECS: i64 = 5;
/// Letters a user code is made of: no vowels (no words), no look-alikes (0/O, 1/I/L).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKMNPQRSTVWXZ23456789";
const USER_CODE_LEN: usize = 9;

/// A refresh token as stored: one link of a rotation chain (`family_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// Shared by every token rotated from one sign-in; replay revokes them all.
    pub family_id: String,
    pub tenant_id: String,
    pub user_object_id: String,
    pub client_id: String,
    /// When the user signed in: bounds the whole family's age.
    pub signed_in_at: i64,
    /// When this token was issued: its inactivity window starts here.
    pub issued_at: i64,
    /// Redeemed once already; a second redemption is a replay.
    pub spent: bool,
    /// The family was revoked (replay, or the user disabled or deleted).
    pub revoked: bool,
}

#[derive(Debug, Clone, Copy, Error, PartialEq, Eq)]
pub enum RefreshError {
    #[error("the refresh token has expired due to inactivity")]
    Inactive,
    #[error("the session has reached its maximum age")]
    TooOld,
    #[error("the refresh token was already redeemed")]
    Replayed,
    #[error("the refresh token was revoked")]
    Revoked,
    #[error("the refresh token was issued to another client")]
    OtherClient,
}

/// Whether `token` may be redeemed by `client_id` at `now`. A spent token is a replay even
/// when it would also have expired: the caller then revokes the family.
pub fn check_refresh(token: &RefreshToken, client_id: &str, now: i64) -> Result<(), RefreshError> {
    if token.revoked {
        return Err(RefreshError::Revoked);
    }
    if token.spent {
        return Err(RefreshError::Replayed);
    }
    if !token.client_id.eq_ignore_ascii_case(client_id) {
        return Err(RefreshError::OtherClient);
    }
    if now >= token.signed_in_at + REFRESH_MAX_AGE_SECS {
        return Err(RefreshError::TooOld);
    }
    if now >= token.issued_at + REFRESH_INACTIVITY_SECS {
        return Err(RefreshError::Inactive);
    }
    Ok(())
}

/// Where a device code stands; it only moves forward, each step taken once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCodeState {
    /// Shown to the user; nobody has signed in with it yet.
    Pending,
    /// A user signed in and confirmed; the next poll gets tokens for them.
    Approved { user_object_id: String },
    /// The user refused.
    Declined,
    /// Tokens were issued; the code is spent.
    Redeemed,
}

/// A device-authorization request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    /// SHA-256 of the device code the client polls with.
    pub code_hash: Vec<u8>,
    /// What the user types, upper case, without separators.
    pub user_code: String,
    pub tenant_id: String,
    pub client_id: String,
    /// The scope (v2) or resource (v1) the client asked for.
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: DeviceCodeState,
}

/// What a poll with a device code gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Tokens for this user; the caller marks the code redeemed first.
    Issue {
        user_object_id: String,
    },
    Pending,
    Declined,
    Expired,
    /// The code was spent already, or polled by another client.
    BadCode,
}

pub fn poll(code: &DeviceCode, client_id: &str, now: i64) -> Poll {
    if !code.client_id.eq_ignore_ascii_case(client_id) {
        return Poll::BadCode;
    }
    match &code.state {
        DeviceCodeState::Redeemed => Poll::BadCode,
        DeviceCodeState::Declined => Poll::Declined,
        _ if now >= code.expires_at => Poll::Expired,
        DeviceCodeState::Pending => Poll::Pending,
        DeviceCodeState::Approved { user_object_id } => Poll::Issue {
            user_object_id: user_object_id.clone(),
        },
    }
}

/// A new user code from 256 random bits' worth of bytes (only the first few are used).
pub fn user_code(random: &[u8]) -> String {
    random
        .iter()
        .take(USER_CODE_LEN)
        .map(|b| USER_CODE_ALPHABET[usize::from(*b) % USER_CODE_ALPHABET.len()] as char)
        .collect()
}

/// What a user typed, as stored: upper case, spaces and dashes dropped; `None` if it cannot
/// be a user code (so the page can refuse without a lookup).
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> RefreshToken {
        RefreshToken {
            token_hash: vec![1],
            family_id: "f".into(),
            tenant_id: "t".into(),
            user_object_id: "u".into(),
            client_id: "Client".into(),
            signed_in_at: 1000,
            issued_at: 2000,
            spent: false,
            revoked: false,
        }
    }

    #[test]
    fn refresh_rules() {
        let max = 1000 + REFRESH_MAX_AGE_SECS;
        let cases = [
            (token(), "client", 2000, Ok(())),
            (
                token(),
                "client",
                2000 + REFRESH_INACTIVITY_SECS - 1,
                Ok(()),
            ),
            (
                token(),
                "client",
                2000 + REFRESH_INACTIVITY_SECS,
                Err(RefreshError::Inactive),
            ),
            (
                RefreshToken {
                    issued_at: max - 10,
                    ..token()
                },
                "client",
                max,
                Err(RefreshError::TooOld),
            ),
            (token(), "other", 2000, Err(RefreshError::OtherClient)),
            (
                RefreshToken {
                    spent: true,
                    ..token()
                },
                "client",
                2000,
                Err(RefreshError::Replayed),
            ),
            (
                RefreshToken {
                    spent: true,
                    ..token()
                },
                "client",
                max + 1,
                Err(RefreshError::Replayed),
            ),
            (
                RefreshToken {
                    spent: true,
                    revoked: true,
                    ..token()
                },
                "client",
                2000,
                Err(RefreshError::Revoked),
            ),
        ];
        for (i, (t, client, now, expected)) in cases.into_iter().enumerate() {
            assert_eq!(check_refresh(&t, client, now), expected, "case {i}");
        }
    }

    fn code(state: DeviceCodeState) -> DeviceCode {
        DeviceCode {
            code_hash: vec![2],
            user_code: "BCDFGHJKM".into(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            scope: "s".into(),
            created_at: 0,
            expires_at: 900,
            state,
        }
    }

    #[test]
    fn device_code_polls() {
        let approved = DeviceCodeState::Approved {
            user_object_id: "u".into(),
        };
        let cases = [
            (code(DeviceCodeState::Pending), "c", 10, Poll::Pending),
            (code(DeviceCodeState::Pending), "c", 900, Poll::Expired),
            (code(DeviceCodeState::Pending), "other", 10, Poll::BadCode),
            (
                code(approved.clone()),
                "C",
                10,
                Poll::Issue {
                    user_object_id: "u".into(),
                },
            ),
            (code(approved), "c", 901, Poll::Expired),
            (code(DeviceCodeState::Declined), "c", 10, Poll::Declined),
            (code(DeviceCodeState::Redeemed), "c", 10, Poll::BadCode),
            (code(DeviceCodeState::Redeemed), "c", 901, Poll::BadCode),
        ];
        for (i, (c, client, now, expected)) in cases.into_iter().enumerate() {
            assert_eq!(poll(&c, client, now), expected, "case {i}");
        }
    }

    #[test]
    fn user_codes() {
        let code = user_code(&[0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(code.len(), USER_CODE_LEN);
        assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
        assert_eq!(
            normalize_user_code("bcd-fgh jkm").as_deref(),
            Some("BCDFGHJKM")
        );
        for bad in [
            "",
            "BCDFGHJK",
            "BCDFGHJKMN",
            "ABCDEFGHI",
            "BCDFGHJK0",
            "BCDFGHJK\u{e9}",
        ] {
            assert_eq!(normalize_user_code(bad), None, "{bad:?}");
        }
    }
}
