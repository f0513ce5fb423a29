//! A typed HTTPS client for wid's planes. The CLI, the bench and tests all talk to wid
//! through it, so TLS trust, token acquisition and error decoding live in one place.

pub mod tls;

pub use reqwest::Method;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;
use thiserror::Error;
use wid_types::arm::{ErrorBody, ErrorResponse};
use wid_types::oauth::{OAuthError, TokenResponseV2};

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot reach wid at {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("({}) {}", .body.error, .body.error_description)]
    OAuth { status: u16, body: Box<OAuthError> },
    #[error("({}) {}", .error.code, .error.message)]
    Arm { status: u16, error: Box<ErrorBody> },
    #[error("unexpected response {status}: {body}")]
    Unexpected { status: u16, body: String },
}

/// An HTTP response from the management plane that was not an error.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmResponse {
    pub status: u16,
    pub body: Option<Value>,
    /// What long-running operations are followed by: `Azure-AsyncOperation`, `Location`.
    pub headers: reqwest::header::HeaderMap,
}

impl ArmResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The Azure CLI's public client id: users sign in through it, as `az login -u` does, so the
/// token service treats wid's CLI and az alike.
pub const AZ_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// The token endpoint's answer to a user's grants (`password`, `refresh_token`): besides the
/// access token, the refresh token that replaces the one just redeemed.
#[derive(Clone, Deserialize)]
pub struct UserTokenResponse {
    pub token_type: String,
    pub expires_in: i64,
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for UserTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl ClientError {
    /// The HTTP status of a refusal the server answered, for callers that fall back on 404.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. }
            | Self::Arm { status, .. }
            | Self::Unexpected { status, .. } => Some(*status),
            Self::Http { .. } | Self::Tls(_) => None,
        }
    }
}

#[derive(Clone)]
pub struct WidClient {
    http: reqwest::Client,
    base_url: String,
}

impl WidClient {
    /// A client that trusts exactly the CA certificates in `ca_pem` (wid's local CA or the
    /// operator's), over TLS 1.2+ with aws-lc-rs.
    pub fn new(base_url: &str, ca_pem: &[u8]) -> Result<Self, ClientError> {
        Self::with_resolve(base_url, ca_pem, &[])
    }

    /// As [`WidClient::new`], with host names pinned to addresses: vault hosts
    /// (`{vault}.vault.{suffix}`) need not resolve through the system's resolver.
    pub fn with_resolve(
        base_url: &str,
        ca_pem: &[u8],
        resolve: &[(String, std::net::SocketAddr)],
    ) -> Result<Self, ClientError> {
        let tls = tls::client_config(tls::Trust::Only(&[ca_pem]))
            .map_err(ClientError::Tls)?
            .with_no_client_auth();
        let mut builder = reqwest::Client::builder().use_preconfigured_tls(tls);
        for (host, addr) in resolve {
            builder = builder.resolve(host, *addr);
        }
        let http = builder
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The underlying HTTP client (same TLS trust), for requests the typed methods don't cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Absolute URLs pass through; paths are joined to the base URL.
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("https://") || path_or_url.starts_with("http://") {
            path_or_url.to_owned()
        } else if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.base_url)
        } else {
            format!("{}/{path_or_url}", self.base_url)
        }
    }

    /// `client_credentials` with a client secret at the v2.0 token endpoint.
    pub async fn token_with_secret(
        &self,
        tenant: &str,
        client_id: &str,
        client_secret: &str,
        scope: &str,
    ) -> Result<TokenResponseV2, ClientError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("scope", scope),
        ];
        self.token(tenant, &form).await
    }

    /// `client_credentials` with a federated JWT assertion (a service-account token).
    pub async fn token_with_assertion(
        &self,
        tenant: &str,
        client_id: &str,
        assertion: &str,
        scope: &str,
    ) -> Result<TokenResponseV2, ClientError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", scope),
        ];
        self.token(tenant, &form).await
    }

    /// The resource-owner-password grant of a user, through az's public client (`az login -u
    /// UPN -p PASSWORD`); `scope` should include `offline_access` to get a refresh token.
    pub async fn token_with_password(
        &self,
        tenant: &str,
        username: &str,
        password: &str,
        scope: &str,
    ) -> Result<UserTokenResponse, ClientError> {
        let form = [
            ("grant_type", "password"),
            ("client_id", AZ_CLIENT_ID),
            ("username", username),
            ("password", password),
            ("scope", scope),
        ];
        self.token(tenant, &form).await
    }

    /// Redeems a user's refresh token for an access token to `scope`; the answer carries the
    /// rotated refresh token, which replaces the redeemed one.
    pub async fn token_with_refresh_token(
        &self,
        tenant: &str,
        refresh_token: &str,
        scope: &str,
    ) -> Result<UserTokenResponse, ClientError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", AZ_CLIENT_ID),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ];
        self.token(tenant, &form).await
    }

    async fn token<T: DeserializeOwned>(
        &self,
        tenant: &str,
        form: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        let url = self.url(&format!("/{tenant}/oauth2/v2.0/token"));
        let response = self
            .http
            .post(&url)
            .form(form)
            .send()
            .await
            .map_err(|source| ClientError::Http {
                url: url.clone(),
                source,
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|source| ClientError::Http { url, source })?;
        if status.is_success() {
            // The body holds tokens: an unreadable one is reported without its text.
            serde_json::from_str(&text).map_err(|e| ClientError::Unexpected {
                status: status.as_u16(),
                body: format!("unreadable token response: {e}"),
            })
        } else {
            match serde_json::from_str::<OAuthError>(&text) {
                Ok(body) => Err(ClientError::OAuth {
                    status: status.as_u16(),
                    body: Box::new(body),
                }),
                Err(_) => Err(ClientError::Unexpected {
                    status: status.as_u16(),
                    body: text,
                }),
            }
        }
    }

    /// One management-plane request with a bearer token. Non-2xx answers decode into the
    /// ARM error they carry.
    pub async fn arm(
        &self,
        method: Method,
        path_or_url: &str,
        token: &str,
        body: Option<&Value>,
        headers: &[(String, String)],
    ) -> Result<ArmResponse, ClientError> {
        let url = self.url(path_or_url);
        let mut request = self.http.request(method, &url).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|source| ClientError::Http {
            url: url.clone(),
            source,
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|source| ClientError::Http { url, source })?;
        decode_arm(status, headers, &text)
    }
}

fn decode_arm(
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: &str,
) -> Result<ArmResponse, ClientError> {
    if status.is_success() {
        let body = if text.trim().is_empty() {
            None
        } else {
            Some(
                serde_json::from_str(text).map_err(|_| ClientError::Unexpected {
                    status: status.as_u16(),
                    body: text.to_owned(),
                })?,
            )
        };
        return Ok(ArmResponse {
            status: status.as_u16(),
            body,
            headers,
        });
    }
    match serde_json::from_str::<ErrorResponse>(text) {
        Ok(e) => Err(ClientError::Arm {
            status: status.as_u16(),
            error: Box::new(e.error),
        }),
        Err(_) if text.trim().is_empty() => Err(ClientError::Arm {
            status: status.as_u16(),
            error: Box::new(ErrorBody {
                code: status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .replace(' ', ""),
                message: format!("Operation returned an invalid status '{status}'"),
                target: None,
                details: vec![],
            }),
        }),
        Err(_) => Err(ClientError::Unexpected {
            status: status.as_u16(),
            body: text.to_owned(),
        }),
    }
}
