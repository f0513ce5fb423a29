//! Where the exchange's issuer fetches may connect (issue 13, finding 4). An issuer outside
//! wid on loopback is refused by default, whether named by address or by name, reached through
//! a redirect, or only its `jwks_uri`; the caller is told only that the fetch failed. wid's own
//! hosted issuers keep working, and `issuer_allowed_networks` admits what the operator names.

use super::exchange::{refused, Federation};
use super::{temp_dir, Wid, T0};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use wid_core::clock::ManualClock;
use wid_server::config::IpNet;

/// All a refused caller learns, whatever was refused or failed.
const GENERIC: &str = "AADSTS90061: Request to External OIDC endpoint failed.\r\n";

/// How one issuer of [`Outside`] answers its discovery URL.
enum Answer {
    Document { issuer: String, jwks_uri: String },
    Redirect(String),
}

/// OIDC issuers outside wid, on 127.0.0.1 and 127.0.0.2 with a self-signed certificate wid
/// is told to trust. Every issuer publishes the key of the last [`Outside::federation`]; each is
/// named by the first path segment, and its document is also served at `/{name}/doc`, which
/// redirects point to.
struct Outside {
    ca: PathBuf,
    /// `https://127.0.0.1:port`, `https://localhost:port` (the same listener) and
    /// `https://127.0.0.2:port`.
    one: String,
    named: String,
    two: String,
    issuers: HashMap<String, String>,
    served: Served,
    _stop: watch::Sender<bool>,
}

impl Outside {
    async fn start() -> Outside {
        let dir = temp_dir();
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "127.0.0.2".to_owned(),
        ])
        .unwrap();
        let ca = dir.join("outside.pem");
        std::fs::write(&ca, cert.cert.pem()).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let tls = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap(),
        );
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let second = TcpListener::bind("127.0.0.2:0").await.unwrap();
        let one = format!("https://127.0.0.1:{}", first.local_addr().unwrap().port());
        let named = format!("https://localhost:{}", first.local_addr().unwrap().port());
        let two = format!("https://127.0.0.2:{}", second.local_addr().unwrap().port());
        let issuers: HashMap<String, String> = [
            ("plain", &one),
            ("named", &named),
            ("allowed", &two),
            ("hop", &two),
            ("away", &two),
            ("jwks-literal", &two),
            ("jwks-named", &two),
        ]
        .into_iter()
        .map(|(name, base)| (name.to_owned(), format!("{base}/{name}/")))
        .collect();
        let document = |name: &str, jwks_base: &str| {
            let answer = Answer::Document {
                issuer: issuers[name].clone(),
                jwks_uri: format!("{jwks_base}/jwks"),
            };
            (name.to_owned(), answer)
        };
        let redirect = |name: &str, to: String| (format!("{name}/redirect"), Answer::Redirect(to));
        let answers: HashMap<String, Answer> = [
            document("plain", &one),
            document("named", &named),
            document("allowed", &two),
            document("hop", &two),
            document("away", &two),
            // A redirect on the same origin is followed…
            redirect("hop", format!("{two}/hop/doc")),
            // …one to another origin is not, although that serves the right document.
            redirect("away", format!("{one}/away/doc")),
            document("jwks-literal", &one),
            document("jwks-named", &named),
        ]
        .into_iter()
        .collect();
        let served: Served = Arc::new((answers, RwLock::new(Value::Null)));
        let app = Router::new()
            .route("/{name}/.well-known/openid-configuration", get(discovery))
            .route("/{name}/doc", get(redirected_document))
            .route("/jwks", get(published_keys))
            .with_state(served.clone());
        let (stop, stopped) = watch::channel(false);
        for listener in [first, second] {
            tokio::spawn(wid_server::serve_tls(
                listener,
                tls.clone(),
                app.clone(),
                Default::default(),
                stopped.clone(),
            ));
        }
        Outside {
            ca,
            one,
            named,
            two,
            issuers,
            served,
            _stop: stop,
        }
    }

    fn issuer(&self, name: &str) -> &str {
        &self.issuers[name]
    }

    /// A wid that trusts this issuer's certificate and allows `allowed`, with a credential
    /// for each of the issuers besides its own hosted one.
    async fn federation(&self, allowed: &[&str]) -> Federation {
        let ca = self.ca.clone();
        let allowed: Vec<IpNet> = allowed.iter().map(|n| n.parse().unwrap()).collect();
        let wid = Wid::start_configured(temp_dir(), ManualClock::new(T0), |c| {
            c.issuer_ca_files = vec![ca];
            c.issuer_allowed_networks = allowed;
        })
        .await;
        let f = Federation::on(wid, None, None).await;
        *self.served.1.write().unwrap() = f.jwks();
        for (name, issuer) in &self.issuers {
            f.federate(name, issuer).await;
        }
        f
    }
}

