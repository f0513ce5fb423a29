//! The lean reference `wid-bench peers` measures wid against: axum on hyper with rustls, on
//! every core, doing per request only what the operation cannot do without. `/token` verifies
//! the form's `client_assertion` (one RS256 verify) and signs an access token (one RS256
//! sign); `/secret` verifies the bearer token (one RS256 verify); `/mutate-v1-pod` answers an
//! AdmissionReview with the webhook's own mutation, its service account fixed in memory. No
//! logging, metrics, limits or lookups: the floor of "HTTP + TLS + the work" on this machine.

use anyhow::{anyhow, Context, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;

/// What the reference is given in its directory: `cert.pem`/`key.pem` to serve,
/// `verify.der` (the SPKI that assertions and bearer tokens are signed for) and `sign.der`
/// (the PKCS#8 key access tokens are signed with).
#[derive(clap::Args)]
pub struct LeanArgs {
    #[arg(long)]
    dir: PathBuf,
}

struct Keys {
    verify: wid_jose::VerifyingKey,
    sign: wid_jose::SigningKey,
    webhook: wid_webhook::Config,
}

/// The one service account the reviews name, annotated as `webhook::fake_api` serves it.
struct Account;

impl wid_webhook::ServiceAccountLookup for Account {
    fn annotations(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, String> {
        Ok(Some(
            [(
                "azure.workload.identity/client-id".to_owned(),
                crate::webhook::CLIENT_ID.to_owned(),
            )]
            .into(),
        ))
    }
}

async fn mutate(State(keys): State<Arc<Keys>>, body: Bytes) -> Json<Value> {
    Json(wid_webhook::handle_review(&body, &keys.webhook, &Account))
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    std::fs::read(dir.join(name)).with_context(|| format!("reading {name}"))
}

/// Writes what [`serve`] reads to `dir`.
pub fn prepare(
    dir: &Path,
    cert_pem: &str,
    key_pem: &str,
    verify_spki: &[u8],
    sign_pkcs8: &[u8],
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in [
        ("cert.pem", cert_pem.as_bytes()),
        ("key.pem", key_pem.as_bytes()),
        ("verify.der", verify_spki),
        ("sign.der", sign_pkcs8),
    ] {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

async fn token(State(keys): State<Arc<Keys>>, body: Bytes) -> (StatusCode, Json<Value>) {
    let assertion = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "client_assertion")
        .map(|(_, v)| v.into_owned());
    let verified = assertion.as_deref().and_then(|a| {
        let jwt = wid_jose::decode(a).ok()?;
        jwt.verify(&keys.verify).ok()?;
        jwt.claims::<Value>().ok()
    });
    let Some(claims) = verified else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    };
    let issued = json!({"aud": "https://management.azure.com/", "sub": claims["sub"],
        "iss": "https://lean.example/", "iat": claims["iat"], "exp": claims["exp"]});
    match keys
        .sign
        .sign_jwt(&issued, &wid_jose::HeaderParams::default())
    {
        Ok(access_token) => (
            StatusCode::OK,
            Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": access_token})),
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "server_error"})),
        ),
    }
}

async fn secret(State(keys): State<Arc<Keys>>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
    let verified = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| wid_jose::decode(t).ok())
        .is_some_and(|jwt| jwt.verify(&keys.verify).is_ok());
    if !verified {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized"})),
        );
    }
    (
        StatusCode::OK,
        Json(
            json!({"value": "s3cr3t", "id": "https://lean.example/secrets/bench/1",
            "attributes": {"enabled": true}}),
        ),
    )
}

pub fn serve(args: LeanArgs) -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let keys = Arc::new(Keys {
        verify: wid_jose::VerifyingKey::from_spki_der(&read(&args.dir, "verify.der")?)?,
        sign: wid_jose::SigningKey::from_pkcs8_der(&read(&args.dir, "sign.der")?)?,
        webhook: crate::webhook::config(),
    });
    let cert_pem = read(&args.dir, "cert.pem")?;
    let key_pem = read(&args.dir, "key.pem")?;
    let chain = rustls_pemfile::certs(&mut cert_pem.as_slice()).collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())?
        .ok_or_else(|| anyhow!("key.pem holds no key"))?;
    let mut tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let app = Router::new()
        .route("/token", post(token))
        .route("/secret", get(secret))
        .route("/mutate-v1-pod", post(mutate))
        .with_state(keys);
    tokio::runtime::Runtime::new()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("ready {}", listener.local_addr()?.port());
        loop {
            let (tcp, _) = listener.accept().await?;
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| app.clone().oneshot(req));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    })
}
