//! The federated exchange against issuers wid hosts, one test per way it can fail, each
//! checked for the exact Entra code; and key rotation with overlap.

use super::{Wid, T0};
use reqwest::Method;
use serde_json::{json, Value};
use wid_core::clock::ManualClock;
use wid_jose::{b64, pem_encode, HeaderParams, SigningKey};

const AKS: &str = "api-version=2025-01-01";
const AUDIENCE: &str = "api://AzureADTokenExchange";
const SUBJECT: &str = "system:serviceaccount:default:workload-identity-sa";

/// A cluster whose issuer publishes a key the test holds (the "bring your own public key"
/// mode), an identity, and one federated credential.
pub(super) struct Federation {
    pub(super) wid: Wid,
    key: SigningKey,
    pub(super) issuer: String,
    pub(super) client_id: String,
    pub(super) principal_id: String,
    pub(super) identity_id: String,
}

impl Federation {
    /// `fic_issuer`/`fic_subject`: `None` uses the cluster's issuer / [`SUBJECT`].
    pub(super) async fn start(fic_issuer: Option<&str>, fic_subject: Option<&str>) -> Federation {
        Self::on(Wid::start().await, fic_issuer, fic_subject).await
    }

    /// The same, on a server the caller started (configured differently).
    pub(super) async fn on(
        wid: Wid,
        fic_issuer: Option<&str>,
        fic_subject: Option<&str>,
    ) -> Federation {
        let (key, _) = SigningKey::generate_rsa().unwrap();
        wid.group("rg").await;
        let cluster = wid
            .arm(
                Method::PUT,
                &wid.sub_path(&format!(
                    "/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/aks?{AKS}"
                )),
                Some(json!({
                    "location": "eastus",
                    "properties": {
                        "oidcIssuerProfile": {
                            "enabled": true,
                            "serviceAccountPublicKeys": [pem_encode("PUBLIC KEY", &key.public_spki_der())],
                        },
                        "securityProfile": {"workloadIdentity": {"enabled": true}},
                    },
                })),
            )
            .await
            .unwrap()
            .body
            .unwrap();
        let issuer = cluster["properties"]["oidcIssuerProfile"]["issuerURL"]
            .as_str()
            .unwrap()
            .to_owned();
        let identity_path = wid.sub_path(&format!(
            "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app?{}",
            super::MSI
        ));
        let identity = wid
            .arm(
                Method::PUT,
                &identity_path,
                Some(json!({"location": "eastus"})),
            )
            .await
            .unwrap()
            .body
            .unwrap();
        wid.arm(
            Method::PUT,
            &wid.sub_path(&format!(
                "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app/federatedIdentityCredentials/fic?{}",
                super::MSI
            )),
            Some(json!({"properties": {
                "issuer": fic_issuer.unwrap_or(&issuer),
                "subject": fic_subject.unwrap_or(SUBJECT),
                "audiences": [AUDIENCE],
            }})),
        )
        .await
        .unwrap();
        Federation {
            key,
            issuer,
            client_id: identity["properties"]["clientId"]
                .as_str()
                .unwrap()
                .to_owned(),
            principal_id: identity["properties"]["principalId"]
                .as_str()
                .unwrap()
                .to_owned(),
            identity_id: identity["id"].as_str().unwrap().to_owned(),
            wid,
        }
    }

    /// Another federated credential of the identity, for `issuer` and [`SUBJECT`].
    pub(super) async fn federate(&self, name: &str, issuer: &str) {
        self.wid
            .arm(
                Method::PUT,
                &format!(
                    "{}/federatedIdentityCredentials/{name}?{}",
                    self.identity_id,
                    super::MSI
                ),
                Some(json!({"properties": {
                    "issuer": issuer,
                    "subject": SUBJECT,
                    "audiences": [AUDIENCE],
                }})),
            )
            .await
            .unwrap();
    }

    /// The public half of the key [`Self::sign`] signs with, as an issuer publishes it.
    pub(super) fn jwks(&self) -> Value {
        json!({"keys": [self.key.verifying_key().to_jwk()]})
    }

