//! Tokens per (client id, resource): served from the cache until five minutes before they
//! expire (when SDKs would refuse them), then exchanged again. Concurrent requests for a
//! key share one exchange, so an uncached burst costs one exchange, never more.

use crate::imds::{scope_of, ImdsError};
use axum::http::StatusCode;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wid_client::tls;

/// Refresh this long before expiry: SDKs treat tokens with less left as expired.
const REFRESH_MARGIN: i64 = 300;

#[derive(Debug, Clone)]
pub struct Token {
    pub access_token: String,
    pub expires_on: i64,
    pub not_before: i64,
}

#[derive(Default)]
struct Slot {
    token: Mutex<Option<Token>>,
    exchange: tokio::sync::Mutex<()>,
}

pub struct Exchanger {
    http: reqwest::Client,
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    token_endpoint: String,
    token_file: PathBuf,
    slots: Mutex<HashMap<(String, String), Arc<Slot>>>,
    exchanges: std::sync::atomic::AtomicU64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// System roots, plus a CA of the caller's (wid's own, for a wid identity plane).
pub fn tls_config(extra_ca: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let extra: Vec<&[u8]> = extra_ca.into_iter().collect();
    Ok(tls::client_config(tls::Trust::SystemAnd(&extra))?.with_no_client_auth())
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Exchanger {
    pub fn new(
        authority: &str,
        tenant: &str,
        token_file: PathBuf,
        extra_ca: Option<&[u8]>,
    ) -> Result<Self, String> {
        let tls = tls_config(extra_ca)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            token_endpoint: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            ),
            token_file,
            slots: Mutex::new(HashMap::new()),
            exchanges: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How many exchanges this process made (what the benchmark checks).
    pub fn exchanges(&self) -> u64 {
        self.exchanges.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn fresh(slot: &Slot, now: i64) -> Option<Token> {
        slot.token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|t| t.expires_on - now > REFRESH_MARGIN)
    }

    pub async fn token(&self, client_id: &str, resource: &str) -> Result<Token, ImdsError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots
                .entry((client_id.to_owned(), resource.to_owned()))
                .or_default()
                .clone()
        };
        if let Some(t) = Self::fresh(&slot, now()) {
            return Ok(t);
        }
        let _one_at_a_time = slot.exchange.lock().await;
        if let Some(t) = Self::fresh(&slot, now()) {
            return Ok(t);
        }
        let token = self.exchange(client_id, resource).await?;
        *slot.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// The projected token is read for every exchange, so a token the kubelet rotated is
    /// the one presented.
    async fn exchange(&self, client_id: &str, resource: &str) -> Result<Token, ImdsError> {
        let assertion = std::fs::read_to_string(&self.token_file).map_err(|e| {
            ImdsError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "The service account token file {} cannot be read: {e}",
                    self.token_file.display()
                ),
            )
        })?;
        self.exchanges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.trim()),
            ("scope", &scope_of(resource)),
        ];
        let issued = now();
        let response = self
            .http
            .post(&self.token_endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                ImdsError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    format!(
                        "The identity provider at {} could not be reached: {e}",
                        self.token_endpoint
                    ),
                )
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            let t: TokenResponse = serde_json::from_str(&text).map_err(|_| {
                ImdsError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "The identity provider answered with an unreadable token.",
                )
            })?;
            return Ok(Token {
                access_token: t.access_token,
                expires_on: issued + t.expires_in,
                not_before: issued,
            });
        }
        // The identity provider's refusal, passed on: 4xx are the caller's (identity not
        // found, token expired); anything else is the provider's and worth a retry.
        let (error, description) = match serde_json::from_str::<ErrorResponse>(&text) {
            Ok(e) => (e.error, e.error_description),
            Err(_) => ("server_error".to_owned(), text),
        };
        let (status, code) = if status.is_client_error() {
            (
                StatusCode::BAD_REQUEST,
                if error == "unauthorized_client" {
                    "invalid_request"
                } else {
                    "invalid_client"
                },
            )
        } else {
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        };
        Err(ImdsError::new(
            status,
            code,
            format!("{error}: {description}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A token endpoint that counts requests and answers slowly, so requests overlap.
    async fn fake_endpoint(calls: Arc<AtomicU64>, status: u16) -> String {
        let app = axum::Router::new().route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(move || {
                let calls = calls.clone();
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let body = if status == 200 {
                        serde_json::json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "tok"})
                    } else {
                        serde_json::json!({"error": "invalid_client", "error_description": "AADSTS700024: expired"})
                    };
                    (StatusCode::from_u16(status).unwrap(), axum::Json(body))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn token_file() -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("wid-proxy-test-{}-{}", std::process::id(), now()));
        std::fs::write(&path, "sa-token").unwrap();
        path
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_burst_of_uncached_requests_costs_one_exchange() {
        let calls = Arc::new(AtomicU64::new(0));
        let authority = fake_endpoint(calls.clone(), 200).await;
        let exchanger = Arc::new(Exchanger::new(&authority, "t", token_file(), None).unwrap());
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let e = exchanger.clone();
                tokio::spawn(async move {
                    e.token("c", "https://vault.example")
                        .await
                        .unwrap()
                        .access_token
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), "tok");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another resource is another key.
        exchanger
            .token("c", "https://management.example")
            .await
            .unwrap();
        assert_eq!(
            (calls.load(Ordering::SeqCst), exchanger.exchanges()),
            (2, 2)
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn refusals_are_imds_errors_and_not_cached() {
        let calls = Arc::new(AtomicU64::new(0));
        let authority = fake_endpoint(calls.clone(), 401).await;
        let exchanger = Exchanger::new(&authority, "t", token_file(), None).unwrap();
        for _ in 0..2 {
            let e = exchanger.token("c", "r").await.unwrap_err();
            assert_eq!(
                (e.status, e.error),
                (StatusCode::BAD_REQUEST, "invalid_client")
            );
            assert!(e.description.contains("AADSTS700024"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let down = Exchanger::new("http://127.0.0.1:1", "t", token_file(), None).unwrap();
        assert_eq!(
            down.token("c", "r").await.unwrap_err().status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let missing =
            Exchanger::new(&authority, "t", PathBuf::from("/nonexistent/token"), None).unwrap();
        assert_eq!(
            missing.token("c", "r").await.unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
