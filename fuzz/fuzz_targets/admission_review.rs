//! An `AdmissionReview` as kube-apiserver posts it to the webhook: the pod is whatever a
//! user with `create pods` wrote. The review goes through `handle_review` with a fixed
//! configuration and a fixed set of service accounts.
//!
//! Properties: it never panics; the answer is an `AdmissionReview` carrying the request's
//! uid; a patch, applied to the pod, gives exactly what `mutate` returns; and mutating that
//! result again changes nothing, because kube-apiserver may call the webhook again on the
//! pod it already mutated (`reinvocationPolicy: IfNeeded`).

#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::collections::BTreeMap;
use wid_webhook::mutate::{CLIENT_ID_ANNOTATION, TOKEN_EXPIRATION_ANNOTATION};
use wid_webhook::{handle_review_value, mutate, Config, ServiceAccountLookup};

/// `default/*` exist with workload identity annotations, `other/*` exist bare, `broken/*`
/// fail to be read, anything else does not exist.
struct Accounts;

impl ServiceAccountLookup for Accounts {
    fn annotations(
        &self,
        namespace: &str,
        _name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        match namespace {
            "default" => Ok(Some(BTreeMap::from([
                (
                    CLIENT_ID_ANNOTATION.to_owned(),
                    "5c6a3c5b-6b4e-4b8e-9d3e-0c7d7f2b1a01".to_owned(),
                ),
                (TOKEN_EXPIRATION_ANNOTATION.to_owned(), "7200".to_owned()),
            ]))),
            "other" => Ok(Some(BTreeMap::new())),
            "broken" => Err("the API server is unavailable".to_owned()),
            _ => Ok(None),
        }
    }
}

fn config(native_sidecar: bool) -> Config {
    Config {
        tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(),
        authority_host: "https://wid.example/".to_owned(),
        audience: "api://AzureADTokenExchange".to_owned(),
        proxy_image: "ghcr.io/example/wid:1".to_owned(),
        proxy_init_image: "ghcr.io/example/wid:1".to_owned(),
        log_level: String::new(),
        native_sidecar,
        custom_token_endpoint: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((flags, body)) = data.split_first() else {
        return;
    };
    let config = config(flags & 1 != 0);
    let answer = wid_webhook::handle_review(body, &config, &Accounts);
    assert_eq!(answer["kind"], "AdmissionReview");
    let response = &answer["response"];
    let allowed = response["allowed"]
        .as_bool()
        .expect("every answer says whether it allows");
    let Ok(review) = serde_json::from_slice::<Value>(body) else {
        assert!(!allowed);
        return;
    };
    assert_eq!(answer, handle_review_value(&review, &config, &Accounts));
    let request = &review["request"];
    if request["uid"].is_string() {
        assert_eq!(response["uid"], request["uid"]);
    }
    if !allowed {
        return;
    }
    let pod = &request["object"];
    let sa = wid_webhook::review_target(&review)
        .and_then(|(ns, name)| Accounts.annotations(&ns, &name).ok().flatten())
        .expect("an allowed review names a service account that exists");
    let mutated = mutate(pod, &sa, &config).expect("an allowed review's pod mutates");
    let mut patched = pod.clone();
    if let Some(patch) = response["patch"].as_str() {
        assert_eq!(response["patchType"], "JSONPatch");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .expect("the patch is base64");
        const RAW_VALUE_TOKEN: &[u8] = b"$serde_json::private::RawValue";
        if bytes
            .windows(RAW_VALUE_TOKEN.len())
            .any(|w| w == RAW_VALUE_TOKEN)
        {
            // serde_json (not kube-apiserver) cannot read back an object whose first key is
            // its private RawValue token; such a pod's patch is checked no further.
            return;
        }
        let patch: json_patch::Patch =
            serde_json::from_slice(&bytes).expect("the patch is a JSON patch");
        json_patch::patch(&mut patched, &patch).expect("the patch applies to the pod");
    }
    assert_eq!(patched, mutated);
    let twice = mutate(&mutated, &sa, &config).expect("a mutated pod mutates again");
    assert_eq!(twice, mutated, "a second mutation changed the pod");
});