    pub(super) fn claims(&self) -> Value {
        json!({
            "aud": [AUDIENCE],
            "exp": T0 + 3600,
            "iat": T0,
            "nbf": T0,
            "iss": self.issuer,
            "sub": SUBJECT,
            "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "workload-identity-sa", "uid": "u"}},
        })
    }

    pub(super) fn sign(&self, claims: &Value) -> String {
        self.key.sign_jwt(claims, &HeaderParams::default()).unwrap()
    }

    pub(super) async fn exchange_as(
        &self,
        tenant: &str,
        client_id: &str,
        assertion: &str,
        scope: &str,
    ) -> (u16, Value) {
        self.wid
            .post_form(
                &format!("/{tenant}/oauth2/v2.0/token"),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion),
                    ("scope", scope),
                ],
            )
            .await
    }

    fn scope(&self) -> String {
        format!("{}.default", self.wid.info().management_resource)
    }

    pub(super) async fn exchange(&self, assertion: &str) -> (u16, Value) {
        let tenant = self.wid.creds.tenant_id.clone();
        self.exchange_as(&tenant, &self.client_id, assertion, &self.scope())
            .await
    }
}

/// Asserts an Entra error: status, OAuth error, AADSTS code; returns the description.
pub(super) fn refused(answer: (u16, Value), status: u16, error: &str, code: u64) -> String {
    let (got_status, body) = answer;
    assert_eq!(
        (
            got_status,
            body["error"].as_str(),
            body["error_codes"][0].as_u64()
        ),
        (status, Some(error), Some(code)),
        "{body}"
    );
    let description = body["error_description"].as_str().unwrap().to_owned();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    description
}

pub(super) fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&b64::decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn a_matching_assertion_gets_a_managed_identity_token() {
    let f = Federation::start(None, None).await;
    let (status, body) = f.exchange(&f.sign(&f.claims())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].is_i64());
    let claims = claims_of(body["access_token"].as_str().unwrap());
    let tenant = &f.wid.creds.tenant_id;
    assert_eq!(
        claims["aud"],
        f.wid.info().management_resource.trim_end_matches('/')
    );
    assert_eq!(claims["iss"], format!("{}/{tenant}/", f.wid.info().url));
    assert_eq!(claims["tid"], tenant.as_str());
    assert_eq!(claims["appid"], f.client_id.as_str());
    assert_eq!(claims["oid"], f.principal_id.as_str());
    assert_eq!(claims["sub"], f.principal_id.as_str());
    assert_eq!(
        (
            claims["idtyp"].as_str(),
            claims["ver"].as_str(),
            claims["appidacr"].as_str()
        ),
        (Some("app"), Some("1.0"), Some("2"))
    );
    assert_eq!(
        claims["xms_mirid"],
        f.identity_id
            .replace("/resourceGroups/", "/resourcegroups/")
    );
    assert_eq!(claims["iat"], T0);
    // The same assertion through the v1 endpoint, with resource= and string numbers.
    let (status, body) = f
        .wid
        .post_form(
            &format!("/{tenant}/oauth2/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &f.client_id),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &f.sign(&f.claims())),
                ("resource", &f.wid.info().management_resource),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].is_string() && body["expires_on"].is_string());
}

#[tokio::test]
async fn wrong_issuer_is_700211() {
    let f = Federation::start(None, None).await;
    let mut claims = f.claims();
    claims["iss"] = json!("https://issuer.example/elsewhere/");
    refused(
        f.exchange(&f.sign(&claims)).await,
        401,
        "invalid_client",
        700211,
    );
}

#[tokio::test]
async fn issuer_without_its_trailing_slash_is_700211_and_says_so() {
    // The credential names the issuer without the slash the tokens carry.
    let f = Federation::start(Some("https://placeholder.example"), None).await;
    let without = f.issuer.trim_end_matches('/').to_owned();
    f.wid
        .arm(
            Method::PUT,
            &f.wid.sub_path(&format!(
                "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app/federatedIdentityCredentials/fic?{}",
                super::MSI
            )),
            Some(json!({"properties": {"issuer": without, "subject": SUBJECT, "audiences": [AUDIENCE]}})),
        )
        .await
        .unwrap();
    let description = refused(
        f.exchange(&f.sign(&f.claims())).await,
        401,
        "invalid_client",
        700211,
    );
    assert!(
        description.contains("'fic'") && description.contains("slash"),
        "{description}"
    );
}

