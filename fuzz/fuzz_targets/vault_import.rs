//! What a vault's caller imports: a certificate's value (PEM, or base64 of PEM or of a PFX
//! opened with a password), a certificate policy's JSON, and a key as a private JWK. Parsing
//! must not panic; an accepted certificate must describe itself and re-export to a secret
//! value that imports back to the same certificate, and an accepted key must read back from
//! its PKCS#8 as the same public key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wid_core::vault_certificate::{self as vc, Policy, PolicyIn};
use wid_core::vault_key;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 4 {
        0 => certificate(text, None),
        1 => certificate(text, Some("pfx-password")),
        2 => {
            if let Ok(jwk) = serde_json::from_str::<vault_key::PrivateJwk>(text) {
                if let Ok(m) = vault_key::import(&jwk, false) {
                    let again =
                        vault_key::from_pkcs8(&m.pkcs8).expect("an imported key reads back");
                    assert_eq!(again.public, m.public);
                }
            }
        }
        _ => {
            if let Ok(p) = serde_json::from_str::<PolicyIn>(text) {
                let _ = Policy::resolve(p);
            }
        }
    }
});

fn certificate(value: &str, password: Option<&str>) {
    let Ok(imported) = vc::import(value, password) else {
        return;
    };
    vc::facts(&imported.material.der).expect("an imported certificate describes itself");
    let pem = vc::secret_value("application/x-pem-file", &imported.material)
        .expect("an imported certificate re-exports as PEM");
    let again = vc::import(&pem, None).expect("wid's PEM export imports back");
    assert_eq!(again.material.der, imported.material.der);
}
