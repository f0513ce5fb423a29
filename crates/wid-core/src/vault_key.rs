//! Keys of key vaults, IO-free: generation, import from a JWK, the public JWK, and the
//! cryptographic operations Key Vault performs with a key version (sign and verify a digest,
//! encrypt, decrypt, wrap and unwrap with RSA).
//!
//! wid keeps every key in software. The HSM key types (`RSA-HSM`, `EC-HSM`) are accepted and
//! reported as requested, so clients written for premium vaults work, but they give no
//! hardware protection. Symmetric (`oct`) keys are refused, as standard and premium vaults
//! refuse them (only Managed HSM serves them). P-256K is refused: aws-lc-rs signs with it
//! only through its unstable API.

use crate::model::{KeyVersion, PublicJwk};
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPairComponents, OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey, PrivateDecryptingKey, PublicKeyComponents,
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use thiserror::Error;
use zeroize::Zeroizing;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("The key type {0} is not supported by this vault; use RSA, RSA-HSM, EC or EC-HSM.")]
    UnsupportedKeyType(String),
    #[error("The key size {0} is not supported; use 2048, 3072 or 4096.")]
    UnsupportedKeySize(u32),
    #[error("The curve {0} is not supported; use P-256, P-384 or P-521.")]
    UnsupportedCurve(String),
    #[error("The key operation {0} is invalid.")]
    InvalidKeyOperation(String),
    #[error("The key to import must include its private parts ({0}).")]
    PublicOnlyImport(&'static str),
    #[error("The JWK is invalid: {0}")]
    InvalidJwk(&'static str),
    #[error("The algorithm {0} is not supported.")]
    UnsupportedAlgorithm(String),
    #[error("The algorithm {0} cannot be used with a key of type {1}.")]
    AlgorithmKeyMismatch(String, String),
    #[error("The digest is {0} bytes; {1} needs {2}.")]
    DigestLength(usize, &'static str, usize),
    #[error("The value is invalid for this key and algorithm.")]
    InvalidValue,
    #[error("Operation {0} is not allowed on this key.")]
    OperationNotAllowed(&'static str),
    #[error("Operation {0} is not allowed on a disabled key.")]
    Disabled(&'static str),
    #[error("Operation {0} is not allowed: the key is not yet valid.")]
    NotYetValid(&'static str),
    #[error("Operation {0} is not allowed: the key has expired.")]
    Expired(&'static str),
    #[error("the stored key does not parse")]
    Corrupt,
}

/// The key types a vault holds, by Key Vault's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kty {
    Rsa,
    RsaHsm,
    Ec,
    EcHsm,
}

impl Kty {
    pub fn parse(s: &str) -> Result<Kty, KeyError> {
        match s {
            "RSA" => Ok(Kty::Rsa),
            "RSA-HSM" => Ok(Kty::RsaHsm),
            "EC" => Ok(Kty::Ec),
            "EC-HSM" => Ok(Kty::EcHsm),
            other => Err(KeyError::UnsupportedKeyType(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kty::Rsa => "RSA",
            Kty::RsaHsm => "RSA-HSM",
            Kty::Ec => "EC",
            Kty::EcHsm => "EC-HSM",
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, Kty::Rsa | Kty::RsaHsm)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub fn parse(s: &str) -> Result<Curve, KeyError> {
        match s {
            "P-256" => Ok(Curve::P256),
            "P-384" => Ok(Curve::P384),
            "P-521" => Ok(Curve::P521),
            other => Err(KeyError::UnsupportedCurve(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// The one ECDSA algorithm Key Vault pairs with each curve.
    fn signing(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        }
    }

    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// Every operation name Key Vault accepts in `key_ops`.
const KEY_OPS: &[&str] = &[
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
    "import",
    "export",
];

/// What Key Vault allows a new key that names no operations.
pub fn default_key_ops(kty: Kty) -> Vec<String> {
    let ops: &[&str] = if kty.is_rsa() {
        &[
            "encrypt",
            "decrypt",
            "sign",
            "verify",
            "wrapKey",
            "unwrapKey",
        ]
    } else {
        &["sign", "verify"]
    };
    ops.iter().map(|s| (*s).to_owned()).collect()
}

/// The requested operations, checked against Key Vault's names (which are case-sensitive).
pub fn check_key_ops(ops: &[String]) -> Result<(), KeyError> {
    match ops.iter().find(|op| !KEY_OPS.contains(&op.as_str())) {
        Some(bad) => Err(KeyError::InvalidKeyOperation(bad.clone())),
        None => Ok(()),
    }
}

/// The purpose a private key is sealed under: a sealed key moved to another vault, key or
/// version does not open.
pub fn private_key_purpose(vault: &str, name: &str, version: &str) -> String {
    format!(
        "key:{}/{}/{}",
        vault.to_ascii_lowercase(),
        name.to_ascii_lowercase(),
        version
    )
}

/// New key material: the private key as PKCS#8 DER and its public JWK.
pub struct Material {
    pub kty: Kty,
    pub crv: Option<Curve>,
    pub size: Option<u32>,
    pub public: PublicJwk,
    pub pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Generates a key as `create` asks: RSA of `size` bits (2048 by default) or EC on `crv`
/// (P-256 by default).
pub fn generate(kty: Kty, size: Option<u32>, crv: Option<&str>) -> Result<Material, KeyError> {
    if kty.is_rsa() {
        let bits = size.unwrap_or(2048);
        let key_size = match bits {
            2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
            3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
            4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
            other => return Err(KeyError::UnsupportedKeySize(other)),
        };
        let pair = RsaKeyPair::generate(key_size).map_err(|_| KeyError::Corrupt)?;
        rsa_material(kty, &pair)
    } else {
        let curve = Curve::parse(crv.unwrap_or("P-256"))?;
        let pair = EcdsaKeyPair::generate(curve.signing()).map_err(|_| KeyError::Corrupt)?;
        ec_material(kty, curve, &pair)
    }
}

/// The key of a PKCS#8 private key another plane made (a certificate's): RSA, or EC on
/// whichever curve it is on.
pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Material, KeyError> {
    if let Ok(pair) = RsaKeyPair::from_pkcs8(pkcs8) {
        return rsa_material(Kty::Rsa, &pair);
    }
    for curve in [Curve::P256, Curve::P384, Curve::P521] {
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(curve.signing(), pkcs8) {
            return ec_material(Kty::Ec, curve, &pair);
        }
    }
    Err(KeyError::Corrupt)
}

fn rsa_material(kty: Kty, pair: &RsaKeyPair) -> Result<Material, KeyError> {
    let public = pair.public_key();
    let pkcs8 = pair.as_der().map_err(|_| KeyError::Corrupt)?;
    Ok(Material {
        kty,
        crv: None,
        size: u32::try_from(pair.public_modulus_len() * 8).ok(),
        public: PublicJwk {
            kty: "RSA".to_owned(),
            n: Some(B64.encode(public.modulus().big_endian_without_leading_zero())),
            e: Some(B64.encode(public.exponent().big_endian_without_leading_zero())),
            ..PublicJwk::default()
        },
        pkcs8: Zeroizing::new(pkcs8.as_ref().to_vec()),
    })
}

fn ec_material(kty: Kty, curve: Curve, pair: &EcdsaKeyPair) -> Result<Material, KeyError> {
    let point = pair.public_key().as_ref();
    let len = curve.coordinate_len();
    if point.len() != 1 + 2 * len || point[0] != 4 {
        return Err(KeyError::Corrupt);
    }
    let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Corrupt)?;
    Ok(Material {
        kty,
        crv: Some(curve),
        size: None,
        public: PublicJwk {
            kty: "EC".to_owned(),
            crv: Some(curve.as_str().to_owned()),
            x: Some(B64.encode(&point[1..=len])),
            y: Some(B64.encode(&point[1 + len..])),
            ..PublicJwk::default()
        },
        pkcs8: Zeroizing::new(pkcs8.as_ref().to_vec()),
    })
}

/// A private member of a JWK as received: zeroized when dropped.
#[derive(Default)]
pub struct PrivatePart(pub Zeroizing<String>);

impl<'de> serde::Deserialize<'de> for PrivatePart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(|s| PrivatePart(Zeroizing::new(s)))
    }
}

/// A JWK with private parts as `import` sends it. Members are base64url; the private ones
/// are zeroized when dropped and never printed.
#[derive(Default, serde::Deserialize)]
pub struct PrivateJwk {
    pub kty: String,
    pub crv: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub d: Option<PrivatePart>,
    pub p: Option<PrivatePart>,
    pub q: Option<PrivatePart>,
    pub dp: Option<PrivatePart>,
    pub dq: Option<PrivatePart>,
    pub qi: Option<PrivatePart>,
    pub key_ops: Option<Vec<String>>,
}

impl std::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateJwk")
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .finish_non_exhaustive()
    }
}

fn b64(value: Option<&str>, member: &'static str) -> Result<Vec<u8>, KeyError> {
    let text = value.ok_or(KeyError::InvalidJwk(member))?;
    B64.decode(text.trim_end_matches('='))
        .map_err(|_| KeyError::InvalidJwk(member))
}

fn private(
    value: &Option<PrivatePart>,
    member: &'static str,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let text = value
        .as_ref()
        .map(|p| p.0.as_str())
        .ok_or(KeyError::PublicOnlyImport(member))?;
    B64.decode(text.trim_end_matches('='))
        .map(Zeroizing::new)
        .map_err(|_| KeyError::InvalidJwk(member))
}

/// Key material from an imported JWK. A public-only JWK is refused, as Key Vault refuses it;
/// `kty` may name an HSM kind to keep (`RSA-HSM` for an `RSA` JWK).
pub fn import(jwk: &PrivateJwk, hsm: bool) -> Result<Material, KeyError> {
    let base = Kty::parse(&jwk.kty)?;
    let kty = match (base, hsm) {
        (Kty::Rsa, true) => Kty::RsaHsm,
        (Kty::Ec, true) => Kty::EcHsm,
        (k, _) => k,
    };
    if kty.is_rsa() {
        let n = b64(jwk.n.as_deref(), "n")?;
        let e = b64(jwk.e.as_deref(), "e")?;
        let components = KeyPairComponents {
            public_key: PublicKeyComponents {
                n: strip_zeros(&n),
                e: strip_zeros(&e),
            },
            d: private(&jwk.d, "d")?,
            p: private(&jwk.p, "p")?,
            q: private(&jwk.q, "q")?,
            dP: private(&jwk.dp, "dp")?,
            dQ: private(&jwk.dq, "dq")?,
            qInv: private(&jwk.qi, "qi")?,
        };
        let pair = RsaKeyPair::from_components(&components)
            .map_err(|_| KeyError::InvalidJwk("the RSA components do not form a key"))?;
        let bits = pair.public_modulus_len() * 8;
        if !(2048..=4096).contains(&bits) {
            return Err(KeyError::UnsupportedKeySize(
                u32::try_from(bits).unwrap_or(u32::MAX),
            ));
        }
        rsa_material(kty, &pair)
    } else {
        let curve = Curve::parse(jwk.crv.as_deref().ok_or(KeyError::InvalidJwk("crv"))?)?;
        let len = curve.coordinate_len();
        let x = b64(jwk.x.as_deref(), "x")?;
        let y = b64(jwk.y.as_deref(), "y")?;
        let d = private(&jwk.d, "d")?;
        if x.len() != len || y.len() != len || d.len() != len {
            return Err(KeyError::InvalidJwk(
                "the EC coordinates have the wrong length",
            ));
        }
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let pair = EcdsaKeyPair::from_private_key_and_public_key(curve.signing(), &d, &point)
            .map_err(|_| KeyError::InvalidJwk("the EC components do not form a key"))?;
        ec_material(kty, curve, &pair)
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Whether a version may perform `op` (Key Vault's `key_ops` name) at `now`: listed in its
/// key_ops, enabled, and inside its nbf/exp window. Unlike `get`, crypto operations are
/// refused outside the window.
pub fn check_usable(v: &KeyVersion, op: &'static str, now: i64) -> Result<(), KeyError> {
    if !v.enabled {
        return Err(KeyError::Disabled(op));
    }
    if v.nbf.is_some_and(|nbf| now < nbf) {
        return Err(KeyError::NotYetValid(op));
    }
    if v.exp.is_some_and(|exp| now >= exp) {
        return Err(KeyError::Expired(op));
    }
    if !v.key_ops.iter().any(|o| o == op) {
        return Err(KeyError::OperationNotAllowed(op));
    }
    Ok(())
}

/// Key Vault's signature algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignAlg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

impl SignAlg {
    pub fn parse(s: &str) -> Result<SignAlg, KeyError> {
        Ok(match s {
            "RS256" => SignAlg::Rs256,
            "RS384" => SignAlg::Rs384,
            "RS512" => SignAlg::Rs512,
            "PS256" => SignAlg::Ps256,
            "PS384" => SignAlg::Ps384,
            "PS512" => SignAlg::Ps512,
            "ES256" => SignAlg::Es256,
            "ES384" => SignAlg::Es384,
            "ES512" => SignAlg::Es512,
            other => return Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
        })
    }

    fn name(self) -> &'static str {
        match self {
            SignAlg::Rs256 => "RS256",
            SignAlg::Rs384 => "RS384",
            SignAlg::Rs512 => "RS512",
            SignAlg::Ps256 => "PS256",
            SignAlg::Ps384 => "PS384",
            SignAlg::Ps512 => "PS512",
            SignAlg::Es256 => "ES256",
            SignAlg::Es384 => "ES384",
            SignAlg::Es512 => "ES512",
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            SignAlg::Rs256 | SignAlg::Ps256 | SignAlg::Es256 => &digest::SHA256,
            SignAlg::Rs384 | SignAlg::Ps384 | SignAlg::Es384 => &digest::SHA384,
            SignAlg::Rs512 | SignAlg::Ps512 | SignAlg::Es512 => &digest::SHA512,
        }
    }

    fn rsa(self) -> Option<&'static dyn signature::RsaEncoding> {
        Some(match self {
            SignAlg::Rs256 => &signature::RSA_PKCS1_SHA256,
            SignAlg::Rs384 => &signature::RSA_PKCS1_SHA384,
            SignAlg::Rs512 => &signature::RSA_PKCS1_SHA512,
            SignAlg::Ps256 => &signature::RSA_PSS_SHA256,
            SignAlg::Ps384 => &signature::RSA_PSS_SHA384,
            SignAlg::Ps512 => &signature::RSA_PSS_SHA512,
            _ => return None,
        })
    }

    fn rsa_verify(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            SignAlg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SignAlg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            SignAlg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            SignAlg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            SignAlg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            SignAlg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    fn curve(self) -> Option<Curve> {
        match self {
            SignAlg::Es256 => Some(Curve::P256),
            SignAlg::Es384 => Some(Curve::P384),
            SignAlg::Es512 => Some(Curve::P521),
            _ => None,
        }
    }
}

/// Key Vault's RSA encryption (and key-wrapping) algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncAlg {
    RsaOaep,
    RsaOaep256,
    Rsa1_5,
}

impl EncAlg {
    pub fn parse(s: &str) -> Result<EncAlg, KeyError> {
        match s {
            "RSA-OAEP" => Ok(EncAlg::RsaOaep),
            "RSA-OAEP-256" => Ok(EncAlg::RsaOaep256),
            "RSA1_5" => Ok(EncAlg::Rsa1_5),
            other => Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    fn oaep(self) -> Option<&'static OaepAlgorithm> {
        match self {
            EncAlg::RsaOaep => Some(&OAEP_SHA1_MGF1SHA1),
            EncAlg::RsaOaep256 => Some(&OAEP_SHA256_MGF1SHA256),
            EncAlg::Rsa1_5 => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            EncAlg::RsaOaep => "RSA-OAEP",
            EncAlg::RsaOaep256 => "RSA-OAEP-256",
            EncAlg::Rsa1_5 => "RSA1_5",
        }
    }
}

/// A version's private key, parsed once and kept for its operations. Never printed.
pub enum PrivateKey {
    Rsa {
        sign: RsaKeyPair,
        oaep: OaepPrivateDecryptingKey,
        pkcs1: Pkcs1PrivateDecryptingKey,
        oaep_public: OaepPublicEncryptingKey,
        pkcs1_public: Pkcs1PublicEncryptingKey,
    },
    Ec {
        curve: Curve,
        pair: EcdsaKeyPair,
    },
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrivateKey::Rsa { .. } => f.write_str("PrivateKey::Rsa"),
            PrivateKey::Ec { curve, .. } => write!(f, "PrivateKey::Ec({})", curve.as_str()),
        }
    }
}

impl PrivateKey {
    /// Parses a stored version's PKCS#8 DER.
    pub fn from_pkcs8(v: &KeyVersion, pkcs8: &[u8]) -> Result<PrivateKey, KeyError> {
        if Kty::parse(&v.kty)?.is_rsa() {
            let sign = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Corrupt)?;
            let decrypting =
                PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| KeyError::Corrupt)?;
            Ok(PrivateKey::Rsa {
                sign,
                oaep_public: OaepPublicEncryptingKey::new(decrypting.public_key())
                    .map_err(|_| KeyError::Corrupt)?,
                pkcs1_public: Pkcs1PublicEncryptingKey::new(decrypting.public_key())
                    .map_err(|_| KeyError::Corrupt)?,
                oaep: OaepPrivateDecryptingKey::new(decrypting.clone())
                    .map_err(|_| KeyError::Corrupt)?,
                pkcs1: Pkcs1PrivateDecryptingKey::new(decrypting).map_err(|_| KeyError::Corrupt)?,
            })
        } else {
            let curve = Curve::parse(v.crv.as_deref().ok_or(KeyError::Corrupt)?)?;
            let pair =
                EcdsaKeyPair::from_pkcs8(curve.signing(), pkcs8).map_err(|_| KeyError::Corrupt)?;
            Ok(PrivateKey::Ec { curve, pair })
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            PrivateKey::Rsa { .. } => "RSA",
            PrivateKey::Ec { .. } => "EC",
        }
    }

    fn mismatch(&self, alg: &str) -> KeyError {
        KeyError::AlgorithmKeyMismatch(alg.to_owned(), self.kind().to_owned())
    }

    fn digest(alg: SignAlg, digest: &[u8]) -> Result<Digest, KeyError> {
        let algorithm = alg.digest();
        Digest::import_less_safe(digest, algorithm)
            .map_err(|_| KeyError::DigestLength(digest.len(), alg.name(), algorithm.output_len()))
    }

    /// Signs a digest the client computed (Key Vault never hashes the message itself).
    pub fn sign(&self, alg: SignAlg, digest: &[u8]) -> Result<Vec<u8>, KeyError> {
        let d = Self::digest(alg, digest)?;
        match self {
            PrivateKey::Rsa { sign, .. } => {
                let encoding = alg.rsa().ok_or_else(|| self.mismatch(alg.name()))?;
                let mut out = vec![0; sign.public_modulus_len()];
                sign.sign_digest(encoding, &d, &mut out)
                    .map_err(|_| KeyError::InvalidValue)?;
                Ok(out)
            }
            PrivateKey::Ec { curve, pair } => {
                if alg.curve() != Some(*curve) {
                    return Err(self.mismatch(alg.name()));
                }
                let sig = pair.sign_digest(&d).map_err(|_| KeyError::InvalidValue)?;
                Ok(sig.as_ref().to_vec())
            }
        }
    }

    /// Whether `signature` is this key's signature of `digest`.
    pub fn verify(&self, alg: SignAlg, digest: &[u8], sig: &[u8]) -> Result<bool, KeyError> {
        let d = Self::digest(alg, digest)?;
        let verified = match self {
            PrivateKey::Rsa { sign, .. } => {
                let params = alg.rsa_verify().ok_or_else(|| self.mismatch(alg.name()))?;
                signature::UnparsedPublicKey::new(params, sign.public_key().as_ref())
                    .verify_digest(&d, sig)
            }
            PrivateKey::Ec { curve, pair } => {
                let params: &'static signature::EcdsaVerificationAlgorithm = match alg.curve() {
                    Some(c) if c == *curve => match c {
                        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
                    },
                    _ => return Err(self.mismatch(alg.name())),
                };
                signature::UnparsedPublicKey::new(params, pair.public_key().as_ref())
                    .verify_digest(&d, sig)
            }
        };
        Ok(verified.is_ok())
    }

    /// Encrypts (or wraps) `plain` with the public half.
    pub fn encrypt(&self, alg: EncAlg, plain: &[u8]) -> Result<Vec<u8>, KeyError> {
        let PrivateKey::Rsa {
            oaep_public,
            pkcs1_public,
            ..
        } = self
        else {
            return Err(self.mismatch(alg.name()));
        };
        let mut out = vec![0; oaep_public.ciphertext_size()];
        let written = match alg.oaep() {
            Some(algorithm) => oaep_public
                .encrypt(algorithm, plain, &mut out, None)
                .map_err(|_| KeyError::InvalidValue)?
                .len(),
            None => pkcs1_public
                .encrypt(plain, &mut out)
                .map_err(|_| KeyError::InvalidValue)?
                .len(),
        };
        out.truncate(written);
        Ok(out)
    }

    /// Decrypts (or unwraps) `cipher` with the private key.
    pub fn decrypt(&self, alg: EncAlg, cipher: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let PrivateKey::Rsa { oaep, pkcs1, .. } = self else {
            return Err(self.mismatch(alg.name()));
        };
        let mut out = Zeroizing::new(vec![0; oaep.min_output_size()]);
        let written = match alg.oaep() {
            Some(algorithm) => oaep
                .decrypt(algorithm, cipher, &mut out, None)
                .map_err(|_| KeyError::InvalidValue)?
                .len(),
            None => pkcs1
                .decrypt(cipher, &mut out)
                .map_err(|_| KeyError::InvalidValue)?
                .len(),
        };
        out.truncate(written);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsBigEndian;

    fn version(m: &Material, ops: &[&str]) -> KeyVersion {
        KeyVersion {
            version: "v1".to_owned(),
            kty: m.kty.as_str().to_owned(),
            crv: m.crv.map(|c| c.as_str().to_owned()),
            size: m.size,
            key_ops: ops.iter().map(|s| (*s).to_owned()).collect(),
            public_jwk: m.public.clone(),
            sealed_private_key: Vec::new(),
            tags: Default::default(),
            enabled: true,
            nbf: None,
            exp: None,
            created: 0,
            updated: 0,
            exportable: false,
            managed: false,
        }
    }

    fn parsed(m: &Material) -> PrivateKey {
        PrivateKey::from_pkcs8(&version(m, &[]), &m.pkcs8).unwrap()
    }

    #[test]
    fn generates_the_sizes_and_curves_key_vault_offers() {
        for (kty, size, crv, bits, curve) in [
            (Kty::Rsa, None, None, Some(2048), None),
            (Kty::RsaHsm, Some(3072), None, Some(3072), None),
            (Kty::Rsa, Some(4096), None, Some(4096), None),
            (Kty::Ec, None, None, None, Some("P-256")),
            (Kty::EcHsm, None, Some("P-384"), None, Some("P-384")),
            (Kty::Ec, None, Some("P-521"), None, Some("P-521")),
        ] {
            let m = generate(kty, size, crv).unwrap();
            assert_eq!((m.size, m.crv.map(Curve::as_str)), (bits, curve));
            assert_eq!(m.public.crv.as_deref(), curve);
            if kty.is_rsa() {
                let n = B64.decode(m.public.n.as_deref().unwrap()).unwrap();
                assert_eq!(n.len() * 8, bits.unwrap() as usize);
                assert_eq!(m.public.e.as_deref(), Some("AQAB"));
            } else {
                let x = B64.decode(m.public.x.as_deref().unwrap()).unwrap();
                assert_eq!(
                    x.len(),
                    Curve::parse(curve.unwrap()).unwrap().coordinate_len()
                );
            }
        }
    }

    #[test]
    fn refuses_what_vaults_refuse() {
        for (kty, size, crv, err) in [
            (
                "oct",
                None,
                None,
                KeyError::UnsupportedKeyType("oct".into()),
            ),
            (
                "oct-HSM",
                None,
                None,
                KeyError::UnsupportedKeyType("oct-HSM".into()),
            ),
            (
                "rsa",
                None,
                None,
                KeyError::UnsupportedKeyType("rsa".into()),
            ),
            ("RSA", Some(1024), None, KeyError::UnsupportedKeySize(1024)),
            ("RSA", Some(2047), None, KeyError::UnsupportedKeySize(2047)),
            (
                "EC",
                None,
                Some("P-256K"),
                KeyError::UnsupportedCurve("P-256K".into()),
            ),
        ] {
            let got = Kty::parse(kty).and_then(|k| generate(k, size, crv));
            assert_eq!(got.err(), Some(err), "{kty} {size:?} {crv:?}");
        }
        assert_eq!(
            check_key_ops(&["sign".into(), "Sign".into()]),
            Err(KeyError::InvalidKeyOperation("Sign".into()))
        );
        assert_eq!(check_key_ops(&default_key_ops(Kty::Rsa)), Ok(()));
        assert_eq!(default_key_ops(Kty::EcHsm), ["sign", "verify"]);
    }

    #[test]
    fn signs_digests_with_every_algorithm() {
        let rsa = parsed(&generate(Kty::Rsa, None, None).unwrap());
        let keys = [
            (
                Curve::P256,
                parsed(&generate(Kty::Ec, None, Some("P-256")).unwrap()),
            ),
            (
                Curve::P384,
                parsed(&generate(Kty::Ec, None, Some("P-384")).unwrap()),
            ),
            (
                Curve::P521,
                parsed(&generate(Kty::Ec, None, Some("P-521")).unwrap()),
            ),
        ];
        for (name, len) in [
            ("RS256", 32),
            ("RS384", 48),
            ("RS512", 64),
            ("PS256", 32),
            ("PS384", 48),
            ("PS512", 64),
            ("ES256", 32),
            ("ES384", 48),
            ("ES512", 64),
        ] {
            let alg = SignAlg::parse(name).unwrap();
            let key = match alg.curve() {
                None => &rsa,
                Some(c) => &keys.iter().find(|(k, _)| *k == c).unwrap().1,
            };
            let digest = vec![7u8; len];
            let sig = key.sign(alg, &digest).unwrap();
            assert!(key.verify(alg, &digest, &sig).unwrap(), "{name}");
            let mut other = digest.clone();
            other[0] ^= 1;
            assert!(
                !key.verify(alg, &other, &sig).unwrap(),
                "{name} other digest"
            );
            assert_eq!(
                key.sign(alg, &digest[1..]).err(),
                Some(KeyError::DigestLength(len - 1, alg.name(), len)),
                "{name} short digest"
            );
        }
        let es256 = SignAlg::parse("ES256").unwrap();
        assert!(matches!(
            rsa.sign(es256, &[0; 32]),
            Err(KeyError::AlgorithmKeyMismatch(..))
        ));
        assert!(matches!(
            keys[1].1.sign(es256, &[0; 32]),
            Err(KeyError::AlgorithmKeyMismatch(..))
        ));
        assert_eq!(
            SignAlg::parse("ES256K").err(),
            Some(KeyError::UnsupportedAlgorithm("ES256K".into()))
        );
    }

    #[test]
    fn encrypts_and_decrypts_with_every_rsa_algorithm() {
        let rsa = parsed(&generate(Kty::Rsa, Some(3072), None).unwrap());
        for name in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
            let alg = EncAlg::parse(name).unwrap();
            let cipher = rsa.encrypt(alg, b"a content key").unwrap();
            assert_eq!(cipher.len(), 384);
            assert_eq!(
                rsa.decrypt(alg, &cipher).unwrap().as_slice(),
                b"a content key"
            );
            let mut bad = cipher.clone();
            bad[10] ^= 1;
            assert_eq!(
                rsa.decrypt(alg, &bad).err(),
                Some(KeyError::InvalidValue),
                "{name}"
            );
        }
        let ec = parsed(&generate(Kty::Ec, None, None).unwrap());
        assert!(matches!(
            ec.encrypt(EncAlg::RsaOaep, b"x"),
            Err(KeyError::AlgorithmKeyMismatch(..))
        ));
        assert!(EncAlg::parse("A256KW").is_err());
    }

    #[test]
    fn imports_private_jwks_and_refuses_public_ones() {
        let pair = EcdsaKeyPair::generate(Curve::P384.signing()).unwrap();
        let m = ec_material(Kty::Ec, Curve::P384, &pair).unwrap();
        let d = pair.private_key().as_be_bytes().unwrap();
        let mut jwk = PrivateJwk {
            kty: "EC".into(),
            crv: Some("P-384".into()),
            x: m.public.x.clone(),
            y: m.public.y.clone(),
            ..PrivateJwk::default()
        };
        assert_eq!(
            import(&jwk, false).err(),
            Some(KeyError::PublicOnlyImport("d"))
        );
        jwk.d = Some(PrivatePart(Zeroizing::new(B64.encode(d.as_ref()))));
        let imported = import(&jwk, true).unwrap();
        assert_eq!(
            (imported.kty, imported.public.clone()),
            (Kty::EcHsm, m.public.clone())
        );
        let key = parsed(&imported);
        let alg = SignAlg::parse("ES384").unwrap();
        let sig = key.sign(alg, &[1; 48]).unwrap();
        assert!(
            parsed(&m).verify(alg, &[1; 48], &sig).unwrap(),
            "the same key"
        );
        jwk.x = m.public.y.clone();
        assert!(matches!(import(&jwk, false), Err(KeyError::InvalidJwk(_))));
        let rsa = PrivateJwk {
            kty: "RSA".into(),
            n: Some("AQAB".into()),
            e: Some("AQAB".into()),
            ..PrivateJwk::default()
        };
        assert_eq!(
            import(&rsa, false).err(),
            Some(KeyError::PublicOnlyImport("d"))
        );
        let oct = PrivateJwk {
            kty: "oct".into(),
            ..PrivateJwk::default()
        };
        assert!(matches!(
            import(&oct, false),
            Err(KeyError::UnsupportedKeyType(_))
        ));
    }

    #[test]
    fn crypto_operations_need_key_ops_enabled_and_the_window() {
        let m = generate(Kty::Ec, None, None).unwrap();
        type Case = (fn(&mut KeyVersion), &'static str, Result<(), KeyError>);
        let cases: [Case; 6] = [
            (|_| {}, "sign", Ok(())),
            (
                |_| {},
                "encrypt",
                Err(KeyError::OperationNotAllowed("encrypt")),
            ),
            (
                |v| v.enabled = false,
                "sign",
                Err(KeyError::Disabled("sign")),
            ),
            (
                |v| v.nbf = Some(101),
                "sign",
                Err(KeyError::NotYetValid("sign")),
            ),
            (
                |v| v.exp = Some(100),
                "sign",
                Err(KeyError::Expired("sign")),
            ),
            (|v| v.exp = Some(101), "verify", Ok(())),
        ];
        for (change, op, want) in cases {
            let mut v = version(&m, &["sign", "verify"]);
            change(&mut v);
            assert_eq!(check_usable(&v, op, 100), want, "{op}");
        }
        assert_eq!(private_key_purpose("KV", "Key", "abc"), "key:kv/key/abc");
        assert!(!format!("{:?}", parsed(&m)).contains(&format!("{:?}", &m.pkcs8[..])));
        assert_eq!(
            format!("{m:?}"),
            "Material { kty: Ec, crv: Some(P256), size: None, .. }"
        );
    }
}
