//! Client secrets of service principals. A secret is 256 random bits, so a plain SHA-256
//! of it is as good as a slow password hash (nothing to brute-force) and keeps the token
//! endpoint fast; the comparison is constant-time so response timing reveals nothing.

use crate::seal::{random_bytes, SealError};
use aws_lc_rs::digest::{digest, SHA256};
use base64::Engine;
use subtle::ConstantTimeEq;

/// A new client secret, URL-safe so it survives shells and form encoding unquoted.
pub fn generate() -> Result<String, SealError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32)?))
}

pub fn hash(secret: &str) -> Vec<u8> {
    digest(&SHA256, secret.as_bytes()).as_ref().to_vec()
}

pub fn verify(presented: &str, stored_hash: &[u8]) -> bool {
    hash(presented).ct_eq(stored_hash).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_matches_only_the_secret() {
        let s = super::generate().unwrap();
        assert_eq!(s.len(), 43);
        let h = super::hash(&s);
        assert!(super::verify(&s, &h));
        assert!(!super::verify(&format!("{s}x"), &h));
        assert!(!super::verify("", &h));
    }
}
