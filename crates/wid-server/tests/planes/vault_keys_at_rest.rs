//! No private key material of a vault's keys reaches wid's files or its log: keys made by
//! `create` and keys imported as JWKs with their private parts leave only sealed bytes in
//! the database (and its WAL) and nothing in the log, at the most verbose level.

use super::authz::{assign, send, KV_ADMIN};
use super::Wid;
use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// The log, as `wid up` would write it, kept in memory.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Byte strings that must appear nowhere: the PKCS#8 DER, each private member's bytes and
/// its base64url, and the DER in standard base64.
fn needles(pkcs8: &[u8], members: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("PKCS#8 DER".to_owned(), pkcs8.to_vec()),
        (
            "PKCS#8 base64".to_owned(),
            STANDARD.encode(pkcs8).into_bytes(),
        ),
    ];
    for (name, bytes) in members {
        out.push((format!("{name} bytes"), bytes.clone()));
        out.push((format!("{name} base64url"), B64.encode(bytes).into_bytes()));
    }
    out
}

/// An RSA-2048 key as a JWK with its private parts, and what must not be stored.
fn rsa_jwk() -> (Value, Vec<(String, Vec<u8>)>) {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_ref()).unwrap();
    let k = pkcs1::RsaPrivateKey::try_from(info.private_key).unwrap();
    let b = |u: pkcs1::UintRef| u.as_bytes().to_vec();
    let members = [
        ("d", b(k.private_exponent)),
        ("p", b(k.prime1)),
        ("q", b(k.prime2)),
        ("dp", b(k.exponent1)),
        ("dq", b(k.exponent2)),
        ("qi", b(k.coefficient)),
    ];
    let mut jwk = json!({"kty": "RSA", "n": B64.encode(k.modulus.as_bytes()),
        "e": B64.encode(k.public_exponent.as_bytes())});
    for (name, bytes) in &members {
        jwk[name] = B64.encode(bytes).into();
    }
    (jwk, needles(der.as_ref(), &members))
}

/// A P-256 key as a JWK with its private part, and what must not be stored.
fn ec_jwk() -> (Value, Vec<(String, Vec<u8>)>) {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let d = AsBigEndian::<aws_lc_rs::encoding::EcPrivateKeyBin>::as_be_bytes(&pair.private_key())
        .unwrap()
        .as_ref()
        .to_vec();
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": B64.encode(&point[1..33]),
        "y": B64.encode(&point[33..]), "d": B64.encode(&d)});
    let pkcs8 = pair.to_pkcs8v1().unwrap();
    (jwk, needles(pkcs8.as_ref(), &[("d", d)]))
}

/// The start of a PKCS#8 `PrivateKeyInfo` after its length: version 0 and the algorithm.
/// A public key (SubjectPublicKeyInfo) has no version, so these mark private keys only.
const PKCS8_MARKERS: &[(&str, &[u8])] = &[
    (
        "RSA PKCS#8",
        &[
            0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
            0x01, 0x01,
        ],
    ),
    (
        "EC PKCS#8",
        &[
            0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        ],
    ),
];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file of the data directory, by name.
fn files(wid: &Wid) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(&wid.dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn assert_absent(place: &str, hay: &[u8], needles: &[(String, Vec<u8>)]) {
    for (what, needle) in needles {
        assert!(!contains(hay, needle), "{what} found in {place}");
    }
    for (what, marker) in PKCS8_MARKERS {
        assert!(!contains(hay, marker), "{what} found in {place}");
    }
}

#[tokio::test]
async fn no_private_key_material_reaches_the_files_or_the_log() {
    let log = Log::default();
    let writer = log.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("the only subscriber of this process");

    let wid = Wid::start().await;
    wid.group("rg").await;
    let vault = wid.rbac_vault("rg", "kv-rest").await;
    let admin = wid.creds.object_id.clone();
    assign(
        &wid,
        &vault,
        "aaaaaaaa-0000-4000-8000-0000000000c1",
        KV_ADMIN,
        &admin,
    )
    .await;
    let port = wid.server.as_ref().unwrap().local_addr.port();
    let suffix = wid.info().dns_suffix.clone();
    let token = wid
        .token_for(&format!("https://vault.{suffix}:{port}/.default"))
        .await;
    let host = format!("kv-rest.vault.{suffix}:{port}");
    let kv = |method: &'static str, path: String, body: Value| {
        let (host, token) = (host.clone(), token.clone());
        let wid = &wid;
        async move {
            let path = format!("{path}?api-version=7.5");
            send(wid, &host, method, &path, &token, &body.to_string()).await
        }
    };

    for (name, body) in [
        ("rsa", json!({"kty": "RSA", "key_size": 2048})),
        ("ec", json!({"kty": "EC", "crv": "P-384"})),
    ] {
        let (status, made) = kv("POST", format!("/keys/{name}/create"), body).await;
        assert_eq!(status, 200, "{made}");
    }
    let mut secret = Vec::new();
    for (name, (jwk, needles)) in [("rsa-imported", rsa_jwk()), ("ec-imported", ec_jwk())] {
        let (status, made) = kv("PUT", format!("/keys/{name}"), json!({"key": jwk})).await;
        assert_eq!(status, 200, "{made}");
        // The keys are usable: the server holds their private halves somewhere.
        let alg = if name.starts_with("rsa") {
            "PS256"
        } else {
            "ES256"
        };
        let (status, signed) = kv(
            "POST",
            format!("/keys/{name}//sign"),
            json!({"alg": alg, "value": B64.encode([7u8; 32])}),
        )
        .await;
        assert_eq!(status, 200, "{signed}");
        secret.extend(needles);
    }
    let (status, listed) = kv("GET", "/keys".to_owned(), Value::Null).await;
    assert_eq!(status, 200, "{listed}");

    // While wid runs, the latest writes are in the WAL; after it stops, in the database.
    let running = files(&wid);
    assert!(running.iter().any(|(name, _)| name == "wid.db-wal"));
    for (name, bytes) in &running {
        assert_absent(name, bytes, &secret);
    }
    let (dir, _) = wid.stop().await;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let name = entry.file_name().into_string().unwrap();
            // SQLite removes its WAL and shared memory as the last connection closes.
            if let Ok(bytes) = std::fs::read(entry.path()) {
                assert_absent(&name, &bytes, &secret);
            }
        }
    }
    let log = log.0.lock().unwrap().clone();
    assert!(
        contains(&log, b"/keys/rsa-imported"),
        "the log saw the requests"
    );
    assert_absent("the log", &log, &secret);
}
