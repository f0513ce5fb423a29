//! ARM request paths and resource names: the server's path normalization (which decides the
//! route, and so the authorization, a management request gets) and the name rules of
//! `wid_core::names`, with the ids `wid_core::resource_id` builds from accepted names.
//!
//! Input: a path, then newline-separated subscription, resource group, identity and
//! credential names.
//! Properties: normalizing only changes ASCII case, keeps every segment and is idempotent;
//! an accepted name never holds a `/` and, put into an id, comes out of normalization
//! unchanged in its own segment.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wid_core::{names, resource_id};
use wid_server::arm::normalize_path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\n');
    let path = parts.next().unwrap_or_default();
    check_normalization(path);

    let sub = parts.next().unwrap_or_default();
    let rg = parts.next().unwrap_or_default();
    let identity = parts.next().unwrap_or_default();
    let fic = parts.next().unwrap_or_default();
    let guid = names::is_guid(sub);
    assert_eq!(guid, names::subscription_id(sub).is_ok());
    for (name, ok) in [
        (rg, names::resource_group(rg).is_ok()),
        (identity, names::identity(identity).is_ok()),
        (fic, names::federated_credential(fic).is_ok()),
    ] {
        if ok {
            assert!(
                !name.is_empty() && !name.contains(['/', '?', '#', '%']),
                "{name:?}"
            );
        }
    }
    let sub = if guid {
        sub
    } else {
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
    };
    if names::resource_group(rg).is_ok() {
        names_survive(&resource_id::resource_group(sub, rg), &[(1, sub), (3, rg)]);
        names_survive(&resource_id::vault(sub, rg, "v1"), &[(3, rg), (7, "v1")]);
        if names::identity(identity).is_ok() {
            let id = resource_id::identity(sub, rg, identity);
            names_survive(&id, &[(1, sub), (3, rg), (7, identity)]);
            if names::federated_credential(fic).is_ok() {
                let id = resource_id::federated_credential(sub, rg, identity, fic);
                names_survive(&id, &[(3, rg), (7, identity), (9, fic)]);
            }
        }
    }
});

fn check_normalization(path: &str) {
    let Some(normal) = normalize_path(path) else {
        return;
    };
    assert!(
        normal.eq_ignore_ascii_case(path),
        "{path:?} became {normal:?}"
    );
    assert_eq!(normal.split('/').count(), path.split('/').count());
    assert_eq!(
        normalize_path(&normal).as_deref(),
        Some(normal.as_str()),
        "not idempotent on {path:?}"
    );
}

/// `segments` are (index after the leading `/`, name) pairs that must be kept verbatim.
fn names_survive(id: &str, segments: &[(usize, &str)]) {
    check_normalization(id);
    let normal = normalize_path(id).expect("an ARM id is a management path");
    let got: Vec<&str> = normal[1..].split('/').collect();
    for (i, name) in segments {
        assert_eq!(got.get(*i), Some(name), "{id:?} became {normal:?}");
    }
}
