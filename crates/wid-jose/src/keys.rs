//! Signing and verifying keys, parsed once. RSA keys sign and verify RS256 (PKCS#1 v1.5 with
//! SHA-256), P-256 keys ES256 in JOSE's fixed-width `r || s` form.

use crate::{b64, Algorithm, HeaderParams, JoseError, Jwk};
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKey as RsaPublicKey};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, ParsedPublicKey, RsaKeyPair, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::Engine;
use serde::Serialize;
use zeroize::Zeroizing;

/// Length of a P-256 SubjectPublicKeyInfo: a fixed 26-byte prefix and the 65-byte point.
const P256_SPKI_LEN: usize = 91;

/// `kid` = base64url(SHA-256(DER SubjectPublicKeyInfo)), the derivation of kube-apiserver.
pub fn kid_from_spki_der(spki_der: &[u8]) -> String {
    b64::encode(digest(&SHA256, spki_der).as_ref())
}

#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    key: ParsedPublicKey,
    spki: Vec<u8>,
    kid: String,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish()
    }
}

impl VerifyingKey {
    fn parsed(alg: Algorithm, bytes: &[u8]) -> Result<Self, JoseError> {
        let key = match alg {
            Algorithm::RS256 => ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, bytes),
            Algorithm::ES256 => ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, bytes),
        }
        .map_err(|_| JoseError::InvalidKey("not a usable public key"))?;
        let spki = key
            .as_der()
            .map_err(|_| JoseError::InvalidKey("cannot encode the public key"))?
            .as_ref()
            .to_vec();
        if alg == Algorithm::RS256 {
            let rsa = RsaPublicKey::from_der(&spki)
                .map_err(|_| JoseError::InvalidKey("not an RSA key"))?;
            if rsa.modulus_len() < 256 {
                return Err(JoseError::InvalidKey(
                    "RSA keys must have at least 2048 bits",
                ));
            }
        }
        let kid = kid_from_spki_der(&spki);
        Ok(Self {
            alg,
            key,
            spki,
            kid,
        })
    }

    /// A SubjectPublicKeyInfo of an RSA (2048 bits or more) or P-256 key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, JoseError> {
        Self::parsed(Algorithm::RS256, der).or_else(|_| Self::parsed(Algorithm::ES256, der))
    }

    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        let field = |v: &Option<String>| -> Result<Vec<u8>, JoseError> {
            b64::decode(
                v.as_deref()
                    .ok_or(JoseError::InvalidKey("missing key member"))?,
            )
        };
        let key = match jwk.kty.as_str() {
            "RSA" => Self::parsed(
                Algorithm::RS256,
                &rsa_public_key_der(&field(&jwk.n)?, &field(&jwk.e)?),
            )?,
            "EC" => {
                if jwk.crv.as_deref() != Some("P-256") {
                    return Err(JoseError::InvalidKey("only the P-256 curve is supported"));
                }
                let (x, y) = (field(&jwk.x)?, field(&jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::InvalidKey("P-256 coordinates are 32 bytes"));
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Self::parsed(Algorithm::ES256, &point)?
            }
            _ => return Err(JoseError::InvalidKey("unsupported key type")),
        };
        match jwk.alg.as_deref() {
            Some(alg) if alg != key.alg.as_str() => Err(JoseError::KeyMismatch),
            _ => Ok(key),
        }
    }

    /// Any PEM holding a public key or a private key (whose public half is taken).
    pub fn from_pem(pem: &str) -> Result<Self, JoseError> {
        let (label, der) = pem_decode(pem)?;
        match label.as_str() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Self::from_spki_der(&der),
            _ => Ok(SigningKey::from_pem(pem)?.verifying_key()),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    pub fn to_jwk(&self) -> Jwk {
        let mut jwk = Jwk {
            use_: Some("sig".to_owned()),
            kty: String::new(),
            kid: Some(self.kid.clone()),
            alg: Some(self.alg.as_str().to_owned()),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        };
        match self.alg {
            Algorithm::RS256 => {
                jwk.kty = "RSA".to_owned();
                if let Ok(rsa) = RsaPublicKey::from_der(&self.spki) {
                    jwk.n = Some(b64::encode(rsa.modulus().big_endian_without_leading_zero()));
                    jwk.e = Some(b64::encode(
                        rsa.exponent().big_endian_without_leading_zero(),
                    ));
                }
            }
            Algorithm::ES256 => {
                jwk.kty = "EC".to_owned();
                jwk.crv = Some("P-256".to_owned());
                if self.spki.len() == P256_SPKI_LEN {
                    let point = &self.spki[P256_SPKI_LEN - 65..];
                    jwk.x = Some(b64::encode(&point[1..33]));
                    jwk.y = Some(b64::encode(&point[33..]));
                }
            }
        }
        jwk
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        self.key
            .verify_sig(message, signature)
            .map_err(|_| JoseError::BadSignature)
    }
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed: &[u8] = {
            let start = bytes
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(bytes.len().saturating_sub(1));
            &bytes[start..]
        };
        let mut content = Vec::with_capacity(trimmed.len() + 1);
        if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
            content.push(0);
        }
        content.extend_from_slice(trimmed);
        tlv(0x02, &content)
    }
    let mut body = integer(n);
    body.extend(integer(e));
    tlv(0x30, &body)
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The label and DER of the first PEM block.
fn pem_decode(pem: &str) -> Result<(String, Zeroizing<Vec<u8>>), JoseError> {
    let begin = pem
        .find("-----BEGIN ")
        .ok_or(JoseError::InvalidKey("not PEM"))?;
    let rest = &pem[begin + 11..];
    let label_end = rest.find("-----").ok_or(JoseError::InvalidKey("not PEM"))?;
    let label = rest[..label_end].to_owned();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    // Searched for after the BEGIN line only: in `-----BEGIN X-----END X-----` the END
    // marker starts inside the BEGIN line, before the body, and slicing up to it panicked.
    let body_end = rest[body_start..]
        .find(&end_marker)
        .map(|i| body_start + i)
        .ok_or(JoseError::InvalidKey("unterminated PEM"))?;
    let body: String = rest[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| JoseError::InvalidKey("PEM body is not base64"))?;
    Ok((label, Zeroizing::new(der)))
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

pub struct SigningKey {
    pair: Pair,
    verifying: VerifyingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.verifying.alg)
            .field("kid", &self.verifying.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn from_pair(pair: Pair) -> Result<Self, JoseError> {
        let spki = match &pair {
            Pair::Rsa(k) => k
                .public_key()
                .as_der()
                .map(|d: PublicKeyX509Der| d.as_ref().to_vec()),
            Pair::Ec(k) => k
                .public_key()
                .as_der()
                .map(|d: PublicKeyX509Der| d.as_ref().to_vec()),
        }
        .map_err(|_| JoseError::InvalidKey("cannot encode the public key"))?;
        let alg = match pair {
            Pair::Rsa(_) => Algorithm::RS256,
            Pair::Ec(_) => Algorithm::ES256,
        };
        Ok(Self {
            verifying: VerifyingKey::parsed(alg, &spki)?,
            pair,
        })
    }

    /// A new RSA-2048 key, with its PKCS#8 DER for sealed storage.
    pub fn generate_rsa() -> Result<(Self, Zeroizing<Vec<u8>>), JoseError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| JoseError::Signing)?;
        let der: Pkcs8V1Der = pair.as_der().map_err(|_| JoseError::Signing)?;
        let pkcs8 = Zeroizing::new(der.as_ref().to_vec());
        Ok((Self::from_pair(Pair::Rsa(pair))?, pkcs8))
    }

    pub fn generate_p256() -> Result<(Self, Zeroizing<Vec<u8>>), JoseError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| JoseError::Signing)?;
        let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
        Ok((Self::from_pkcs8_der(&pkcs8)?, pkcs8))
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, JoseError> {
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            return Self::from_pair(Pair::Rsa(k));
        }
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| JoseError::InvalidKey("not an RSA or P-256 PKCS#8 key"))
            .and_then(|k| Self::from_pair(Pair::Ec(k)))
    }

    /// `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1).
    pub fn from_pem(pem: &str) -> Result<Self, JoseError> {
        let (label, der) = pem_decode(pem)?;
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map_err(|_| JoseError::InvalidKey("not an RSA private key"))
                .and_then(|k| Self::from_pair(Pair::Rsa(k))),
            "EC PRIVATE KEY" => {
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(|_| JoseError::InvalidKey("not a P-256 private key"))
                    .and_then(|k| Self::from_pair(Pair::Ec(k)))
            }
            _ => Err(JoseError::InvalidKey("PEM holds no private key")),
        }
    }

    pub fn kid(&self) -> &str {
        &self.verifying.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.verifying.alg
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying.clone()
    }

    pub fn public_spki_der(&self) -> Vec<u8> {
        self.verifying.spki.clone()
    }

    pub fn sign_jwt<C: Serialize>(
        &self,
        claims: &C,
        params: &HeaderParams,
    ) -> Result<String, JoseError> {
        #[derive(Serialize)]
        struct Header<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            typ: Option<&'a str>,
            alg: &'a str,
            kid: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            x5t: Option<&'a str>,
        }
        let kid = params.kid.as_deref().unwrap_or(self.kid());
        let header = Header {
            typ: params.typ.as_deref(),
            alg: self.algorithm().as_str(),
            kid,
            x5t: params.x5t.then_some(kid),
        };
        let header = serde_json::to_vec(&header).map_err(|_| JoseError::Signing)?;
        let claims = serde_json::to_vec(claims).map_err(|_| JoseError::Signing)?;
        let signing_input = format!("{}.{}", b64::encode(&header), b64::encode(&claims));
        let signature = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", b64::encode(&signature)))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| JoseError::Signing)?;
                Ok(sig)
            }
            Pair::Ec(k) => Ok(k
                .sign(&rng, message)
                .map_err(|_| JoseError::Signing)?
                .as_ref()
                .to_vec()),
        }
    }
}

/// PEM armour with 64-character lines, as OpenSSL writes it (`PUBLIC KEY` for SPKI DER,
/// `PRIVATE KEY` for PKCS#8), so kube-apiserver and openssl read what wid exports.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
