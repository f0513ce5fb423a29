//! Compact JWS, as the token endpoint receives `client_assertion`: decoding, the claims
//! wid reads, and verification against two fixed keys, wid-jose's test fixtures.
//!
//! Two kinds of input:
//! - a token as is: decoding must not panic, and a signature may only verify when the
//!   signed part is one these keys really signed (the seeds in `fuzz/seeds/jws/`);
//! - `!` + algorithm byte + 2-byte position + xor byte + claims: the target signs the claims
//!   itself, so the fuzzer reaches verification with real signatures. The token must
//!   decode to the same claims and verify with its own key only; with one byte changed it
//!   must not verify at all.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::LazyLock;
use wid_core::cluster::ServiceAccountClaims;
use wid_core::token::AccessTokenClaims;
use wid_jose::{HeaderParams, SigningKey, UnverifiedJwt, VerifyingKey};

struct Keys {
    rsa: SigningKey,
    ec: SigningKey,
    /// `header.claims` of each token the keys signed for the seed corpus.
    signed: Vec<&'static str>,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let load = |pem| SigningKey::from_pem(pem).expect("the fuzzing keys parse");
    let signed = [
        include_str!("../seeds/jws/rs256-service-account"),
        include_str!("../seeds/jws/es256-service-account"),
        include_str!("../seeds/jws/es256-aud-string"),
    ]
    .iter()
    .map(|t| t.rsplit_once('.').expect("a seed token has a signature").0)
    .collect();
    Keys {
        rsa: load(include_str!(
            "../../crates/wid-jose/tests/fixtures/rsa-pkcs8.pem"
        )),
        ec: load(include_str!(
            "../../crates/wid-jose/tests/fixtures/ec-sec1.pem"
        )),
        signed,
    }
});

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((b'!', rest)) => signed(rest),
        _ => {
            if let Ok(token) = std::str::from_utf8(data) {
                untrusted(token);
            }
        }
    }
});

fn verifiers() -> [VerifyingKey; 2] {
    [KEYS.rsa.verifying_key(), KEYS.ec.verifying_key()]
}

fn untrusted(token: &str) {
    let Ok(jwt) = wid_jose::decode(token) else {
        return;
    };
    claims_as_wid_reads_them(&jwt);
    for key in verifiers() {
        if jwt.verify(&key).is_ok() {
            let signed_part = token.rsplit_once('.').map(|(s, _)| s).unwrap_or_default();
            assert!(
                KEYS.signed.contains(&signed_part),
                "a token the {} key never signed verified: {token}",
                key.algorithm()
            );
            assert_eq!(jwt.header.alg, key.algorithm());
        }
    }
}

/// What the token endpoint and the issuer do with claims: typed decoding, and the time
/// window check with whatever numbers the token carries.
fn claims_as_wid_reads_them(jwt: &UnverifiedJwt) {
    let value: Value = jwt
        .claims()
        .expect("decode only accepts JSON-object claims");
    assert!(value.is_object());
    if let Ok(sa) = jwt.claims::<ServiceAccountClaims>() {
        let again: ServiceAccountClaims =
            serde_json::from_slice(&serde_json::to_vec(&sa).unwrap()).unwrap();
        assert_eq!(sa, again);
    }
    if let Ok(at) = jwt.claims::<AccessTokenClaims>() {
        let again: AccessTokenClaims =
            serde_json::from_slice(&serde_json::to_vec(&at).unwrap()).unwrap();
        assert_eq!(at, again);
    }
    let number = |name: &str| value.get(name).and_then(Value::as_i64);
    for now in [i64::MIN, 0, 1_800_000_000, i64::MAX] {
        let _ = wid_jose::check_time_window(now, number("nbf"), number("exp"), 300);
    }
}

fn signed(rest: &[u8]) {
    let [alg, p0, p1, xor, claims @ ..] = rest else {
        return;
    };
    let Ok(claims) = serde_json::from_slice::<Value>(claims) else {
        return;
    };
    if !claims.is_object() {
        return;
    }
    // What gets signed is the claims as serde_json encodes them: a float may not survive
    // encoding bit for bit, and an object whose first key is serde_json's private
    // `$serde_json::private::RawValue` token does not read back at all (decode then
    // refuses the token, which fails closed). Compare with what serde_json reads back.
    let Ok(encoded) = serde_json::from_slice::<Value>(&serde_json::to_vec(&claims).unwrap()) else {
        return;
    };
    let (key, other) = if alg & 1 == 0 {
        (&KEYS.rsa, &KEYS.ec)
    } else {
        (&KEYS.ec, &KEYS.rsa)
    };
    let params = HeaderParams {
        typ: Some("JWT".to_owned()),
        kid: None,
        x5t: alg & 2 != 0,
    };
    let token = key.sign_jwt(&claims, &params).expect("signing never fails");
    let jwt = match wid_jose::decode(&token) {
        Ok(jwt) => jwt,
        // Claims large enough to exceed the limit are refused, and only for that.
        Err(e) => {
            assert!(token.len() > wid_jose::MAX_TOKEN_LEN, "{e}: {token}");
            return;
        }
    };
    assert_eq!(jwt.header.alg, key.algorithm());
    assert_eq!(jwt.header.kid.as_deref(), Some(key.kid()));
    assert_eq!(jwt.claims::<Value>().unwrap(), encoded);
    claims_as_wid_reads_them(&jwt);
    jwt.verify(&key.verifying_key())
        .expect("a token verifies with the key that signed it");
    assert_eq!(
        jwt.verify(&other.verifying_key()),
        Err(wid_jose::JoseError::KeyMismatch)
    );

    let mut tampered = token.into_bytes();
    let at = usize::from(u16::from_le_bytes([*p0, *p1])) % tampered.len();
    tampered[at] ^= if *xor == 0 { 1 } else { *xor };
    let Ok(tampered) = String::from_utf8(tampered) else {
        return;
    };
    if let Ok(jwt) = wid_jose::decode(&tampered) {
        for k in verifiers() {
            assert!(
                jwt.verify(&k).is_err(),
                "a token changed at byte {at} still verifies: {tampered}"
            );
        }
    }
}