#[tokio::test]
async fn wrong_subject_is_700213() {
    let f = Federation::start(None, None).await;
    let mut claims = f.claims();
    claims["sub"] = json!("system:serviceaccount:default:other");
    let description = refused(
        f.exchange(&f.sign(&claims)).await,
        401,
        "invalid_client",
        700213,
    );
    assert!(description.contains(SUBJECT), "{description}");
}

#[tokio::test]
async fn subject_differing_only_in_case_is_7002138() {
    let f = Federation::start(
        None,
        Some("system:serviceaccount:Default:workload-identity-sa"),
    )
    .await;
    refused(
        f.exchange(&f.sign(&f.claims())).await,
        401,
        "invalid_client",
        7002138,
    );
}

#[tokio::test]
async fn wrong_audience_is_700212() {
    let f = Federation::start(None, None).await;
    let mut claims = f.claims();
    claims["aud"] = json!(["api://SomethingElse"]);
    refused(
        f.exchange(&f.sign(&claims)).await,
        401,
        "invalid_client",
        700212,
    );
}

#[tokio::test]
async fn expired_token_is_700024() {
    let f = Federation::start(None, None).await;
    let mut claims = f.claims();
    claims["iat"] = json!(T0 - 7200);
    claims["nbf"] = json!(T0 - 7200);
    claims["exp"] = json!(T0 - 3600);
    refused(
        f.exchange(&f.sign(&claims)).await,
        401,
        "invalid_client",
        700024,
    );
}

#[tokio::test]
async fn not_yet_valid_token_is_700024() {
    let f = Federation::start(None, None).await;
    let mut claims = f.claims();
    claims["nbf"] = json!(T0 + 3600);
    claims["exp"] = json!(T0 + 7200);
    refused(
        f.exchange(&f.sign(&claims)).await,
        401,
        "invalid_client",
        700024,
    );
}

/// Issue 13, finding 6: an assertion "issued" ten years from now was accepted. Beyond the
/// clock skew (300 s) it is refused like one not yet valid; within it, it is accepted.
#[tokio::test]
async fn an_assertion_issued_in_the_future_is_700024() {
    let f = Federation::start(None, None).await;
    let skew = wid_core::token::CLOCK_SKEW_SECS;
    for iat in [T0 + 10 * 365 * 24 * 3600, T0 + skew + 1] {
        let mut claims = f.claims();
        claims["iat"] = json!(iat);
        let description = refused(
            f.exchange(&f.sign(&claims)).await,
            401,
            "invalid_client",
            700024,
        );
        assert!(
            description.contains("Client assertion is not within its valid time range."),
            "{description}"
        );
    }
    let mut claims = f.claims();
    claims["iat"] = json!(T0 + skew);
    let (status, body) = f.exchange(&f.sign(&claims)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn unknown_kid_is_7000272() {
    let f = Federation::start(None, None).await;
    let (stranger, _) = SigningKey::generate_rsa().unwrap();
    let token = stranger
        .sign_jwt(&f.claims(), &HeaderParams::default())
        .unwrap();
    let description = refused(f.exchange(&token).await, 401, "invalid_client", 7000272);
    assert!(description.contains(stranger.kid()), "{description}");
}

#[tokio::test]
async fn bad_signature_is_700027() {
    let f = Federation::start(None, None).await;
    // Signed by another key under the published key's kid.
    let (stranger, _) = SigningKey::generate_rsa().unwrap();
    let header = HeaderParams {
        kid: Some(f.key.kid().to_owned()),
        ..HeaderParams::default()
    };
    let token = stranger.sign_jwt(&f.claims(), &header).unwrap();
    refused(f.exchange(&token).await, 401, "invalid_client", 700027);
}

fn unsigned(header: Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    )
}

#[tokio::test]
async fn alg_none_is_700027() {
    let f = Federation::start(None, None).await;
    let token = format!(
        "{}.{}",
        unsigned(json!({"alg": "none", "kid": f.key.kid()}), &f.claims()),
        b64::encode(b"x")
    );
    refused(f.exchange(&token).await, 401, "invalid_client", 700027);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_700027() {
    use aws_lc_rs::hmac;
    let f = Federation::start(None, None).await;
    let input = unsigned(json!({"alg": "HS256", "kid": f.key.kid()}), &f.claims());
    let pem = pem_encode("PUBLIC KEY", &f.key.public_spki_der());
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, pem.as_bytes()),
        input.as_bytes(),
    );
    let token = format!("{input}.{}", b64::encode(tag.as_ref()));
    refused(f.exchange(&token).await, 401, "invalid_client", 700027);
}

