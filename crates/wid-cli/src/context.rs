//! How a CLI command reaches wid: everything comes from the data directory, as az takes it
//! from `~/.azure`: `server.json` (endpoint, CA), `credentials.json` (the admin principal)
//! and `cli.json` (the selected subscription, like `az account set`).

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use wid_client::{ArmResponse, WidClient};
use wid_server::datadir::{self, AdminCredentials, ServerInfo};

const CLI_PROFILE: &str = "cli.json";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub subscription_id: Option<String>,
    /// Set by `wid login`; without it the CLI acts as the installation's admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<Login>,
}

/// The principal the CLI logged in as: a service principal or managed identity (`az login
/// --service-principal`), or a user (`az login -u UPN -p PASSWORD`). Kept in `cli.json`,
/// mode 0600, as az keeps its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    /// The principal's client id; for a user, az's public client the user signed in through.
    pub client_id: String,
    pub tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_token: Option<String>,
    /// Set for a user's login. The password is not kept: tokens come from the refresh token
    /// in the credential store ([`crate::user_tokens`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
}

impl Login {
    pub fn is_user(&self) -> bool {
        self.user_principal_name.is_some()
    }
}

/// An access token and when it expires (unix seconds), whichever grant produced it.
pub struct AccessToken {
    pub token: String,
    pub token_type: String,
    pub expires_on: i64,
}

pub struct Context {
    pub data_dir: PathBuf,
    pub server: ServerInfo,
    pub credentials: AdminCredentials,
    pub client: WidClient,
    /// Microsoft Graph, at the Graph resource's own URL (see [`graph_client`]); made on
    /// first use, so commands that never call Graph never resolve its host.
    graph_client: std::sync::OnceLock<WidClient>,
    ca: Vec<u8>,
    token: tokio::sync::OnceCell<String>,
    graph_token: tokio::sync::OnceCell<String>,
}

impl Context {
    pub fn load(data_dir: &Path) -> Result<Self> {
        let server: ServerInfo = datadir::read_json(&data_dir.join(datadir::SERVER_INFO))?.ok_or_else(|| {
            anyhow!(
                "no wid server found in {}: start one with `wid up --data-dir {}` or point --data-dir/WID_DATA_DIR at its data directory",
                data_dir.display(),
                data_dir.display()
            )
        })?;
        let credentials: AdminCredentials =
            datadir::read_json(&data_dir.join(datadir::CREDENTIALS))?
                .ok_or_else(|| anyhow!("no credentials.json in {}", data_dir.display()))?;
        let ca_path = server
            .ca_bundle
            .clone()
            .or_else(|| std::env::var_os("SSL_CERT_FILE").map(PathBuf::from))
            .or_else(|| std::env::var_os("REQUESTS_CA_BUNDLE").map(PathBuf::from))
            .ok_or_else(|| {
                anyhow!(
                    "the server uses an operator certificate: set SSL_CERT_FILE to its CA bundle"
                )
            })?;
        let ca = std::fs::read(&ca_path)
            .with_context(|| format!("reading CA bundle {}", ca_path.display()))?;
        let client = WidClient::new(&server.url, &ca)?;
        Ok(Self {
            data_dir: data_dir.to_owned(),
            server,
            credentials,
            client,
            graph_client: std::sync::OnceLock::new(),
            ca,
            token: tokio::sync::OnceCell::new(),
            graph_token: tokio::sync::OnceCell::new(),
        })
    }

    pub fn profile(&self) -> Result<Profile> {
        Ok(datadir::read_json(&self.data_dir.join(CLI_PROFILE))?.unwrap_or_default())
    }

    pub fn save_profile(&self, profile: &Profile) -> Result<()> {
        datadir::write_json(&self.data_dir.join(CLI_PROFILE), profile, 0o600)?;
        Ok(())
    }

    /// The subscription a command acts on: `--subscription`, else the one set with
    /// `wid account set`, else the installation's.
    pub fn subscription(&self, explicit: Option<&str>) -> Result<String> {
        if let Some(s) = explicit {
            return Ok(s.to_owned());
        }
        Ok(self
            .profile()?
            .subscription_id
            .unwrap_or_else(|| self.server.subscription_id.clone()))
    }

