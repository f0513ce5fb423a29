//! PEM keys as the management plane receives them: a cluster's
//! `serviceAccountPublicKeys` and `issuerKeys` bodies carry PEM that a tenant's user writes.
//! Parsing must not panic, and an accepted key must re-export to a PEM that parses to the
//! same key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wid_jose::{pem_encode, VerifyingKey};

fuzz_target!(|data: &[u8]| {
    let Ok(pem) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = VerifyingKey::from_pem(pem) {
        let again = VerifyingKey::from_pem(&pem_encode("PUBLIC KEY", key.spki_der()))
            .expect("a public key wid exported parses");
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.algorithm(), key.algorithm());
    }
    let _ = wid_jose::SigningKey::from_pem(pem);
});
