//! JWT, JWS and JWK for wid. Tokens are the product's attack surface, so this crate is strict
//! where libraries are often lenient: only allow-listed algorithms (RS256, ES256) exist here,
//! so `alg: none` and HMAC-with-a-public-key confusions cannot be expressed; encodings are
//! checked exactly (three base64url segments, no padding, JSON objects). Keys are parsed
//! once, at construction, because re-parsing an RSA key per token halves throughput. Key ids
//! are derived as kube-apiserver and `azwi jwks` derive them, so a cluster's JWKS and its
//! tokens agree without configuration. No IO.

mod jwk;
mod keys;
mod strict_json;

pub use jwk::{Jwk, Jwks};
pub use keys::{kid_from_spki_der, pem_encode, SigningKey, VerifyingKey};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use thiserror::Error;

/// Longest token accepted; service-account tokens and access tokens are a few KiB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum JoseError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported algorithm '{0}'")]
    UnsupportedAlgorithm(String),
    #[error("the key does not fit the token's algorithm")]
    KeyMismatch,
    #[error("signature verification failed")]
    BadSignature,
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    #[error("signing failed")]
    Signing,
}

/// The allow-list of signature algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    ES256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }

    fn parse(name: &str) -> Result<Self, JoseError> {
        match name {
            "RS256" => Ok(Algorithm::RS256),
            "ES256" => Ok(Algorithm::ES256),
            other => Err(JoseError::UnsupportedAlgorithm(other.to_owned())),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
}

/// A token parsed but not yet trusted: only [`UnverifiedJwt::verify`] makes it so.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt {
    pub header: Header,
    signing_input: String,
    signature: Vec<u8>,
    claims: Vec<u8>,
}

pub mod b64 {
    use super::JoseError;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    pub fn encode(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Strict base64url without padding; anything else is malformed.
    pub fn decode(s: &str) -> Result<Vec<u8>, JoseError> {
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| JoseError::Malformed("invalid base64url"))
    }
}

pub fn decode(token: &str) -> Result<UnverifiedJwt, JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::Malformed("token too large"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed("a JWS has three segments"));
    };
    if h.is_empty() || c.is_empty() || s.is_empty() {
        return Err(JoseError::Malformed("empty segment"));
    }
    let raw: RawHeader = serde_json::from_slice(&b64::decode(h)?)
        .map_err(|_| JoseError::Malformed("header is not a JSON object"))?;
    if raw.crit.is_some() {
        return Err(JoseError::Malformed(
            "critical header parameters are not supported",
        ));
    }
    let alg = Algorithm::parse(raw.alg.as_deref().unwrap_or(""))?;
    let claims = b64::decode(c)?;
    // Read whole, not skimmed: serde's IgnoredAny lets through invalid UTF-8, lone
    // surrogates and numbers out of range, which every strict reader refuses.
    if !strict_json::is_object(&claims) {
        return Err(JoseError::Malformed("claims are not a JSON object"));
    }
    Ok(UnverifiedJwt {
        header: Header {
            alg,
            kid: raw.kid,
            typ: raw.typ,
        },
        signing_input: token[..h.len() + 1 + c.len()].to_owned(),
        signature: b64::decode(s)?,
        claims,
    })
}

impl UnverifiedJwt {
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JoseError> {
        serde_json::from_slice(&self.claims)
            .map_err(|_| JoseError::Malformed("claims do not have the expected shape"))
    }

    pub fn verify(&self, key: &VerifyingKey) -> Result<(), JoseError> {
        if key.algorithm() != self.header.alg {
            return Err(JoseError::KeyMismatch);
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)
    }
}

/// Header fields of a token wid signs.
#[derive(Debug, Clone, Default)]
pub struct HeaderParams {
    pub typ: Option<String>,
    /// `None`: the signing key's own kid.
    pub kid: Option<String>,
    /// Also emit `x5t` equal to the kid, as Entra's v1.0 tokens carry it.
    pub x5t: bool,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TimeWindowError {
    #[error("the token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid { nbf: i64, now: i64 },
    #[error("the token has no expiry")]
    MissingExp,
}

/// What [`check_issued_at`] refuses. Its own type, since only presented assertions are
/// checked for it, not the tokens wid issued itself.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the token was issued at {iat}, after now ({now})")]
pub struct IssuedInFuture {
    pub iat: i64,
    pub now: i64,
}

/// A token is valid from `nbf - skew` until `exp + skew`; one without `exp` never is.
pub fn check_time_window(
    now: i64,
    nbf: Option<i64>,
    exp: Option<i64>,
    skew_secs: i64,
) -> Result<(), TimeWindowError> {
    let exp = exp.ok_or(TimeWindowError::MissingExp)?;
    if now > exp.saturating_add(skew_secs) {
        return Err(TimeWindowError::Expired { exp, now });
    }
    if let Some(nbf) = nbf {
        if now < nbf.saturating_sub(skew_secs) {
            return Err(TimeWindowError::NotYetValid { nbf, now });
        }
    }
    Ok(())
}

/// A token may not claim to be issued later than `now + skew`. One that does comes from a
/// wrong clock, or was made ahead of time to be used later, which its `exp` alone would not
/// reveal. Without `iat` (RFC 7519 makes it optional) there is nothing to check.
pub fn check_issued_at(now: i64, iat: Option<i64>, skew_secs: i64) -> Result<(), IssuedInFuture> {
    match iat {
        Some(iat) if iat > now.saturating_add(skew_secs) => Err(IssuedInFuture { iat, now }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
