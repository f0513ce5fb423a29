//! TLS for every plane. Clients of Azure refuse plain HTTP for bearer tokens, so wid serves
//! HTTPS even on a laptop: either with the operator's certificate, or with a local CA kept in
//! the data directory. The CA persists (clients trust its `ca.pem`); the serving certificate
//! is issued afresh at every start for exactly the names this start serves, so changing
//! host names or the DNS suffix never leaves a stale certificate behind.

use crate::config::ServerConfig;
use crate::datadir;
use crate::error::ServerError;
use crate::keyring::CA_KEY_PURPOSE;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::PathBuf;
use std::sync::Arc;
use wid_core::seal::KeyRing;

const DAY: i64 = 86_400;

pub struct TlsMaterial {
    pub server_config: Arc<rustls::ServerConfig>,
    /// The CA file clients should trust, when wid runs its own CA.
    pub ca_bundle: Option<PathBuf>,
}

pub fn load(config: &ServerConfig, kek: &KeyRing, now: i64) -> Result<TlsMaterial, ServerError> {
    let (chain, key, ca_bundle) = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let (chain, key) = operator_material(cert, key)?;
            (chain, key, None)
        }
        (None, None) => {
            let (chain, key) = local_ca_material(config, kek, now)?;
            (chain, key, Some(config.data_dir.join(datadir::CA_CERT)))
        }
        _ => {
            return Err(ServerError::Config(
                "--tls-cert and --tls-key must be given together".to_owned(),
            ))
        }
    };
    Ok(TlsMaterial {
        server_config: server_config(chain, key)?,
        ca_bundle,
    })
}

/// TLS 1.2+ with aws-lc-rs, offering HTTP/2 and HTTP/1.1.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(server_config))
}

fn operator_material(
    cert: &PathBuf,
    key: &PathBuf,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ServerError> {
    let cert_pem =
        std::fs::read(cert).map_err(ServerError::io(format!("reading {}", cert.display())))?;
    let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(ServerError::Tls(format!(
            "{} holds no certificate",
            cert.display()
        )));
    }
    let key_pem =
        std::fs::read(key).map_err(ServerError::io(format!("reading {}", key.display())))?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ServerError::Tls(format!("{} holds no private key", key.display())))?;
    Ok((chain, key))
}

fn ca_params(now: i64) -> Result<CertificateParams, ServerError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "wid local CA");
    dn.push(DnType::OrganizationName, "wid");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, now - DAY, now + 3650 * DAY);
    Ok(params)
}

fn set_validity(params: &mut CertificateParams, from: i64, to: i64) {
    let (y, m, d) = wid_core::timefmt::ymd(from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = wid_core::timefmt::ymd(to);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

fn tls_err(e: rcgen::Error) -> ServerError {
    ServerError::Tls(e.to_string())
}

/// Names the serving certificate covers: loopback, the configured host names, and the
/// service hosts under the DNS suffix (vault hosts must be subdomains of it).
pub fn serving_names(config: &ServerConfig) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(config.hostnames.iter().cloned());
    let ip = config.listen.ip();
    if !ip.is_unspecified() {
        names.push(ip.to_string());
    }
    if let Some(host) = url::Url::parse(&config.effective_public_url())
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
    {
        names.push(host);
    }
    let suffix = &config.dns_suffix;
    names.extend([
        suffix.clone(),
        format!("*.{suffix}"),
        // Named as well as covered by the wildcard: Graph's host is a fixed name clients
        // are configured with (az's microsoftGraphResourceId), so it should not depend on
        // how a client treats wildcards under a suffix like `localhost`.
        format!("graph.{suffix}"),
        format!("*.vault.{suffix}"),
    ]);
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.to_ascii_lowercase()));
    names
}

fn local_ca_material(
    config: &ServerConfig,
    kek: &KeyRing,
    now: i64,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ServerError> {
    let cert_path = config.data_dir.join(datadir::CA_CERT);
    let key_path = config.data_dir.join(datadir::CA_KEY);
    let ca_key = match std::fs::read(&key_path) {
        Ok(sealed) => {
            let pem = kek.open(&sealed, CA_KEY_PURPOSE)?;
            let pem = std::str::from_utf8(&pem)
                .map_err(|_| ServerError::Tls("CA key is not PEM".into()))?;
            KeyPair::from_pem(pem).map_err(tls_err)?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = KeyPair::generate().map_err(tls_err)?;
            let cert = ca_params(now)?.self_signed(&key).map_err(tls_err)?;
            let sealed = kek.seal(key.serialize_pem().as_bytes(), CA_KEY_PURPOSE)?;
            datadir::write_private(&key_path, &sealed)
                .map_err(ServerError::io("writing the CA key"))?;
            datadir::write_atomic(&cert_path, cert.pem().as_bytes(), 0o644)
                .map_err(ServerError::io("writing ca.pem"))?;
            key
        }
        Err(e) => return Err(ServerError::io("reading the CA key")(e)),
    };
    if !cert_path.exists() {
        return Err(ServerError::Tls(format!(
            "{} is missing but the CA key exists; restore it or remove {} to start a new CA",
            cert_path.display(),
            key_path.display()
        )));
    }
    // Signing needs only the CA's name and key; its published certificate stays as it is.
    let issuer = ca_params(now)?.self_signed(&ca_key).map_err(tls_err)?;
    let mut leaf = CertificateParams::new(serving_names(config)).map_err(tls_err)?;
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name.push(DnType::CommonName, "wid");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    set_validity(&mut leaf, now - DAY, now + 397 * DAY);
    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let cert = leaf
        .signed_by(&leaf_key, &issuer, &ca_key)
        .map_err(tls_err)?;
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der())
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok((vec![cert.der().clone()], key))
}
