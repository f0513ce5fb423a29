//! The key-encryption key (KEK) and its rotation. Everything wid keeps sealed (token-signing
//! keys, cluster issuer keys, cluster kubeconfigs, vault data keys, the local CA's key) is
//! sealed under the current KEK; earlier KEKs stay in the ring only to open what has not
//! been re-sealed yet.
//!
//! Rotation without downtime: `POST …/providers/Microsoft.Wid/rotateKeyEncryptionKey` makes
//! a new KEK current (persisted before it is used), then re-seals every value while requests
//! continue; at every moment each value opens with one key of the ring. A start re-seals
//! anything left over, so rotating by hand (new `kek` file or `WID_KEK`, the old key in
//! `kek.previous` or `WID_KEK_PREVIOUS`) and restarting works too. Vault data keys are
//! re-wrapped, not re-generated: secret values are never re-encrypted.

use crate::config::ServerConfig;
use crate::datadir;
use crate::error::ServerError;
use base64::Engine;
use wid_core::seal::{Kek, KeyRing, SealError};
use wid_store::{SealedValue, Store};
use zeroize::Zeroizing;

/// Environment variable that supplies the KEK (base64 of 32 bytes) instead of the file.
pub const KEK_ENV: &str = "WID_KEK";
/// Earlier KEKs (base64, comma-separated) that still open what they sealed.
pub const PREVIOUS_ENV: &str = "WID_KEK_PREVIOUS";
const PREVIOUS_FILE: &str = "kek.previous";

pub const SIGNING_KEY_PURPOSE: &str = "tenant-signing-key";
pub const ISSUER_KEY_PURPOSE: &str = "cluster-issuer-key";
pub const CA_KEY_PURPOSE: &str = "local-ca-key";
pub const KUBECONFIG_PURPOSE: &str = "cluster-kubeconfig";

/// Binds a vault's sealed data key to its vault.
pub fn vault_data_key_purpose(vault: &str) -> String {
    format!("vault-data-key:{}", vault.to_ascii_lowercase())
}

fn purpose(which: &SealedValue) -> String {
    match which {
        SealedValue::SigningKey { .. } => SIGNING_KEY_PURPOSE.to_owned(),
        SealedValue::IssuerKey { .. } => ISSUER_KEY_PURPOSE.to_owned(),
        SealedValue::VaultDataKey { vault } => vault_data_key_purpose(vault),
        SealedValue::ClusterKubeconfig { .. } => KUBECONFIG_PURPOSE.to_owned(),
    }
}

/// The ring in use, swapped whole on rotation.
pub type SharedKeyRing = crate::swap::Swap<KeyRing>;

impl SharedKeyRing {
    pub fn seal(&self, plaintext: &[u8], purpose: &str) -> Result<Vec<u8>, SealError> {
        self.get().seal(plaintext, purpose)
    }

    pub fn open(&self, sealed: &[u8], purpose: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        self.get().open(sealed, purpose)
    }
}

fn decode(text: &str, what: &str) -> Result<Kek, ServerError> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| ServerError::Config(format!("{what} is not base64")))?,
    );
    Ok(Kek::from_bytes(&bytes)?)
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The current KEK (from `WID_KEK`, else the `kek` file, created on first start) and the
/// earlier ones (`WID_KEK_PREVIOUS`, else `kek.previous`, one per line).
pub fn load(config: &ServerConfig) -> Result<KeyRing, ServerError> {
    let previous_text = match std::env::var(PREVIOUS_ENV) {
        Ok(v) => v.replace(',', "\n"),
        Err(_) => match std::fs::read_to_string(config.data_dir.join(PREVIOUS_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(ServerError::io("reading kek.previous")(e)),
        },
    };
    let previous = previous_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| decode(l, "an earlier KEK"))
        .collect::<Result<Vec<_>, _>>()?;
    if let Ok(b64) = std::env::var(KEK_ENV) {
        return Ok(KeyRing::new(decode(&b64, KEK_ENV)?, previous));
    }
    let path = config.data_dir.join(datadir::KEK_FILE);
    let current = match std::fs::read_to_string(&path) {
        Ok(text) => decode(&text, &path.display().to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (kek, bytes) = Kek::generate()?;
            datadir::write_private(&path, encode(&bytes).as_bytes())
                .map_err(ServerError::io("writing the KEK"))?;
            kek
        }
        Err(e) => return Err(ServerError::io("reading the KEK")(e)),
    };
    Ok(KeyRing::new(current, previous))
}

/// Re-seals under the current KEK every value sealed under an earlier one; returns how many.
pub async fn reseal(
    store: &Store,
    ring: &KeyRing,
    config: &ServerConfig,
) -> Result<usize, ServerError> {
    let mut count = 0;
    for (which, sealed) in store.sealed_values().await? {
        if ring.is_current(&sealed) {
            continue;
        }
        let purpose = purpose(&which);
        let plain = ring.open(&sealed, &purpose)?;
        let fresh = ring.seal(&plain, &purpose)?;
        if store.replace_sealed(&which, &sealed, &fresh).await? {
            count += 1;
        }
    }
    let ca_key = config.data_dir.join(datadir::CA_KEY);
    if let Ok(sealed) = std::fs::read(&ca_key) {
        if !ring.is_current(&sealed) {
            let plain = ring.open(&sealed, CA_KEY_PURPOSE)?;
            datadir::write_private(&ca_key, &ring.seal(&plain, CA_KEY_PURPOSE)?)
                .map_err(ServerError::io("re-sealing the CA key"))?;
            count += 1;
        }
    }
    Ok(count)
}

/// Makes a new KEK current, then re-seals everything under it. The new key is on disk,
/// and the old one among the previous keys, before anything is sealed with it.
pub async fn rotate(
    shared: &SharedKeyRing,
    store: &Store,
    config: &ServerConfig,
) -> Result<usize, ServerError> {
    if std::env::var(KEK_ENV).is_ok() {
        return Err(ServerError::Config(format!(
            "the KEK comes from {KEK_ENV}: rotate by setting {KEK_ENV} to a new key and {PREVIOUS_ENV} to the old one, then restart"
        )));
    }
    let kek_path = config.data_dir.join(datadir::KEK_FILE);
    let previous_path = config.data_dir.join(PREVIOUS_FILE);
    let old_text =
        std::fs::read_to_string(&kek_path).map_err(ServerError::io("reading the KEK"))?;
    let mut previous = std::fs::read_to_string(&previous_path).unwrap_or_default();
    if !previous.lines().any(|l| l.trim() == old_text.trim()) {
        previous.push_str(old_text.trim());
        previous.push('\n');
        datadir::write_private(&previous_path, previous.as_bytes())
            .map_err(ServerError::io("writing kek.previous"))?;
    }
    let (_, bytes) = Kek::generate()?;
    datadir::write_private(&kek_path, encode(&bytes).as_bytes())
        .map_err(ServerError::io("writing the KEK"))?;
    let ring = load(config)?;
    shared.replace(load(config)?);
    reseal(store, &ring, config).await
}