    pub fn cloud(&self) -> wid_core::cloud::Cloud {
        wid_core::cloud::Cloud {
            public_url: self.server.url.clone(),
            dns_suffix: self.server.dns_suffix.clone(),
        }
    }

    /// A client for a vault's data plane. The vault host is pinned to the server's address,
    /// so it works without any resolver set-up (as `*.localhost` names need).
    pub fn vault_client(&self, vault: &str) -> Result<WidClient> {
        let resource = self.cloud().keyvault_resource();
        let suffix_host = resource.trim_start_matches("https://");
        let base = format!("https://{}.{suffix_host}", vault.to_ascii_lowercase());
        pinned_client(&self.server, &base, &self.ca)
    }

    /// Who the CLI acts as: the logged-in principal (a user by UPN), else the admin.
    pub fn user_name(&self) -> Result<String> {
        Ok(match self.profile()?.login {
            Some(login) => login.user_principal_name.unwrap_or(login.client_id),
            None => self.credentials.client_id.clone(),
        })
    }

    /// az's `user.type` of the signed-in account.
    pub fn user_type(&self) -> Result<&'static str> {
        Ok(match self.profile()?.login {
            Some(login) if login.is_user() => "user",
            _ => "servicePrincipal",
        })
    }

    /// Whether the CLI acts as a user (so Graph's `/me` answers for it).
    pub fn signed_in_as_user(&self) -> Result<bool> {
        Ok(self.profile()?.login.is_some_and(|l| l.is_user()))
    }

    pub async fn token_for(&self, scope: &str) -> Result<AccessToken> {
        let now = wid_core::clock::Clock::now_unix(&wid_core::clock::SystemClock);
        let from_v2 = |t: wid_types::oauth::TokenResponseV2| AccessToken {
            token: t.access_token,
            token_type: t.token_type,
            expires_on: now + t.expires_in,
        };
        match self.profile()?.login {
            Some(login) if login.is_user() => {
                crate::user_tokens::access_token(self, &login, scope, now).await
            }
            Some(login) => Ok(from_v2(token_as(&self.client, &login, scope).await?)),
            None => {
                let c = &self.credentials;
                Ok(from_v2(
                    self.client
                        .token_with_secret(&c.tenant_id, &c.client_id, &c.client_secret, scope)
                        .await?,
                ))
            }
        }
    }

    pub async fn management_token(&self) -> Result<&str> {
        self.token
            .get_or_try_init(|| async {
                let scope = format!("{}.default", self.server.management_resource);
                Ok::<_, anyhow::Error>(self.token_for(&scope).await?.token)
            })
            .await
            .map(String::as_str)
    }

    /// A token whose audience is the Graph resource, the only one Graph accepts.
    pub async fn graph_token(&self) -> Result<&str> {
        self.graph_token
            .get_or_try_init(|| async {
                let scope = format!("{}.default", self.cloud().graph_resource());
                Ok::<_, anyhow::Error>(self.token_for(&scope).await?.token)
            })
            .await
            .map(String::as_str)
    }

    /// One Graph request (`/v1.0/…` path or an absolute `@odata.nextLink`). Refusals carry
    /// Graph's `{"error":{"code","message"}}`, which decodes as the ARM error shape does.
    pub async fn graph(
        &self,
        method: wid_client::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ArmResponse> {
        let token = self.graph_token().await?;
        let client = match self.graph_client.get() {
            Some(c) => c,
            None => {
                let made = graph_client(&self.server, &self.ca)?;
                self.graph_client.get_or_init(|| made)
            }
        };
        Ok(client.arm(method, path, token, body, &[]).await?)
    }

    /// A Graph request that must return an object.
    pub async fn graph_value(
        &self,
        method: wid_client::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        match self.graph(method, path, body).await?.body {
            Some(v) => Ok(v),
            None => bail!("the server returned no content"),
        }
    }

    /// Every item of a Graph collection, following `@odata.nextLink`.
    pub async fn graph_list(&self, path: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(url) = next.take() {
            let page = self
                .graph_value(wid_client::Method::GET, &url, None)
                .await?;
            if let Some(Value::Array(values)) = page.get("value") {
                items.extend(values.iter().cloned());
            }
            next = page
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        Ok(items)
    }

    pub async fn arm(
        &self,
        method: wid_client::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ArmResponse> {
        self.arm_with_headers(method, path, body, &[]).await
    }

    pub async fn arm_with_headers(
        &self,
        method: wid_client::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(String, String)],
    ) -> Result<ArmResponse> {
        let token = self.management_token().await?;
        Ok(self.client.arm(method, path, token, body, headers).await?)
    }

    /// A GET/PUT/… that must return a body.
    pub async fn arm_value(
        &self,
        method: wid_client::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        match self.arm(method, path, body).await?.body {
            Some(v) => Ok(v),
            None => bail!("the server returned no content"),
        }
    }

    /// Every item of a paged list, following `nextLink`.
    pub async fn arm_list(&self, path: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(url) = next.take() {
            let page = self.arm_value(wid_client::Method::GET, &url, None).await?;
            if let Some(Value::Array(values)) = page.get("value") {
                items.extend(values.iter().cloned());
            }
            next = page
                .get("nextLink")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        Ok(items)
    }

    /// `az … list [-g GROUP] [--subscription S]`: every resource of `resource_type`
    /// (`Provider/type`) in the group, or in the whole subscription, each in az's `shape`.
    pub async fn list_resources(
        &self,
        subscription: Option<&str>,
        resource_group: Option<&str>,
        resource_type: &str,
        api_version: &str,
        shape: fn(Value) -> Value,
    ) -> Result<Value> {
        let sub = self.subscription(subscription)?;
        let scope = match resource_group {
            Some(rg) => format!("/subscriptions/{sub}/resourceGroups/{rg}"),
            None => format!("/subscriptions/{sub}"),
        };
        let url = format!("{scope}/providers/{resource_type}?api-version={api_version}");
        Ok(Value::Array(
            self.arm_list(&url).await?.into_iter().map(shape).collect(),
        ))
    }
}

/// Graph is called at the Graph resource's URL (`https://graph.{suffix}[:port]`), the string
/// az uses as both token audience and base URL, with that host pinned to the server's address
/// as vault hosts are. So the CLI sends exactly the requests az sends, absolute
/// `@odata.nextLink`s the server builds from that base are followed as they come, and no
/// resolver set-up is needed (`graph.wid.localhost` does not resolve through glibc).
fn graph_client(server: &ServerInfo, ca: &[u8]) -> Result<WidClient> {
    let cloud = wid_core::cloud::Cloud {
        public_url: server.url.clone(),
        dns_suffix: server.dns_suffix.clone(),
    };
    pinned_client(server, &cloud.graph_resource(), ca)
}

/// A client for `base`, whose host is pinned to the wid server's address.
fn pinned_client(server_info: &ServerInfo, base: &str, ca: &[u8]) -> Result<WidClient> {
    let url = url::Url::parse(base)?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let server = url::Url::parse(&server_info.url)?;
    let port = server.port_or_known_default().unwrap_or(443);
    let addr = match server.host() {
        Some(url::Host::Ipv4(ip)) => std::net::SocketAddr::from((ip, port)),
        Some(url::Host::Ipv6(ip)) => std::net::SocketAddr::from((ip, port)),
        _ => std::net::ToSocketAddrs::to_socket_addrs(&(
            server.host_str().unwrap_or("localhost"),
            port,
        ))?
        .next()
        .ok_or_else(|| anyhow!("cannot resolve {}", server_info.url))?,
    };
    Ok(WidClient::with_resolve(base, ca, &[(host, addr)])?)
}

/// Whether a request failed because Graph has no such object (az's fallbacks hinge on it).
pub fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<wid_client::ClientError>()
        .and_then(wid_client::ClientError::status)
        == Some(404)
}

pub async fn token_as(
    client: &WidClient,
    login: &Login,
    scope: &str,
) -> Result<wid_types::oauth::TokenResponseV2, wid_client::ClientError> {
    match (&login.client_secret, &login.federated_token) {
        (Some(secret), _) => {
            client
                .token_with_secret(&login.tenant_id, &login.client_id, secret, scope)
                .await
        }
        (None, Some(jwt)) => {
            client
                .token_with_assertion(&login.tenant_id, &login.client_id, jwt, scope)
                .await
        }
        (None, None) => {
            client
                .token_with_secret(&login.tenant_id, &login.client_id, "", scope)
                .await
        }
    }
}
