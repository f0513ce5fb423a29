//! Fetching and caching the signing keys of OIDC issuers, as Entra does for federated
//! credentials: `{issuer}/.well-known/openid-configuration`, then its `jwks_uri`. Issuers wid
//! hosts itself take the same path over HTTPS, so what works here works for a real cluster.
//!
//! Where fetches may connect is decided by [`Destinations`]: by default only to public
//! addresses and wid's own origin. Why a fetch failed goes to wid's log; the caller learns
//! only that it failed, so the token endpoint cannot be used to probe what listens where.
//!
//! Keys are cached per issuer for [`FRESH_FOR`]; a token with an unknown `kid` triggers a
//! refresh (at most one per [`MIN_REFRESH_INTERVAL`]), and one fetch per issuer is in flight
//! at a time: concurrent requests wait for it and share its result.

use super::destinations::{Destinations, FilteredResolver, Route};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use thiserror::Error;
use wid_client::tls;
use wid_jose::{Jwks, VerifyingKey};

const FRESH_FOR: Duration = Duration::from_secs(300);
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Keys older than this are not used even when the issuer cannot be reached.
const MAX_STALE: Duration = Duration::from_secs(24 * 3600);
/// A failed fetch is reported to requests arriving this soon after, instead of re-fetching.
const FAILURE_HOLD: Duration = Duration::from_secs(2);
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Entra uses only the first 100 keys of an issuer's JWKS.
const MAX_KEYS: usize = 100;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REDIRECTS: usize = 3;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum LookupError {
    /// Discovery or JWKS could not be fetched or understood (AADSTS90061); why is in the log.
    #[error("the issuer's metadata could not be fetched")]
    Unreachable,
    /// The issuer does not publish the key (AADSTS7000272).
    #[error("unknown key")]
    UnknownKey,
}

