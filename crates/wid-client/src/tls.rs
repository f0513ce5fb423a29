//! How every wid component that calls out over HTTPS sets up TLS: aws-lc-rs, TLS 1.2 and
//! 1.3 only, and an explicit set of trusted roots. One place, so that trust is decided the
//! same way by the CLI, the issuer fetcher, the webhook's API client and the proxy.

use rustls::client::WantsClientCert;
use rustls::{ClientConfig, ConfigBuilder, RootCertStore};
use std::sync::Arc;

/// Which certificates a client trusts.
pub enum Trust<'a> {
    /// Only these PEM bundles: a client of wid itself, which knows its CA.
    Only(&'a [&'a [u8]]),
    /// The system's roots and these PEM bundles: a client of servers on the open internet
    /// (OIDC issuers, API servers, a remote identity plane) that may also be private.
    SystemAnd(&'a [&'a [u8]]),
}

/// The roots for `trust`; a PEM bundle that does not parse is an error, never skipped.
pub fn roots(trust: Trust<'_>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let bundles = match trust {
        Trust::Only(bundles) => bundles,
        Trust::SystemAnd(bundles) => {
            // A system store with a certificate rustls rejects still leaves the others usable.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            bundles
        }
    };
    for pem in bundles {
        for cert in rustls_pemfile::certs(&mut &pem[..]) {
            let cert = cert.map_err(|e| format!("CA bundle: {e}"))?;
            roots.add(cert).map_err(|e| format!("CA bundle: {e}"))?;
        }
    }
    if roots.is_empty() {
        return Err("no trusted CA certificate: the CA bundle holds none".to_owned());
    }
    Ok(roots)
}

/// A client configuration for `trust`, before the choice of client certificate.
pub fn client_config(
    trust: Trust<'_>,
) -> Result<ConfigBuilder<ClientConfig, WantsClientCert>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(trust)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_trusts_nothing_and_says_so() {
        let err = roots(Trust::Only(&[b"not a certificate"])).unwrap_err();
        assert!(err.contains("no trusted CA"), "{err}");
    }

    #[test]
    fn a_damaged_certificate_is_an_error() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(roots(Trust::Only(&[pem]))
            .unwrap_err()
            .starts_with("CA bundle"));
    }
}
