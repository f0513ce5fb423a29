//! The Key Vault data-plane benches: secret reads and writes, and RSA-2048 signatures made
//! by the service, each on a vault of the bench's own that it deletes afterwards.

use crate::{drive, drive_with, h1, per_second_on_all_cores, Report, Target};
use anyhow::{anyhow, bail, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use wid_client::WidClient;

/// Key Vault Secrets Officer: set and get secrets.
pub const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
/// Key Vault Crypto Officer: create keys and use them.
const CRYPTO_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";

/// An RBAC vault the bench's service principal holds `role` on, reached by its own host name
/// as a Key Vault client reaches it, with a data-plane token.
pub struct BenchVault {
    client: WidClient,
    pub token: String,
    rg_path: String,
    /// The vault's host name, what `Host` says (with the port) and TLS is checked against.
    pub host: String,
    pub host_and_port: String,
    pub addr: std::net::SocketAddr,
    pub tls: Arc<rustls::ClientConfig>,
}

impl BenchVault {
    pub async fn new(target: &Target, role: &str) -> Result<Arc<BenchVault>> {
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
        target.arm(
            Method::PUT,
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", uuid::Uuid::new_v4()),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                "principalId": target.object_id, "principalType": "ServicePrincipal"}})),
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
        let tls = wid_client::tls::client_config(wid_client::tls::Trust::Only(&[&target.ca]))
            .map_err(|e| anyhow!(e))?
            .with_no_client_auth();
        Ok(Arc::new(BenchVault {
            client,
            token,
            rg_path,
            host: url.host_str().unwrap_or_default().to_owned(),
            host_and_port: url[url::Position::BeforeHost..url::Position::AfterPort].to_owned(),
            addr,
            tls: Arc::new(tls),
        }))
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        Ok(self
            .client
            .arm(method, path, &self.token, body, &[])
            .await?
            .body
            .unwrap_or(Value::Null))
    }

    pub async fn delete(&self, target: &Target) -> Result<()> {
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
    let path = format!("/keys/bench/{version}/sign?api-version=7.6");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"wid-bench");
    let body = json!({"alg": "RS256", "value": B64.encode(digest.as_ref())});
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
    let request = h1::Request::json_post(&v.host_and_port, &path, &v.token, &body);
    let mut report = rate(&v, request, Expect::Signature, concurrency, seconds).await?;
    report.print(
        "sign RS256 with an RSA-2048 key (token check + RBAC + key lookup + signature per request)",
        concurrency,
    );
    let short = json!({"alg": "RS256", "value": B64.encode(&digest.as_ref()[1..])});
    let request = h1::Request::json_post(&v.host_and_port, &path, &v.token, &short);
    let mut refused = rate(&v, request, Expect::BadParameter, concurrency, seconds).await?;
    refused.print(
        "the same request refused before any RSA work (a digest one byte short, BadParameter)",
        concurrency,
    );
    v.delete(&target).await?;
    let ceiling = sign_ceiling(seconds.min(5))?;
    let achieved = report.rate();
    println!(
        "RSA-2048 sign ceiling (aws-lc-rs, all cores): {ceiling:.0}/s; the service reaches {:.2} of it",
        achieved / ceiling
    );
    // On shared cores the two costs add up, as in the exchange bench.
    let attainable = 1.0 / (1.0 / ceiling + 1.0 / refused.rate());
    println!(
        "with what the refused request costs, about {:.2} of the ceiling is attainable on this machine; the service reaches {:.2} of that",
        attainable / ceiling,
        achieved / attainable
    );
    Ok(())
}

/// What a sign request must be answered with.
#[derive(Clone, Copy)]
enum Expect {
    Signature,
    BadParameter,
}

impl Expect {
    fn met(self, status: u16, body: &[u8]) -> bool {
        let (wanted, marker) = match self {
            Expect::Signature => (200, &b"\"value\":\""[..]),
            Expect::BadParameter => (400, &b"BadParameter"[..]),
        };
        status == wanted && body.windows(marker.len()).any(|w| w == marker)
    }
}

/// One worker's kept-alive connection to the vault and the request it sends over and over,
/// through the bench's own HTTP/1.1 client (as the exchange bench), so the load generator
/// takes as little as it can of the cores it shares with the server.
struct Sender {
    vault: Arc<BenchVault>,
    request: Arc<h1::Request>,
    expect: Expect,
    connection: Option<h1::Connection>,
}

impl Sender {
    async fn send(mut self, _: u64) -> (Self, bool) {
        let ok = self.try_send().await.unwrap_or(false);
        if !ok {
            self.connection = None;
        }
        (self, ok)
    }

    async fn try_send(&mut self) -> Result<bool> {
        let connection = match &mut self.connection {
            Some(c) => c,
            None => {
                let v = &self.vault;
                self.connection
                    .insert(h1::Connection::open_at(&v.host, v.addr, v.tls.clone()).await?)
            }
        };
        let (status, body) = connection.send(&self.request).await?;
        Ok(self.expect.met(status, body))
    }
}

/// Requests per second after a one-second warm-up on the connections it opened.
async fn rate(
    v: &Arc<BenchVault>,
    request: h1::Request,
    expect: Expect,
    concurrency: usize,
    seconds: u64,
) -> Result<Report> {
    let request = Arc::new(request);
    let senders = (0..concurrency)
        .map(|_| Sender {
            vault: v.clone(),
            request: request.clone(),
            expect,
            connection: None,
        })
        .collect();
    let (warm, senders) = drive_with(senders, Duration::from_secs(1), Sender::send).await;
    if warm.errors > 0 {
        bail!(
            "{} of {} warm-up requests failed",
            warm.errors,
            warm.requests
        );
    }
    let (report, _) = drive_with(senders, Duration::from_secs(seconds), Sender::send).await;
    Ok(report)
}

/// RSA-2048 PKCS#1 v1.5 SHA-256 signatures of a digest, on as many threads as the machine has
/// cores: the most any sign endpoint on this machine can answer.
fn sign_ceiling(seconds: u64) -> Result<f64> {
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
    let pair = Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow!("RSA keygen"))?);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"wid-bench");
    Ok(per_second_on_all_cores(seconds, move || {
        let mut out = vec![0; pair.public_modulus_len()];
        pair.sign_digest(&RSA_PKCS1_SHA256, &digest, &mut out)
            .expect("signs");
    }))
}
