//! Sealing of private keys and secrets at rest with AES-256-GCM under the key-encryption key
//! (KEK). The KEK lives outside the database (a 0600 file in the data directory or the
//! `WID_KEK` environment variable), so a copied database alone reveals nothing.
//!
//! Layout of a sealed blob: `version (1) | kek id (8) | nonce (12) | ciphertext+tag`. The KEK id
//! lets wid say "this was sealed with another key" instead of a bare decryption failure, and
//! the associated data binds a blob to its purpose, so a sealed TLS key can't be replayed as
//! a signing key.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use thiserror::Error;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const KEK_ID_LEN: usize = 8;
pub const KEK_LEN: usize = 32;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the key-encryption key must be {KEK_LEN} bytes")]
    KekLength,
    #[error("sealed data is malformed")]
    Malformed,
    #[error("sealed data was sealed with a different key-encryption key")]
    WrongKek,
    #[error("sealed data failed authentication")]
    Corrupt,
    #[error("the system random number generator failed")]
    Random,
}

pub struct Kek {
    key: LessSafeKey,
    id: [u8; KEK_ID_LEN],
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Kek {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() != KEK_LEN {
            return Err(SealError::KekLength);
        }
        let mut id = [0u8; KEK_ID_LEN];
        id.copy_from_slice(&digest(&SHA256, bytes).as_ref()[..KEK_ID_LEN]);
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::KekLength)?;
        Ok(Self {
            key: LessSafeKey::new(key),
            id,
        })
    }

    /// A fresh random KEK, returned with its bytes so the caller can store them.
    pub fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), SealError> {
        let bytes = Zeroizing::new(random_bytes(KEK_LEN)?);
        Ok((Self::from_bytes(&bytes)?, bytes))
    }

    pub fn seal(&self, plaintext: &[u8], purpose: &str) -> Result<Vec<u8>, SealError> {
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes(NONCE_LEN)?
            .try_into()
            .map_err(|_| SealError::Random)?;
        let mut out = Vec::with_capacity(1 + KEK_ID_LEN + NONCE_LEN + plaintext.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce_bytes);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(purpose.as_bytes()),
                &mut body,
            )
            .map_err(|_| SealError::Corrupt)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], purpose: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let header = 1 + KEK_ID_LEN + NONCE_LEN;
        if sealed.len() < header + 16 || sealed[0] != VERSION {
            return Err(SealError::Malformed);
        }
        if sealed[1..1 + KEK_ID_LEN] != self.id {
            return Err(SealError::WrongKek);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1 + KEK_ID_LEN..header])
            .map_err(|_| SealError::Malformed)?;
        let mut body = Zeroizing::new(sealed[header..].to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut body)
            .map_err(|_| SealError::Corrupt)?
            .len();
        body.truncate(len);
        Ok(body)
    }
}

/// The current KEK, which seals, and earlier ones, which still open what they sealed until
/// everything has been re-sealed under the current one. Rotation therefore never leaves a
/// moment in which something sealed cannot be opened.
#[derive(Debug)]
pub struct KeyRing {
    current: Kek,
    previous: Vec<Kek>,
}

impl KeyRing {
    pub fn new(current: Kek, previous: Vec<Kek>) -> Self {
        Self { current, previous }
    }

    pub fn seal(&self, plaintext: &[u8], purpose: &str) -> Result<Vec<u8>, SealError> {
        self.current.seal(plaintext, purpose)
    }

    /// Opens with whichever key of the ring sealed the blob.
    pub fn open(&self, sealed: &[u8], purpose: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        match self.current.open(sealed, purpose) {
            Err(SealError::WrongKek) => self
                .previous
                .iter()
                .find_map(|k| match k.open(sealed, purpose) {
                    Err(SealError::WrongKek) => None,
                    other => Some(other),
                })
                .unwrap_or(Err(SealError::WrongKek)),
            other => other,
        }
    }

    /// Whether the blob was sealed with the current key (nothing to re-seal).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.get(1..1 + KEK_ID_LEN) == Some(&self.current.id[..])
    }
}

pub fn random_bytes(len: usize) -> Result<Vec<u8>, SealError> {
    let mut buf = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| SealError::Random)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let (kek, _) = Kek::generate().unwrap();
        let sealed = kek.seal(b"private key", "signing-key").unwrap();
        assert_eq!(&*kek.open(&sealed, "signing-key").unwrap(), b"private key");
        assert!(!sealed.windows(11).any(|w| w == b"private key"));
        assert_eq!(kek.open(&sealed, "tls-key"), Err(SealError::Corrupt));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(kek.open(&flipped, "signing-key"), Err(SealError::Corrupt));
        let (other, _) = Kek::generate().unwrap();
        assert_eq!(other.open(&sealed, "signing-key"), Err(SealError::WrongKek));
        assert_eq!(
            kek.open(&sealed[..10], "signing-key"),
            Err(SealError::Malformed)
        );
        assert_eq!(Kek::from_bytes(&[0; 31]).err(), Some(SealError::KekLength));
    }

    #[test]
    fn a_ring_opens_what_earlier_keys_sealed_and_seals_with_the_current_one() {
        let (old, _) = Kek::generate().unwrap();
        let (new, _) = Kek::generate().unwrap();
        let sealed_old = old.seal(b"secret", "p").unwrap();
        let older = Kek::from_bytes(&[7u8; KEK_LEN]).unwrap();
        let ring = KeyRing::new(new, vec![older, old]);
        assert_eq!(&ring.open(&sealed_old, "p").unwrap()[..], b"secret");
        assert!(!ring.is_current(&sealed_old));
        let sealed_new = ring.seal(b"secret", "p").unwrap();
        assert!(ring.is_current(&sealed_new));
        assert_eq!(ring.open(&sealed_old, "q"), Err(SealError::Corrupt));
        let (stranger, _) = Kek::generate().unwrap();
        assert_eq!(
            ring.open(&stranger.seal(b"x", "p").unwrap(), "p"),
            Err(SealError::WrongKek)
        );
    }
}
