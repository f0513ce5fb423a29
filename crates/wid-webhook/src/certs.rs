//! A serving certificate the webhook manages itself, as the reference's cert rotator does:
//! a CA and a leaf for the webhook's Service, kept in a Secret that every replica shares,
//! the CA published in the MutatingWebhookConfiguration's `caBundle`, and the leaf re-issued
//! before it expires. Replicas serve whatever the Secret holds, so they agree on one CA.
//! Or, with rotation disabled, a certificate from files that someone else renews.

use crate::kube::{KubeClient, KubeError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The leaf's expiry, kept beside it so nothing has to parse X.509 to decide on renewal.
const NOT_AFTER_ANNOTATION: &str = "wid.io/not-after";
const CA_YEARS: i64 = 10;

pub struct SelfManaged {
    pub client: Arc<KubeClient>,
    pub namespace: String,
    pub secret: String,
    pub service: String,
    pub webhook_configuration: String,
    pub leaf_lifetime: Duration,
}

#[derive(Clone, Default, PartialEq, Eq)]
struct Material {
    ca_cert: String,
    ca_key: String,
    cert: String,
    key: String,
    not_after: i64,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn cert_error(e: impl std::fmt::Display) -> KubeError {
    KubeError::Http("serving certificate".into(), e.to_string())
}

fn at(unix: i64) -> Result<time::OffsetDateTime, KubeError> {
    time::OffsetDateTime::from_unix_timestamp(unix).map_err(cert_error)
}

fn ca_params(issued: i64) -> Result<CertificateParams, KubeError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "wid webhook CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = at(issued - 300)?;
    params.not_after = at(issued + CA_YEARS * 365 * 86_400)?;
    Ok(params)
}

impl SelfManaged {
    fn names(&self) -> Vec<String> {
        let (s, ns) = (&self.service, &self.namespace);
        vec![
            format!("{s}.{ns}.svc"),
            format!("{s}.{ns}.svc.cluster.local"),
            format!("{s}.{ns}"),
            s.clone(),
        ]
    }

    /// A leaf for the Service, signed by the CA (a new CA when `ca` is `None`).
    fn issue(&self, ca: Option<(&str, &str)>) -> Result<Material, KubeError> {
        let issued = now();
        let (ca_cert_pem, ca_key) = match ca {
            Some((cert, key)) => (cert.to_owned(), KeyPair::from_pem(key).map_err(cert_error)?),
            None => {
                let key = KeyPair::generate().map_err(cert_error)?;
                let cert = ca_params(issued)?.self_signed(&key).map_err(cert_error)?;
                (cert.pem(), key)
            }
        };
        // The CA object that signs is rebuilt from its key and name; the published CA
        // certificate stays the one first written.
        let signer = ca_params(issued)?
            .self_signed(&ca_key)
            .map_err(cert_error)?;
        let leaf_key = KeyPair::generate().map_err(cert_error)?;
        let mut params = CertificateParams::new(self.names()).map_err(cert_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, self.names()[0].clone());
        let not_after = issued + self.leaf_lifetime.as_secs() as i64;
        params.not_before = at(issued - 60)?;
        params.not_after = at(not_after)?;
        let leaf = params
            .signed_by(&leaf_key, &signer, &ca_key)
            .map_err(cert_error)?;
        Ok(Material {
            ca_cert: ca_cert_pem,
            ca_key: ca_key.serialize_pem(),
            cert: leaf.pem(),
            key: leaf_key.serialize_pem(),
            not_after,
        })
    }

    fn secret_path(&self) -> String {
        format!(
            "/api/v1/namespaces/{}/secrets/{}",
            self.namespace, self.secret
        )
    }

    fn decode(secret: &Value) -> Option<Material> {
        let field = |k: &str| -> Option<String> {
            String::from_utf8(STANDARD.decode(secret["data"][k].as_str()?).ok()?).ok()
        };
        Some(Material {
            ca_cert: field("ca.crt")?,
            ca_key: field("ca.key")?,
            cert: field("tls.crt")?,
            key: field("tls.key")?,
            not_after: secret["metadata"]["annotations"][NOT_AFTER_ANNOTATION]
                .as_str()?
                .parse()
                .ok()?,
        })
    }

    /// The Secret's material, renewed and written back when the leaf has less than a fifth
    /// of its life left. Of two replicas renewing at once, the second write fails on the
    /// resource version and that replica reads the winner's.
    async fn current(&self) -> Result<Material, KubeError> {
        for _ in 0..3 {
            let (status, secret) = self
                .client
                .send_json(reqwest::Method::GET, &self.secret_path(), None, "")
                .await?;
            let existing = (status == 200).then(|| Self::decode(&secret)).flatten();
            let margin = self.leaf_lifetime.as_secs() as i64 / 5;
            if let Some(m) = &existing {
                if m.not_after - now() > margin {
                    return Ok(m.clone());
                }
            }
            let fresh = self.issue(
                existing
                    .as_ref()
                    .map(|m| (m.ca_cert.as_str(), m.ca_key.as_str())),
            )?;
            let data = json!({
                "ca.crt": STANDARD.encode(&fresh.ca_cert), "ca.key": STANDARD.encode(&fresh.ca_key),
                "tls.crt": STANDARD.encode(&fresh.cert), "tls.key": STANDARD.encode(&fresh.key),
            });
            let mut body = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": self.secret, "namespace": self.namespace,
                    "annotations": {NOT_AFTER_ANNOTATION: fresh.not_after.to_string()}},
                "data": data});
            let (method, path) = if status == 200 {
                body["metadata"]["resourceVersion"] = secret["metadata"]["resourceVersion"].clone();
                (reqwest::Method::PUT, self.secret_path())
            } else {
                (
                    reqwest::Method::POST,
                    format!("/api/v1/namespaces/{}/secrets", self.namespace),
                )
            };
            match self
                .client
                .send_json(method, &path, Some(&body), "application/json")
                .await?
            {
                (200 | 201, _) => return Ok(fresh),
                (409, _) => continue,
                (status, body) => {
                    return Err(KubeError::Status(
                        path,
                        status,
                        body["message"].as_str().unwrap_or_default().to_owned(),
                    ))
                }
            }
        }
        Err(KubeError::Http(
            self.secret_path(),
            "kept losing the race to update the secret".into(),
        ))
    }

    /// Sets every webhook's `caBundle` of the configuration to the CA, if it differs.
    async fn publish_ca(&self, ca_pem: &str) -> Result<(), KubeError> {
        let path = format!(
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{}",
            self.webhook_configuration
        );
        let (status, config) = self
            .client
            .send_json(reqwest::Method::GET, &path, None, "")
            .await?;
        if status != 200 {
            return Err(KubeError::Status(
                path,
                status,
                config["message"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        let bundle = STANDARD.encode(ca_pem);
        let ops: Vec<Value> = config["webhooks"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, w)| w["clientConfig"]["caBundle"].as_str() != Some(bundle.as_str()))
            .map(|(i, _)| json!({"op": "add", "path": format!("/webhooks/{i}/clientConfig/caBundle"), "value": bundle}))
            .collect();
        if ops.is_empty() {
            return Ok(());
        }
        let (status, body) = self
            .client
            .send_json(
                reqwest::Method::PATCH,
                &path,
                Some(&Value::Array(ops)),
                "application/json-patch+json",
            )
            .await?;
        if status != 200 {
            return Err(KubeError::Status(
                path,
                status,
                body["message"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        Ok(())
    }

    /// A server configuration serving the managed certificate, kept current in the
    /// background.
    pub async fn start(
        self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<Arc<rustls::ServerConfig>, KubeError> {
        let material = self.current().await?;
        self.publish_ca(&material.ca_cert).await?;
        let resolver = Arc::new(Resolver(RwLock::new(certified(&material)?)));
        let config = serving_config(resolver.clone(), versions)?;
        let check_every =
            (self.leaf_lifetime / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        tokio::spawn(async move {
            let mut served = material;
            loop {
                tokio::time::sleep(check_every).await;
                match self.current().await {
                    Ok(m) if m != served => {
                        if m.ca_cert != served.ca_cert {
                            if let Err(e) = self.publish_ca(&m.ca_cert).await {
                                tracing::warn!(error = %e, "publishing the webhook CA failed");
                            }
                        }
                        match certified(&m) {
                            Ok(key) => {
                                *resolver.0.write().unwrap_or_else(|e| e.into_inner()) = key;
                                tracing::info!(
                                    not_after = m.not_after,
                                    "serving a renewed certificate"
                                );
                                served = m;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "the renewed certificate is unusable")
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "renewing the serving certificate failed"),
                }
            }
        });
        Ok(config)
    }
}

/// A certificate and key from files (`--tls-cert`/`--tls-key`, or `tls.crt`/`tls.key` of
/// `--webhook-cert-dir` with rotation disabled), served again whenever the files change, as
/// they do when cert-manager renews the Secret the kubelet mounts there.
pub struct FromFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub check_every: Duration,
}

impl FromFiles {
    fn read(&self) -> Result<Material, KubeError> {
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path)
                .map_err(|e| KubeError::Http(path.display().to_string(), e.to_string()))
        };
        Ok(Material {
            cert: read(&self.cert)?,
            key: read(&self.key)?,
            ..Material::default()
        })
    }

    pub fn start(
        self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Result<Arc<rustls::ServerConfig>, KubeError> {
        let material = self.read()?;
        let resolver = Arc::new(Resolver(RwLock::new(certified(&material)?)));
        let config = serving_config(resolver.clone(), versions)?;
        tokio::spawn(async move {
            let mut served = material;
            loop {
                tokio::time::sleep(self.check_every).await;
                // A half-written pair fails to parse and is tried again at the next check.
                match self.read().and_then(|m| Ok((certified(&m)?, m))) {
                    Ok((key, m)) if m != served => {
                        *resolver.0.write().unwrap_or_else(|e| e.into_inner()) = key;
                        tracing::info!(cert = %self.cert.display(), "serving the renewed certificate");
                        served = m;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "reading the serving certificate failed"),
                }
            }
        });
        Ok(config)
    }
}

/// The HTTPS configuration both certificate sources serve through.
fn serving_config(
    resolver: Arc<Resolver>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<rustls::ServerConfig>, KubeError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(cert_error)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn certified(m: &Material) -> Result<Arc<CertifiedKey>, KubeError> {
    let chain = rustls_pemfile::certs(&mut m.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(cert_error)?;
    let key = rustls_pemfile::private_key(&mut m.key.as_bytes())
        .map_err(cert_error)?
        .ok_or_else(|| cert_error("no private key"))?;
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key).map_err(cert_error)?;
    Ok(Arc::new(CertifiedKey::new(chain, signer)))
}

#[derive(Debug)]
struct Resolver(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}
