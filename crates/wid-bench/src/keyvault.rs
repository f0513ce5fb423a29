//! The Key Vault data-plane benches: secret reads and writes, and RSA-2048 signatures made
//! by the service, each on a vault of the bench's own that it deletes afterwards.

use crate::{drive, Target};
use anyhow::{anyhow, bail, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wid_client::WidClient;

/// Key Vault Secrets Officer: set and get secrets.
const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
/// Key Vault Crypto Officer: create keys and use them.
const CRYPTO_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";

/// An RBAC vault the bench's service principal holds `role` on, reached by its own host name
/// as a Key Vault client reaches it, with a data-plane token.
struct BenchVault {
    client: WidClient,
    token: String,
    rg_path: String,
}

impl BenchVault {
    async fn new(target: &Target, role: &str) -> Result<Arc<BenchVault>> {
        let (rg, rg_path) = target.new_group().await?;
        let vault = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let sub = &target.subscription;
        let made = target.arm(
            Method::PUT,
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault}?api-version=2024-11-01"),
            Some(json!({"location": "eastus", "properties": {"tenantId": target.tenant, "sku": {"name": "standard"}, "enableRbacAuthorization": true}})),
        )
        .await?;
        let vault_uri = made["properties"]["vaultUri"]
            .as_str()
            .ok_or_else(|| anyhow!("no vault URI"))?
            .to_owned();
        let me = target
            .arm(
                Method::GET,
                format!("/v1.0/servicePrincipals/{}", target.client_id),
                None,
            )
            .await?;
        target.arm(
            Method::PUT,
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", uuid::Uuid::new_v4()),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                "principalId": me["id"], "principalType": "ServicePrincipal"}})),
        )
        .await?;
        // The vault host resolves to wid's own address, as the CLI pins it.
        let url = url::Url::parse(&vault_uri)?;
        let server = url::Url::parse(target.client.base_url())?;
        let port = server.port_or_known_default().unwrap_or(443);
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(
            server.host_str().unwrap_or("localhost"),
            port,
        ))?
        .next()
        .ok_or_else(|| anyhow!("cannot resolve {server}"))?;
        let client = WidClient::with_resolve(
            vault_uri.trim_end_matches('/'),
            &target.ca,
            &[(url.host_str().unwrap_or_default().to_owned(), addr)],
        )?;
        let token = target
            .client
            .token_with_secret(
                &target.tenant,
                &target.client_id,
                &target.client_secret,
                &format!("{}/.default", target.keyvault_resource),
            )
            .await?
            .access_token;
        Ok(Arc::new(BenchVault {
            client,
            token,
            rg_path,
        }))
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        Ok(self
            .client
            .arm(method, path, &self.token, body, &[])
            .await?
            .body
            .unwrap_or(Value::Null))
    }

    async fn delete(&self, target: &Target) -> Result<()> {
        target
            .arm(Method::DELETE, self.rg_path.clone(), None)
            .await?;
        Ok(())
    }
}

pub async fn secrets(target: Arc<Target>, concurrency: usize, seconds: u64) -> Result<()> {
    let v = BenchVault::new(&target, SECRETS_OFFICER).await?;
    v.call(
        Method::PUT,
        "/secrets/bench?api-version=7.5",
        Some(&json!({"value": "s3cret"})),
    )
    .await?;
    let get = {
        let v = v.clone();
        move |_: usize, _: u64| {
            let v = v.clone();
            async move {
                v.call(Method::GET, "/secrets/bench/?api-version=7.5", None)
                    .await
                    .is_ok()
            }
        }
    };
    drive(concurrency, Duration::from_secs(1), get.clone()).await;
    let mut report = drive(concurrency, Duration::from_secs(seconds), get).await;
    report.print(
        "GET secret (token verification + RBAC per request)",
        concurrency,
    );
    let set = {
        let v = v.clone();
        move |w: usize, seq: u64| {
            let v = v.clone();
            async move {
                let path = format!("/secrets/bench-w{w}?api-version=7.5");
                let body = json!({"value": format!("value {seq}")});
                v.call(Method::PUT, &path, Some(&body)).await.is_ok()
            }
        }
    };
    let mut report = drive(concurrency, Duration::from_secs(seconds), set).await;
    report.print("SET secret (durable)", concurrency);
    v.delete(&target).await
}

/// RS256 signatures of one RSA-2048 key, made by the service as CryptographyClient asks for
/// them, next to what this machine's cores sign with the same library in the same run.
pub async fn sign(target: Arc<Target>, concurrency: usize, seconds: u64) -> Result<()> {
    let v = BenchVault::new(&target, CRYPTO_OFFICER).await?;
    let key = v
        .call(
            Method::POST,
            "/keys/bench/create?api-version=7.6",
            Some(&json!({"kty": "RSA", "key_size": 2048})),
        )
        .await?;
    let kid = key["key"]["kid"]
        .as_str()
        .ok_or_else(|| anyhow!("no kid in {key}"))?;
    let version = kid.rsplit('/').next().unwrap_or_default();
    let path = Arc::new(format!("/keys/bench/{version}/sign?api-version=7.6"));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"wid-bench");
    let body = Arc::new(json!({"alg": "RS256", "value": B64.encode(digest.as_ref())}));
    // One signature checked by the service itself, so the bench measures real signatures.
    let signed = v.call(Method::POST, &path, Some(&body)).await?;
    let verified = v
        .call(
            Method::POST,
            &format!("/keys/bench/{version}/verify?api-version=7.6"),
            Some(&json!({"alg": "RS256", "digest": body["value"], "value": signed["value"]})),
        )
        .await?;
    if verified["value"] != json!(true) {
        bail!("the service does not verify its own signature: {verified}");
    }
    let op = {
        let v = v.clone();
        move |_: usize, _: u64| {
            let (v, path, body) = (v.clone(), path.clone(), body.clone());
            async move { v.call(Method::POST, &path, Some(&body)).await.is_ok() }
        }
    };
    drive(concurrency, Duration::from_secs(1), op.clone()).await;
    let mut report = drive(concurrency, Duration::from_secs(seconds), op).await;
    report.print(
        "sign RS256 with an RSA-2048 key (token verification + RBAC + signature per request)",
        concurrency,
    );
    let ceiling = sign_ceiling(seconds.min(5))?;
    println!(
        "RSA-2048 sign ceiling (aws-lc-rs, all cores): {ceiling:.0}/s; the service reaches {:.2} of it",
        report.rate() / ceiling
    );
    v.delete(&target).await
}

/// RSA-2048 PKCS#1 v1.5 SHA-256 signatures of a digest, on as many threads as the machine has
/// cores: the most any sign endpoint on this machine can answer.
fn sign_ceiling(seconds: u64) -> Result<f64> {
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::RsaKeyPair;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pair = Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow!("RSA keygen"))?);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"wid-bench");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let pair = pair.clone();
            std::thread::spawn(move || {
                let mut out = vec![0; pair.public_modulus_len()];
                let mut n = 0u64;
                while Instant::now() < deadline {
                    pair.sign_digest(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &digest, &mut out)
                        .expect("signs");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    Ok(total as f64 / start.elapsed().as_secs_f64())
}
