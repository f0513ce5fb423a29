//! The identity and management planes over real HTTPS, against a server started in-process
//! on a loopback port with a clock the tests control.

use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use wid_client::{ClientError, WidClient};
use wid_core::clock::ManualClock;
use wid_server::datadir::AdminCredentials;
use wid_server::{RunningServer, ServerConfig};

mod api_versions;
mod authz;
mod cloud;
mod clusters_lro;
mod connections;
mod exchange;
mod files_at_rest;
mod graph;
mod issuer_fetch;
mod keyring;
mod rbac;
mod refusals;
mod resources;
mod sign_ins;
mod users;
mod vault_certificates;
mod vault_events;
mod vault_keys;
mod vault_keys_at_rest;
mod vault_keys_authz;
mod vault_matrix;
mod vaults;

const T0: i64 = 1_795_516_140;
const MSI: &str = "api-version=2024-11-30";

struct Wid {
    server: Option<RunningServer>,
    client: WidClient,
    creds: AdminCredentials,
    clock: ManualClock,
    dir: PathBuf,
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wid-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Wid {
    async fn start_in(dir: PathBuf, clock: ManualClock) -> Wid {
        Self::start_configured(dir, clock, |_| {}).await
    }

    async fn start_configured(
        dir: PathBuf,
        clock: ManualClock,
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> Wid {
        let mut config = ServerConfig::new(dir.clone(), "127.0.0.1:0".parse().unwrap());
        tweak(&mut config);
        let server = wid_server::start_with_clock(config, Arc::new(clock.clone()))
            .await
            .expect("server starts");
        let ca = std::fs::read(server.info.ca_bundle.as_ref().unwrap()).unwrap();
        let client = WidClient::new(&server.info.url, &ca).unwrap();
        let creds: AdminCredentials =
            serde_json::from_slice(&std::fs::read(dir.join("credentials.json")).unwrap()).unwrap();
        Wid {
            server: Some(server),
            client,
            creds,
            clock,
            dir,
        }
    }

    async fn start() -> Wid {
        Self::start_in(temp_dir(), ManualClock::new(T0)).await
    }

    fn info(&self) -> &wid_server::datadir::ServerInfo {
        &self.server.as_ref().unwrap().info
    }

    async fn token_for(&self, scope: &str) -> String {
        self.client
            .token_with_secret(
                &self.creds.tenant_id,
                &self.creds.client_id,
                &self.creds.client_secret,
                scope,
            )
            .await
            .unwrap()
            .access_token
    }

    /// The Graph resource (az's `microsoftGraphResourceId`), with its trailing slash.
    fn graph_resource(&self) -> String {
        let port = self.server.as_ref().unwrap().local_addr.port();
        format!("https://graph.{}:{port}/", self.info().dns_suffix)
    }

    /// A Graph token of the bootstrap principal.
    async fn graph_token(&self) -> String {
        self.token_for(&format!("{}.default", self.graph_resource()))
            .await
    }

    async fn token(&self) -> String {
        self.token_for(&format!("{}.default", self.info().management_resource))
            .await
    }

    /// Creates the resource group `name` in eastus.
    async fn group(&self, name: &str) {
        self.arm(
            Method::PUT,
            &self.sub_path(&format!("/resourcegroups/{name}?api-version=2021-04-01")),
            Some(json!({"location": "eastus"})),
        )
        .await
        .unwrap();
    }

    /// Creates an RBAC-authorized vault in an existing group and returns its ARM id.
    async fn rbac_vault(&self, group: &str, name: &str) -> String {
        let id = self.sub_path(&format!(
            "/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}"
        ));
        self.arm(
            Method::PUT,
            &format!("{id}?api-version=2024-11-01"),
            Some(
                json!({"location": "eastus", "properties": {"tenantId": self.creds.tenant_id,
                "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
            ),
        )
        .await
        .unwrap();
        id
    }

    fn sub_path(&self, rest: &str) -> String {
        format!("/subscriptions/{}{rest}", self.info().subscription_id)
    }

    async fn arm(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<wid_client::ArmResponse, ClientError> {
        let token = self.token().await;
        self.client
            .arm(method, path, &token, body.as_ref(), &[])
            .await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .client
            .http()
            .post(self.client.url(path))
            .form(form)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let mut req = self.client.http().request(method, self.client.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The Prometheus exposition text.
    async fn metrics(&self) -> String {
        match self.raw(Method::GET, "/metrics", None, None).await {
            (200, Value::String(text)) => text,
            other => panic!("/metrics answered {other:?}"),
        }
    }

    async fn stop(mut self) -> (PathBuf, ManualClock) {
        self.server.take().unwrap().shutdown().await;
        (self.dir.clone(), self.clock.clone())
    }
}

fn arm_code(result: Result<wid_client::ArmResponse, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Arm { status, error }) => (status, error.code),
        other => panic!("expected an ARM error, got {other:?}"),
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Path, form, expected status, OAuth error and AADSTS code.
type TokenCase<'a> = (String, Vec<(&'a str, &'a str)>, u16, &'a str, u32);

#[tokio::test]
async fn token_endpoint_answers_in_entra_shape() {
    let wid = Wid::start().await;
    let tenant = wid.creds.tenant_id.clone();
    let path = format!("/{tenant}/oauth2/v2.0/token");
    let scope = format!("{}.default", wid.info().management_resource);
    let id = wid.creds.client_id.clone();
    let secret = wid.creds.client_secret.clone();
    let cases: Vec<TokenCase> = vec![
        (
            path.clone(),
            vec![("client_id", &id)],
            400,
            "invalid_request",
            900144,
        ),
        (
            path.clone(),
            vec![("grant_type", "authorization_code"), ("client_id", &id)],
            400,
            "unsupported_grant_type",
            70003,
        ),
        // User grants are for public clients; a service principal's id is not one.
        (
            path.clone(),
            vec![("grant_type", "password"), ("client_id", &id)],
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "/5f1e0c7e-0000-4000-8000-000000000000/oauth2/v2.0/token".into(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", &scope),
            ],
            400,
            "invalid_request",
            90002,
        ),
        (
            "/not_a_tenant!/oauth2/v2.0/token".into(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", &scope),
            ],
            400,
            "invalid_request",
            900023,
        ),
        (
            path.clone(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "00000000-0000-4000-8000-000000000001"),
                ("client_secret", &secret),
                ("scope", &scope),
            ],
            400,
            "unauthorized_client",
            700016,
        ),
        (
            path.clone(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "wrong"),
                ("scope", &scope),
            ],
            401,
            "invalid_client",
            7000215,
        ),
        (
            path.clone(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("scope", &scope),
            ],
            401,
            "invalid_client",
            7000218,
        ),
        (
            path.clone(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "https://management.wid.localhost/user.read"),
            ],
            400,
            "invalid_scope",
            1002012,
        ),
        (
            path.clone(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "https://elsewhere.example/.default"),
            ],
            400,
            "invalid_resource",
            500011,
        ),
        (
            path.clone(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("resource", "https://management.wid.localhost/"),
            ],
            400,
            "invalid_request",
            901002,
        ),
    ];
    for (path, form, status, error, code) in cases {
        let (got, body) = wid.post_form(&path, &form).await;
        assert_eq!(
            (got, body["error"].as_str().unwrap_or_default()),
            (status, error),
            "{form:?}: {body}"
        );
        assert_eq!(body["error_codes"], json!([code]), "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{description}"
        );
        for field in ["timestamp", "trace_id", "correlation_id"] {
            assert!(body[field].is_string(), "{field} missing in {body}");
        }
        assert!(
            !description.contains(&secret),
            "the secret leaked into an error"
        );
    }
    let (status, body) = wid
        .post_form(
            &path,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].is_i64() && body["token_type"] == "Bearer");
    let jwt = wid_jose::decode(body["access_token"].as_str().unwrap()).unwrap();
    let claims: Value = jwt.claims().unwrap();
    assert_eq!(claims["aud"], "https://management.wid.localhost");
    assert_eq!(claims["tid"], tenant.as_str());
    assert_eq!(claims["appid"], id.as_str());
    assert_eq!(claims["iat"], T0);
    // The token verifies with the published keys.
    let (status, jwks) = wid
        .raw(
            Method::GET,
            &format!("/{tenant}/discovery/v2.0/keys"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let jwk: wid_jose::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    jwt.verify(&wid_jose::VerifyingKey::from_jwk(&jwk).unwrap())
        .unwrap();
    let (status, oidc) = wid
        .raw(
            Method::GET,
            &format!("/{tenant}/v2.0/.well-known/openid-configuration"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(oidc["token_endpoint"], format!("{}{path}", wid.info().url));
    wid.stop().await;
}

#[tokio::test]
async fn management_plane_authenticates_every_request() {
    let wid = Wid::start().await;
    let path = wid.sub_path("/resourcegroups?api-version=2024-11-01");
    let (status, body) = wid.raw(Method::GET, &path, None, None).await;
    assert_eq!((status, error_code(&body)), (401, "AuthenticationFailed"));
    let (status, body) = wid.raw(Method::GET, &path, Some("not.a.jwt"), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );

    // Same claims and kid, signed by a key wid never issued.
    let real = wid.token().await;
    let jwt = wid_jose::decode(&real).unwrap();
    let claims: Value = jwt.claims().unwrap();
    let (forger, _) = wid_jose::SigningKey::generate_rsa().unwrap();
    let params = wid_jose::HeaderParams {
        typ: Some("JWT".into()),
        kid: jwt.header.kid.clone(),
        x5t: false,
    };
    let forged = forger.sign_jwt(&claims, &params).unwrap();
    let (status, body) = wid.raw(Method::GET, &path, Some(&forged), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );

    let vault_token = wid
        .token_for(&format!(
            "{}/.default",
            wid_core::cloud::Cloud {
                public_url: wid.info().url.clone(),
                dns_suffix: wid.info().dns_suffix.clone()
            }
            .keyvault_resource()
        ))
        .await;
    let (status, body) = wid.raw(Method::GET, &path, Some(&vault_token), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationTokenAudience")
    );

    let (status, _) = wid.raw(Method::GET, &path, Some(&real), None).await;
    assert_eq!(status, 200);
    wid.clock.advance(3599 + 301);
    let (status, body) = wid.raw(Method::GET, &path, Some(&real), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "ExpiredAuthenticationToken")
    );
    wid.clock.set(T0 - 1000);
    let (status, body) = wid.raw(Method::GET, &path, Some(&real), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "InvalidAuthenticationToken")
    );
    wid.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_and_stored_data_is_untouched() {
    let wid = Wid::start().await;
    let token = wid.token().await;
    let rg = wid.sub_path("/resourcegroups/rg1?api-version=2024-11-01");
    assert_eq!(
        wid.arm(Method::PUT, &rg, Some(json!({"location": "East US"})))
            .await
            .unwrap()
            .status,
        201
    );
    let identity = wid.sub_path(&format!(
        "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1?{MSI}"
    ));
    let created = wid
        .arm(
            Method::PUT,
            &identity,
            Some(json!({"location": "eastus", "tags": {"a": "b"}})),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    let before = created.body.unwrap();

    let cases: Vec<(Method, String, Vec<u8>, u16, &str)> = vec![
        (
            Method::PUT,
            identity.clone(),
            b"{not json".to_vec(),
            400,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            identity.clone(),
            br#"{"location": 5}"#.to_vec(),
            400,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            identity.clone(),
            br#"{"location": "eastus", "tags": ["x"]}"#.to_vec(),
            400,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            identity.clone(),
            Vec::new(),
            400,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            identity.clone(),
            vec![b' '; 2 * 1024 * 1024],
            413,
            "RequestContentTooLarge",
        ),
        (
            Method::PUT,
            identity.replace("id1", "-bad"),
            br#"{"location": "eastus"}"#.to_vec(),
            400,
            "InvalidResourceName",
        ),
        (
            Method::PUT,
            identity.replace(MSI, "api-version=2019-01-01"),
            br#"{"location": "eastus"}"#.to_vec(),
            400,
            "NoRegisteredProviderFound",
        ),
        (
            Method::PUT,
            identity.replace(MSI, "api-version=2024-11-31"),
            br#"{"location": "eastus"}"#.to_vec(),
            400,
            "InvalidApiVersionParameter",
        ),
        (
            Method::PUT,
            identity.replace(&format!("?{MSI}"), ""),
            br#"{"location": "eastus"}"#.to_vec(),
            400,
            "MissingApiVersionParameter",
        ),
        (
            Method::PUT,
            rg.replace("2024-11-01", "2019-01-02"),
            br#"{"location": "eastus"}"#.to_vec(),
            400,
            "InvalidApiVersionParameter",
        ),
        (
            Method::PUT,
            rg.replace("rg1", "bad%2Fname"),
            br#"{"location": "eastus"}"#.to_vec(),
            400,
            "InvalidResourceGroupName",
        ),
        (
            Method::PUT,
            rg.clone(),
            br#"{"location": "westus"}"#.to_vec(),
            409,
            "InvalidResourceGroupLocation",
        ),
        (
            Method::PUT,
            format!(
                "{}/federatedIdentityCredentials/fic1?{MSI}",
                identity.split('?').next().unwrap()
            ),
            br#"{"properties": {"issuer": "https://i/", "subject": "s", "audiences": "x"}}"#
                .to_vec(),
            400,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            format!(
                "{}/federatedIdentityCredentials/fic1?{MSI}",
                identity.split('?').next().unwrap()
            ),
            br#"{"properties": {"issuer": "http://i/", "subject": "s", "audiences": ["x"]}}"#
                .to_vec(),
            400,
            "BadRequest",
        ),
        (
            Method::GET,
            wid.sub_path(
                "/resourcegroups/rg1/providers/Microsoft.Nothing/things/x?api-version=2024-11-01",
            ),
            Vec::new(),
            404,
            "InvalidResourceType",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let body = if method == Method::GET {
            None
        } else {
            Some(body)
        };
        let (got, answer) = wid.raw(method, &path, Some(&token), body).await;
        assert_eq!(
            (got, error_code(&answer)),
            (status, code),
            "{path}: {answer}"
        );
    }
    // Unknown members are ignored, as ARM does; the identity keeps its ids.
    let again = wid
        .raw(
            Method::PUT,
            &identity,
            Some(&token),
            Some(br#"{"location": "eastus", "tags": {"a": "b"}, "whatever": {"x": 1}}"#.to_vec()),
        )
        .await;
    assert_eq!(again.0, 200, "{}", again.1);
    let after = wid
        .arm(Method::GET, &identity, None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(after["properties"], before["properties"]);
    assert_eq!(after["tags"], before["tags"]);
    let (status, _) = wid.raw(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200);
    wid.stop().await;
}

#[tokio::test]
async fn credentials_follow_entra_rules_and_page() {
    let wid = Wid::start().await;
    wid.arm(
        Method::PUT,
        &wid.sub_path("/resourcegroups/rg?api-version=2024-11-01"),
        Some(json!({"location": "eastus"})),
    )
    .await
    .unwrap();
    let base = wid.sub_path(
        "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi1",
    );
    wid.arm(
        Method::PUT,
        &format!("{base}?{MSI}"),
        Some(json!({"location": "eastus"})),
    )
    .await
    .unwrap();
    let fic = |name: &str, subject: &str| {
        (
            format!("{base}/federatedIdentityCredentials/{name}?{MSI}"),
            json!({"properties": {"issuer": "https://issuer.example/t/c/", "subject": subject, "audiences": ["api://AzureADTokenExchange"]}}),
        )
    };
    for i in 0..20 {
        let (path, body) = fic(
            &format!("fic{i:02}"),
            &format!("system:serviceaccount:ns:sa{i}"),
        );
        assert_eq!(
            wid.arm(Method::PUT, &path, Some(body))
                .await
                .unwrap()
                .status,
            201
        );
    }
    let (path, body) = fic("fic20", "system:serviceaccount:ns:sa20");
    assert_eq!(
        arm_code(wid.arm(Method::PUT, &path, Some(body)).await),
        (400, "BadRequest".into())
    );
    let (path, body) = fic("fic00", "system:serviceaccount:ns:sa1");
    assert_eq!(
        arm_code(wid.arm(Method::PUT, &path, Some(body)).await),
        (400, "BadRequest".into())
    );
    let (path, body) = fic("fic00", "system:serviceaccount:ns:SA0");
    assert_eq!(
        wid.arm(Method::PUT, &path, Some(body))
            .await
            .unwrap()
            .status,
        200
    );
    let mut two = fic("fic01", "s").1;
    two["properties"]["audiences"] = json!(["a", "b"]);
    assert_eq!(
        arm_code(wid.arm(Method::PUT, &fic("fic01", "s").0, Some(two)).await),
        (400, "BadRequest".into())
    );

    let mut seen = Vec::new();
    let mut next = Some(format!("{base}/federatedIdentityCredentials?{MSI}&$top=6"));
    while let Some(url) = next {
        let page = wid
            .arm(Method::GET, &url, None)
            .await
            .unwrap()
            .body
            .unwrap();
        let items = page["value"].as_array().unwrap();
        assert!(items.len() <= 6);
        seen.extend(items.iter().map(|v| v["name"].as_str().unwrap().to_owned()));
        next = page["nextLink"].as_str().map(str::to_owned);
        if let Some(link) = &next {
            assert!(
                link.starts_with(&wid.info().url),
                "nextLink must be absolute: {link}"
            );
        }
    }
    let expected: Vec<String> = (0..20).map(|i| format!("fic{i:02}")).collect();
    assert_eq!(seen, expected);

    let missing = wid.sub_path(&format!("/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope/federatedIdentityCredentials/fic?{MSI}"));
    assert_eq!(
        arm_code(
            wid.arm(Method::PUT, &missing, Some(fic("fic", "s").1))
                .await
        ),
        (404, "ParentResourceNotFound".into())
    );
    let no_rg = wid.sub_path(&format!(
        "/resourcegroups/nope/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi1?{MSI}"
    ));
    assert_eq!(
        arm_code(
            wid.arm(Method::PUT, &no_rg, Some(json!({"location": "eastus"})))
                .await
        ),
        (404, "ResourceGroupNotFound".into())
    );
    assert_eq!(
        arm_code(wid.arm(Method::GET, &format!("{base}x?{MSI}"), None).await),
        (404, "ResourceNotFound".into())
    );
    assert_eq!(
        wid.arm(
            Method::DELETE,
            &format!("{base}/federatedIdentityCredentials/fic00?{MSI}"),
            None
        )
        .await
        .unwrap()
        .status,
        200
    );
    assert_eq!(
        wid.arm(
            Method::DELETE,
            &format!("{base}/federatedIdentityCredentials/fic00?{MSI}"),
            None
        )
        .await
        .unwrap()
        .status,
        204
    );
    wid.stop().await;
}

#[tokio::test]
async fn restart_keeps_installation_and_data() {
    let wid = Wid::start().await;
    let info = wid.info().clone();
    let creds = wid.creds.clone();
    let ca = std::fs::read(info.ca_bundle.as_ref().unwrap()).unwrap();
    wid.arm(
        Method::PUT,
        &wid.sub_path("/resourcegroups/keep?api-version=2024-11-01"),
        Some(json!({"location": "eastus"})),
    )
    .await
    .unwrap();
    let path = wid.sub_path(&format!(
        "/resourcegroups/keep/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi1?{MSI}"
    ));
    let created = wid
        .arm(Method::PUT, &path, Some(json!({"location": "eastus"})))
        .await
        .unwrap()
        .body
        .unwrap();
    let (dir, clock) = wid.stop().await;

    let wid = Wid::start_in(dir, clock).await;
    assert_eq!(wid.info().tenant_id, info.tenant_id);
    assert_eq!(wid.info().subscription_id, info.subscription_id);
    assert_eq!(wid.creds, creds);
    assert_eq!(
        std::fs::read(wid.info().ca_bundle.as_ref().unwrap()).unwrap(),
        ca
    );
    let again = wid
        .arm(Method::GET, &path, None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(again["properties"], created["properties"]);
    use std::os::unix::fs::PermissionsExt;
    for private in ["credentials.json", "kek", "ca.key.sealed"] {
        let mode = std::fs::metadata(wid.dir.join(private))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{private}");
    }
    wid.stop().await;
}

#[tokio::test]
async fn readiness_and_metrics() {
    let wid = Wid::start().await;
    let (status, _) = wid.raw(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200);
    let tenant = wid.creds.tenant_id.clone();
    let scope = format!("{}.default", wid.info().management_resource);
    let (status, _) = wid
        .post_form(
            &format!("/{tenant}/oauth2/v2.0/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "0c4a3d2e-0000-4000-8000-000000000000"),
                ("client_secret", "x"),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(status, 400);
    wid.arm(
        Method::GET,
        &wid.sub_path("/resourcegroups?api-version=2021-04-01"),
        None,
    )
    .await
    .unwrap();
    let text = wid.metrics().await;
    assert!(
        text.contains("wid_token_failures_total{code=\"700016\"} 1"),
        "{text}"
    );
    assert!(text.contains("wid_tokens_issued_total 1\n"), "{text}");
    assert!(text.contains("wid_http_requests_total{plane=\"sts\",route=\"/{tenant}/oauth2/v2.0/token\",status=\"400\"} 1"), "{text}");
    assert!(text.contains("wid_http_requests_total{plane=\"arm\",route=\"/subscriptions/{sub}/resourcegroups\",status=\"200\"} 1"), "{text}");
    assert!(
        text.contains("wid_http_request_duration_seconds_count{plane=\"arm\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("wid_cache_lookups_total{cache=\"role_assignments\",result=\"miss\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("wid_db_pool_connections{state=\"open\"}"),
        "{text}"
    );
    assert!(
        text.contains("wid_change_poll_failures_total 0\n"),
        "{text}"
    );
    let invalidations = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("wid_cache_invalidations_total{topic=\"credentials\"} "))
            .map_or(0, |n| n.parse().unwrap())
    };
    let group = wid.sub_path("/resourcegroups/metrics-rg?api-version=2021-04-01");
    wid.arm(
        Method::PUT,
        &group,
        Some(serde_json::json!({"location": "eastus"})),
    )
    .await
    .unwrap();
    let before = invalidations(&wid.metrics().await);
    // Deleting a group deletes its identities and credentials: cached credentials go.
    wid.arm(Method::DELETE, &group, None).await.unwrap();
    let after = wid.metrics().await;
    assert!(invalidations(&after) > before, "{after}");
}

#[tokio::test]
async fn a_signing_key_activation_shorter_than_propagation_is_refused() {
    let dir = temp_dir();
    let mut config = ServerConfig::new(dir.clone(), "127.0.0.1:0".parse().unwrap());
    config.signing_key_rotation.activation = 2;
    match wid_server::start(config).await {
        Err(wid_server::ServerError::Config(m)) => assert!(m.contains("2 s"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a key could sign before every replica knows it"),
    }
    assert!(
        !dir.join("server.json").exists(),
        "refused before anything is written"
    );
}
