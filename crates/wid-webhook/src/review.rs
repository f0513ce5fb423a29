//! `AdmissionReview` in, `AdmissionReview` out (`admission.k8s.io/v1` and `v1beta1`): the
//! thin layer between the HTTP handler and [`crate::mutate`].

use crate::mutate::{mutate, Config};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Finds a service account's annotations: `Ok(None)` when it does not exist.
pub trait ServiceAccountLookup {
    fn annotations(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String>;
}

/// The pod's namespace (the request's when the object has none) and service account
/// (`default` when it names none).
fn target_of(request: &Value) -> (String, String) {
    let pod = &request["object"];
    let namespace = pod["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or_else(|| request["namespace"].as_str())
        .unwrap_or("default");
    let service_account = pod["spec"]["serviceAccountName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or("default");
    (namespace.to_owned(), service_account.to_owned())
}

/// Which service account a review needs, so an async caller can fetch it first; `None`
/// when it is no review (then [`handle_review_value`] says why).
pub fn review_target(review: &Value) -> Option<(String, String)> {
    review["request"]
        .is_object()
        .then(|| target_of(&review["request"]))
}

fn response(uid: &Value, api_version: &str, body: Value) -> Value {
    let mut response = body;
    response["uid"] = uid.clone();
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response})
}

fn denied(uid: &Value, api_version: &str, message: String) -> Value {
    response(
        uid,
        api_version,
        json!({"allowed": false, "status": {"code": 400, "message": message}}),
    )
}

/// Answers one review. Undecodable requests, unknown service accounts and invalid
/// annotations are denied with a message saying which; a pod needing no change is allowed
/// without a patch.
pub fn handle_review(body: &[u8], config: &Config, lookup: &dyn ServiceAccountLookup) -> Value {
    match serde_json::from_slice(body) {
        Ok(review) => handle_review_value(&review, config, lookup),
        Err(e) => denied(
            &Value::Null,
            "admission.k8s.io/v1",
            format!("the request is not an AdmissionReview: {e}"),
        ),
    }
}

/// As [`handle_review`], for a review already parsed (a server parses once, to find the
/// service account first).
pub fn handle_review_value(
    review: &Value,
    config: &Config,
    lookup: &dyn ServiceAccountLookup,
) -> Value {
    let api_version = match review["apiVersion"].as_str() {
        Some(v @ ("admission.k8s.io/v1" | "admission.k8s.io/v1beta1")) => v.to_owned(),
        _ => "admission.k8s.io/v1".to_owned(),
    };
    let request = &review["request"];
    let uid = &request["uid"];
    if !request.is_object() || !uid.is_string() {
        return denied(
            uid,
            &api_version,
            "the AdmissionReview has no request or no uid".to_owned(),
        );
    }
    let pod = &request["object"];
    if pod["kind"].as_str().is_some_and(|k| k != "Pod") || !pod["spec"].is_object() {
        return denied(
            uid,
            &api_version,
            "the AdmissionReview does not carry a pod".to_owned(),
        );
    }
    let (namespace, service_account) = target_of(request);
    let service_account = service_account.as_str();
    let annotations = match lookup.annotations(&namespace, service_account) {
        Ok(Some(a)) => a,
        Ok(None) => {
            return denied(
                uid,
                &api_version,
                format!(
                    "serviceaccounts \"{service_account}\" not found in namespace \"{namespace}\""
                ),
            )
        }
        Err(e) => {
            return denied(
                uid,
                &api_version,
                format!("failed to get service account {namespace}/{service_account}: {e}"),
            )
        }
    };
    let mutated = match mutate(pod, &annotations, config) {
        Ok(m) => m,
        Err(e) => return denied(uid, &api_version, e.to_string()),
    };
    let patch = json_patch::diff(pod, &mutated);
    if patch.0.is_empty() {
        return response(uid, &api_version, json!({"allowed": true}));
    }
    let bytes = serde_json::to_vec(&patch).unwrap_or_default();
    response(
        uid,
        &api_version,
        json!({
            "allowed": true,
            "patchType": "JSONPatch",
            "patch": base64::engine::general_purpose::STANDARD.encode(bytes),
        }),
    )
}