pub struct IssuerKeys {
    destinations: Arc<Destinations>,
    /// For wid's own origin, wherever it resolves.
    own: reqwest::Client,
    /// For everything else: resolves names to permitted addresses only.
    external: reqwest::Client,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

#[derive(Default)]
struct Entry {
    state: RwLock<Cached>,
    fetching: tokio::sync::Mutex<()>,
}

type KeyMap = HashMap<String, Arc<VerifyingKey>>;

#[derive(Default, Clone)]
struct Cached {
    keys: Option<(Instant, Arc<KeyMap>)>,
    failure: Option<Instant>,
}

impl IssuerKeys {
    /// `extra_roots`: PEM certificates trusted besides the system's (wid's own CA, so the
    /// issuers wid hosts verify like any other).
    pub fn new(extra_roots: &[Vec<u8>], destinations: Destinations) -> Result<Self, String> {
        let destinations = Arc::new(destinations);
        let extra: Vec<&[u8]> = extra_roots.iter().map(Vec::as_slice).collect();
        let tls = tls::client_config(tls::Trust::SystemAnd(&extra))?.with_no_client_auth();
        let client = |resolver: Option<FilteredResolver>| {
            let builder = reqwest::Client::builder()
                .use_preconfigured_tls(tls.clone())
                .https_only(true)
                // A proxy would resolve and connect where the destination policy cannot see.
                .no_proxy()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .redirect(same_origin_redirects(destinations.clone()));
            match resolver {
                Some(r) => builder.dns_resolver(Arc::new(r)),
                None => builder,
            }
            .build()
            .map_err(|e| e.to_string())
        };
        Ok(Self {
            own: client(None)?,
            external: client(Some(FilteredResolver(destinations.clone())))?,
            destinations,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn entry(&self, issuer: &str) -> Arc<Entry> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.entry(issuer.to_owned()).or_default().clone()
    }

    /// Forgets every issuer: the keys of an issuer wid hosts changed on some replica, and
    /// which issuer is not worth a query.
    pub fn invalidate_all(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub async fn key(&self, issuer: &str, kid: &str) -> Result<Arc<VerifyingKey>, LookupError> {
        let entry = self.entry(issuer);
        let asked_at = Instant::now();
        let snapshot = entry
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, keys)) = &snapshot.keys {
            let age = asked_at.duration_since(*at);
            if age < FRESH_FOR {
                if let Some(k) = keys.get(kid) {
                    return Ok(k.clone());
                }
                if age < MIN_REFRESH_INTERVAL {
                    return Err(LookupError::UnknownKey);
                }
            }
        }
        let _guard = entry.fetching.lock().await;
        // Someone else may have fetched while we waited: use their result.
        let current = entry
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, keys)) = &current.keys {
            if *at >= asked_at {
                return keys.get(kid).cloned().ok_or(LookupError::UnknownKey);
            }
        }
        if let Some(at) = current.failure {
            if at >= asked_at || asked_at.duration_since(at) < FAILURE_HOLD {
                return stale(&current, kid).ok_or(LookupError::Unreachable);
            }
        }
        match self.fetch(issuer).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                let found = keys.get(kid).cloned();
                entry.state.write().unwrap_or_else(|e| e.into_inner()).keys =
                    Some((Instant::now(), keys));
                found.ok_or(LookupError::UnknownKey)
            }
            Err(message) => {
                tracing::warn!(issuer, error = %message, "issuer metadata unavailable");
                let mut state = entry.state.write().unwrap_or_else(|e| e.into_inner());
                state.failure = Some(Instant::now());
                stale(&state, kid).ok_or(LookupError::Unreachable)
            }
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<KeyMap, String> {
        let discovery_url = discovery_url(issuer);
        let discovery: Discovery = serde_json::from_slice(&self.get(&discovery_url).await?)
            .map_err(|e| format!("the discovery document at {discovery_url} is not valid: {e}"))?;
        if discovery.issuer != issuer {
            return Err(format!(
                "the discovery document at {discovery_url} names the issuer '{}', not '{issuer}'",
                discovery.issuer
            ));
        }
        if !discovery.jwks_uri.starts_with("https://") {
            return Err(format!(
                "the jwks_uri '{}' of {discovery_url} is not an https URL",
                discovery.jwks_uri
            ));
        }
        let jwks: Jwks = serde_json::from_slice(&self.get(&discovery.jwks_uri).await?)
            .map_err(|e| format!("the JWKS at {} is not valid: {e}", discovery.jwks_uri))?;
        let keys = jwks
            .keys
            .iter()
            .take(MAX_KEYS)
            .filter(|jwk| jwk.use_.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|jwk| {
                let kid = jwk.kid.clone()?;
                let key = VerifyingKey::from_jwk(jwk).ok()?;
                Some((kid, Arc::new(key)))
            })
            .collect();
        Ok(keys)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
        let http = match self.destinations.check_url(&parsed) {
            Ok(Route::Own) => &self.own,
            Ok(Route::External) => &self.external,
            Err(refused) => return Err(format!("GET {url} refused: {refused}")),
        };
        let mut response = http
            .get(parsed)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url} failed: {}", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GET {url} answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url} failed: {}", error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "GET {url}: the document exceeds {MAX_DOCUMENT_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Redirects stay on the origin the fetch started from, at most [`MAX_REDIRECTS`] of them.
/// Each hop is checked like a first request too, since an IP-literal target bypasses the
/// resolver.
fn same_origin_redirects(destinations: Arc<Destinations>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let from = attempt.previous().first().map(url::Url::origin);
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if let Err(refused) = destinations.check_url(attempt.url()) {
            attempt.error(refused)
        } else if from.as_ref() != Some(&attempt.url().origin()) {
            let to = attempt.url().origin().ascii_serialization();
            attempt.error(format!("redirect to another origin ({to})"))
        } else {
            attempt.follow()
        }
    })
}

/// Keys that are no longer fresh still verify while the issuer is unreachable, for a while.
fn stale(cached: &Cached, kid: &str) -> Option<Arc<VerifyingKey>> {
    let (at, keys) = cached.keys.as_ref()?;
    (at.elapsed() < MAX_STALE).then(|| keys.get(kid).cloned())?
}

/// With a trailing-slash issuer the document sits right under it, the slash not doubled.
pub fn discovery_url(issuer: &str) -> String {
    if issuer.ends_with('/') {
        format!("{issuer}.well-known/openid-configuration")
    } else {
        format!("{issuer}/.well-known/openid-configuration")
    }
}

#[derive(serde::Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn discovery_urls_do_not_double_the_slash() {
        assert_eq!(
            super::discovery_url("https://h/t/c/"),
            "https://h/t/c/.well-known/openid-configuration"
        );
        assert_eq!(
            super::discovery_url("https://h"),
            "https://h/.well-known/openid-configuration"
        );
    }
}