#[tokio::test]
async fn unknown_client_id_is_700016() {
    let f = Federation::start(None, None).await;
    let tenant = f.wid.creds.tenant_id.clone();
    let answer = f
        .exchange_as(
            &tenant,
            "0c4a3d2e-0000-4000-8000-000000000000",
            &f.sign(&f.claims()),
            &f.scope(),
        )
        .await;
    refused(answer, 400, "unauthorized_client", 700016);
}

#[tokio::test]
async fn unknown_tenant_is_90002() {
    let f = Federation::start(None, None).await;
    let answer = f
        .exchange_as(
            "0c4a3d2e-0000-4000-8000-0000000000aa",
            &f.client_id,
            &f.sign(&f.claims()),
            &f.scope(),
        )
        .await;
    refused(answer, 400, "invalid_request", 90002);
}

/// An issuer the operator allowed but where nothing listens: 90061, and the description does
/// not say what went wrong, which would tell a caller what listens on wid's network.
#[tokio::test]
async fn unreachable_issuer_is_90061_without_saying_why() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let issuer = "https://127.0.0.1:1/unreachable/";
    let wid = Wid::start_configured(super::temp_dir(), ManualClock::new(T0), |c| {
        c.issuer_allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let f = Federation::on(wid, Some(issuer), None).await;
    let mut claims = f.claims();
    claims["iss"] = json!(issuer);
    let description = refused(
        f.exchange(&f.sign(&claims)).await,
        400,
        "invalid_request",
        90061,
    );
    assert!(
        description.starts_with("AADSTS90061: Request to External OIDC endpoint failed.\r\n"),
        "{description}"
    );
}

#[tokio::test]
async fn scope_without_default_is_1002012() {
    let f = Federation::start(None, None).await;
    let tenant = f.wid.creds.tenant_id.clone();
    let scope = f.wid.info().management_resource.clone();
    let answer = f
        .exchange_as(&tenant, &f.client_id, &f.sign(&f.claims()), &scope)
        .await;
    refused(answer, 400, "invalid_scope", 1002012);
}

/// Keys wid holds: create-token signs with the current key; a rotation publishes and signs
/// with a new one while the old stays published; removing the old one ends its tokens.
#[tokio::test]
async fn rotation_keeps_old_tokens_until_their_key_is_removed() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let cluster = |rest: &str| {
        wid.sub_path(&format!(
            "/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/own{rest}?{AKS}"
        ))
    };
    let made = wid
        .arm(Method::PUT, &cluster(""), Some(json!({"location": "eastus", "properties": {"oidcIssuerProfile": {"enabled": true}}})))
        .await
        .unwrap()
        .body
        .unwrap();
    let issuer = made["properties"]["oidcIssuerProfile"]["issuerURL"]
        .as_str()
        .unwrap()
        .to_owned();
    wid.arm(
        Method::PUT,
        &wid.sub_path(&format!(
            "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app/federatedIdentityCredentials/own?{}",
            super::MSI
        )),
        Some(json!({"properties": {"issuer": issuer, "subject": SUBJECT, "audiences": [AUDIENCE]}})),
    )
    .await
    .unwrap();
    let sa_token = || async {
        let body = json!({"namespace": "default", "serviceAccountName": "workload-identity-sa"});
        let answer = wid
            .arm(Method::POST, &cluster("/serviceAccountToken"), Some(body))
            .await
            .unwrap();
        answer.body.unwrap()["token"].as_str().unwrap().to_owned()
    };
    let kid_of = |jwt: &str| -> String {
        let header: Value =
            serde_json::from_slice(&b64::decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    let old = sa_token().await;
    assert_eq!(claims_of(&old)["iss"], issuer.as_str());
    assert_eq!(f.exchange(&old).await.0, 200);

    let rotated = wid
        .arm(
            Method::POST,
            &cluster("/rotateServiceAccountSigningKeys"),
            None,
        )
        .await
        .unwrap();
    assert_eq!((rotated.status, rotated.body), (202, None));
    let keys = wid
        .arm(Method::GET, &cluster("/issuerKeys"), None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(keys["value"].as_array().unwrap().len(), 2);
    let new = sa_token().await;
    assert_ne!(kid_of(&old), kid_of(&new));
    assert_eq!(
        f.exchange(&new).await.0,
        200,
        "the new key works as soon as it is published"
    );
    assert_eq!(f.exchange(&old).await.0, 200, "the old key stays published");

    let (status, _) = wid
        .raw(
            Method::DELETE,
            &cluster(&format!("/issuerKeys/{}", kid_of(&new))),
            Some(&wid.token().await),
            None,
        )
        .await;
    assert_eq!(status, 409, "the signing key cannot be removed");
    wid.arm(
        Method::DELETE,
        &cluster(&format!("/issuerKeys/{}", kid_of(&old))),
        None,
    )
    .await
    .unwrap();
    refused(f.exchange(&old).await, 401, "invalid_client", 7000272);
    assert_eq!(f.exchange(&new).await.0, 200);
}

/// A generated signing key leaves wid once, as PKCS#8 that signs tokens the exchange
/// accepts; a cluster that brought only public keys gets no tokens signed by wid.
#[tokio::test]
async fn signing_key_exports_once_and_public_only_issuers_sign_nothing() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let path = |name: &str, rest: &str| {
        wid.sub_path(&format!(
            "/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/{name}{rest}?{AKS}"
        ))
    };
    // The test's cluster holds only the public key the test brought.
    let (status, body) = wid
        .raw(
            Method::POST,
            &path("aks", "/serviceAccountToken"),
            Some(&wid.token().await),
            Some(
                json!({"namespace": "default", "serviceAccountName": "sa"})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(
        (status, super::error_code(&body)),
        (400, "BadRequest"),
        "{body}"
    );
    let (status, _) = wid
        .raw(
            Method::POST,
            &path("aks", "/exportServiceAccountSigningKey"),
            Some(&wid.token().await),
            None,
        )
        .await;
    assert_eq!(status, 400);

    let made = wid
        .arm(Method::PUT, &path("selfmanaged", ""), Some(json!({"location": "eastus", "properties": {"oidcIssuerProfile": {"enabled": true}}})))
        .await
        .unwrap()
        .body
        .unwrap();
    let issuer = made["properties"]["oidcIssuerProfile"]["issuerURL"]
        .as_str()
        .unwrap()
        .to_owned();
    let exported = wid
        .arm(
            Method::POST,
            &path("selfmanaged", "/exportServiceAccountSigningKey"),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(exported["issuer"], issuer.as_str());
    let key = SigningKey::from_pem(exported["privateKeyPem"].as_str().unwrap()).unwrap();
    assert_eq!(key.kid(), exported["kid"].as_str().unwrap());
    let (status, body) = wid
        .raw(
            Method::POST,
            &path("selfmanaged", "/exportServiceAccountSigningKey"),
            Some(&wid.token().await),
            None,
        )
        .await;
    assert_eq!(
        (status, super::error_code(&body)),
        (409, "Conflict"),
        "{body}"
    );

    // A token the self-managed API server signs with the exported key is exchanged.
    wid.arm(
        Method::PUT,
        &wid.sub_path(&format!(
            "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app/federatedIdentityCredentials/selfmanaged?{}",
            super::MSI
        )),
        Some(json!({"properties": {"issuer": issuer, "subject": SUBJECT, "audiences": [AUDIENCE]}})),
    )
    .await
    .unwrap();
    let mut claims = f.claims();
    claims["iss"] = json!(issuer);
    let token = key.sign_jwt(&claims, &HeaderParams::default()).unwrap();
    let (status, body) = f.exchange(&token).await;
    assert_eq!(status, 200, "{body}");
}
