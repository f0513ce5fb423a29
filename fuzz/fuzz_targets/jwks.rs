//! A JWKS as wid fetches it from an issuer's `jwks_uri`: a document anyone who controls an
//! issuer (or a redirect) writes. Parsing and turning each key into a verifying key must
//! not panic; a key that is accepted must survive `to_jwk` → `from_jwk` unchanged (same
//! algorithm, kid and SubjectPublicKeyInfo), and the document must survive re-encoding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wid_jose::{Jwks, VerifyingKey};

fuzz_target!(|data: &[u8]| {
    let Ok(jwks) = serde_json::from_slice::<Jwks>(data) else {
        return;
    };
    let again: Jwks = serde_json::from_slice(&serde_json::to_vec(&jwks).unwrap())
        .expect("a JWKS wid encoded decodes");
    assert_eq!(jwks, again);
    for jwk in &jwks.keys {
        let Ok(key) = VerifyingKey::from_jwk(jwk) else {
            continue;
        };
        if let Some(alg) = &jwk.alg {
            assert_eq!(alg, key.algorithm().as_str());
        }
        let exported = key.to_jwk();
        let back = VerifyingKey::from_jwk(&exported).expect("an exported JWK parses");
        assert_eq!(back.algorithm(), key.algorithm());
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.spki_der(), key.spki_der());
        let from_spki = VerifyingKey::from_spki_der(key.spki_der()).expect("its SPKI parses");
        assert_eq!(from_spki.kid(), key.kid());
        assert_eq!(exported.kid.as_deref(), Some(key.kid()));
    }
});
