//! Golden tests: each `golden/{case}.json` holds an AdmissionReview, the service account it
//! names and either the expected refusal or, in `golden/{case}.pod.json`, the pod the
//! returned patch produces. Every allowed case is also re-submitted as mutated, as the API
//! server does on reinvocation, and must then come back without a patch.
//!
//! `WID_UPDATE_GOLDEN=1 cargo test -p wid-webhook` rewrites the `.pod.json` files; review the
//! diff before committing it.

use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wid_webhook::{handle_review, Config, ServiceAccountLookup};

struct OneServiceAccount(Option<(String, String, BTreeMap<String, String>)>);

impl ServiceAccountLookup for OneServiceAccount {
    fn annotations(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        Ok(self
            .0
            .as_ref()
            .filter(|(ns, n, _)| ns == namespace && n == name)
            .map(|(_, _, a)| a.clone()))
    }
}

fn config(native_sidecar: bool) -> Config {
    Config {
        tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
        authority_host: "https://login.wid.example/".into(),
        audience: "api://AzureADTokenExchange".into(),
        proxy_image: "ghcr.io/wid/wid:test".into(),
        proxy_init_image: "ghcr.io/wid/wid:test".into(),
        log_level: String::new(),
        native_sidecar,
        custom_token_endpoint: None,
    }
}

fn patched(review: &Value, answer: &Value) -> Value {
    let mut pod = review["request"]["object"].clone();
    if let Some(patch) = answer["response"]["patch"].as_str() {
        assert_eq!(answer["response"]["patchType"], "JSONPatch");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .unwrap();
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
        json_patch::patch(&mut pod, &patch).unwrap();
    }
    pod
}

fn case(path: &Path) {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let sa = doc["serviceAccount"].as_object().map(|sa| {
        (
            sa["namespace"].as_str().unwrap().to_owned(),
            sa["name"].as_str().unwrap().to_owned(),
            serde_json::from_value(sa["annotations"].clone()).unwrap(),
        )
    });
    let lookup = OneServiceAccount(sa);
    let config = config(doc["nativeSidecar"].as_bool().unwrap());
    let review = &doc["review"];
    let answer = handle_review(&serde_json::to_vec(review).unwrap(), &config, &lookup);
    let name = path.display();
    assert_eq!(answer["apiVersion"], review["apiVersion"], "{name}");
    assert_eq!(answer["kind"], "AdmissionReview", "{name}");
    assert_eq!(
        answer["response"]["uid"], review["request"]["uid"],
        "{name}"
    );
    if let Some(expected) = doc["denied"].as_str() {
        assert_eq!(answer["response"]["allowed"], false, "{name}: {answer}");
        assert_eq!(answer["response"]["status"]["code"], 400, "{name}");
        let message = answer["response"]["status"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{name}: {message}");
        return;
    }
    assert_eq!(answer["response"]["allowed"], true, "{name}: {answer}");
    let pod = patched(review, &answer);
    let golden = path.with_extension("pod.json");
    if std::env::var_os("WID_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, serde_json::to_string_pretty(&pod).unwrap() + "\n").unwrap();
    }
    let expected: Value = serde_json::from_slice(
        &std::fs::read(&golden).unwrap_or_else(|_| panic!("{} missing", golden.display())),
    )
    .unwrap();
    assert_eq!(pod, expected, "{name}");
    // Reinvocation: the mutated pod needs nothing more.
    let mut again = review.clone();
    again["request"]["object"] = pod.clone();
    let answer = handle_review(&serde_json::to_vec(&again).unwrap(), &config, &lookup);
    assert_eq!(
        answer["response"],
        json!({"uid": review["request"]["uid"], "allowed": true}),
        "{name}: reinvocation"
    );
}

#[test]
fn golden_reviews() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().ends_with(".pod.json")
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 18, "golden cases missing");
    for path in &cases {
        case(path);
    }
}

#[test]
fn undecodable_requests_are_refused() {
    let lookup = OneServiceAccount(None);
    for body in [&b"not json"[..], br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, br#"{"apiVersion":"admission.k8s.io/v1","request":{"uid":"u","object":{"kind":"Service","spec":{}}}}"#] {
        let answer = handle_review(body, &config(false), &lookup);
        assert_eq!(answer["response"]["allowed"], false, "{answer}");
    }
}