/// The answers by name, and the JWKS every issuer publishes.
type Served = Arc<(HashMap<String, Answer>, RwLock<Value>)>;

async fn published_keys(State(s): State<Served>) -> Json<Value> {
    Json(s.1.read().unwrap().clone())
}

fn answer(found: Option<&Answer>) -> Response {
    match found {
        Some(Answer::Document { issuer, jwks_uri }) => {
            Json(json!({"issuer": issuer, "jwks_uri": jwks_uri})).into_response()
        }
        Some(Answer::Redirect(to)) => Redirect::to(to).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn discovery(State(s): State<Served>, Path(name): Path<String>) -> Response {
    let redirect = s.0.get(&format!("{name}/redirect"));
    answer(redirect.or_else(|| s.0.get(&name)))
}

async fn redirected_document(State(s): State<Served>, Path(name): Path<String>) -> Response {
    answer(s.0.get(&name))
}

/// The exchange of an assertion `f` signs with `iss` = `issuer`.
async fn exchange(f: &Federation, issuer: &str) -> (u16, Value) {
    let mut claims = f.claims();
    claims["iss"] = json!(issuer);
    f.exchange(&f.sign(&claims)).await
}

async fn assert_generic_refusal(f: &Federation, outside: &Outside, name: &str) {
    let description = refused(
        exchange(f, outside.issuer(name)).await,
        400,
        "invalid_request",
        90061,
    );
    assert!(description.starts_with(GENERIC), "{name}: {description}");
    for detail in [&outside.one, &outside.two, &outside.named] {
        let host = detail.trim_start_matches("https://");
        assert!(!description.contains(host), "{name}: {description}");
    }
}

async fn assert_accepted(f: &Federation, issuer: &str) {
    let (status, body) = exchange(f, issuer).await;
    assert_eq!(status, 200, "{issuer}: {body}");
}

#[tokio::test]
async fn loopback_issuers_are_refused_by_address_and_by_name_but_wid_s_own_work() {
    let outside = Outside::start().await;
    let f = outside.federation(&[]).await;
    for name in ["plain", "named", "allowed"] {
        assert_generic_refusal(&f, &outside, name).await;
    }
    let hosted = f.claims()["iss"].as_str().unwrap().to_owned();
    assert_accepted(&f, &hosted).await;
}

#[tokio::test]
async fn what_the_operator_allows_is_fetched() {
    let outside = Outside::start().await;
    let f = outside.federation(&["127.0.0.0/8"]).await;
    for name in [
        "plain",
        "named",
        "allowed",
        "hop",
        "jwks-literal",
        "jwks-named",
    ] {
        assert_accepted(&f, outside.issuer(name)).await;
    }
    // Both ends are allowed, but a redirect to another host is still not followed.
    assert_generic_refusal(&f, &outside, "away").await;
}

#[tokio::test]
async fn redirects_and_jwks_uris_towards_refused_addresses_are_refused() {
    let outside = Outside::start().await;
    let f = outside.federation(&["127.0.0.2/32"]).await;
    assert_accepted(&f, outside.issuer("allowed")).await;
    assert_accepted(&f, outside.issuer("hop")).await;
    for name in ["away", "jwks-literal", "jwks-named", "plain", "named"] {
        assert_generic_refusal(&f, &outside, name).await;
    }
    let hosted = f.claims()["iss"].as_str().unwrap().to_owned();
    assert_accepted(&f, &hosted).await;
}
