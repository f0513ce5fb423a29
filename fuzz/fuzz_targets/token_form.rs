//! The token endpoint's `application/x-www-form-urlencoded` body and `Authorization`
//! header, read by the server's own `TokenRequest::from_form`, then the scope parsing of the
//! v2.0 endpoint. Unauthenticated input: anyone on the network sends it.
//!
//! Input: the `Authorization` header, a newline, the body (no newline: no header).
//! Properties: no field reads as present but empty; each field is the first value of its name
//! as serde_urlencoded reads the body; the fields re-encoded as a form read back the same; a
//! resource taken from a scope is that scope without `/.default`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wid_server::sts::token::TokenRequest;

fuzz_target!(|data: &[u8]| {
    let (authorization, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    let req = TokenRequest::from_form(body, authorization);
    let fields = fields(&req);
    for (name, value) in &fields {
        assert!(
            value.as_deref() != Some(""),
            "{name} reads as present but empty"
        );
    }

    // The same fields as a general form parser reads them: the first value of each name.
    if authorization.is_none() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        for (name, value) in &fields {
            let first = pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str());
            assert_eq!(value.as_deref(), first.filter(|v| !v.is_empty()), "{name}");
        }
    }

    let present: Vec<(&str, &str)> = fields
        .iter()
        .filter_map(|(n, v)| Some((*n, v.as_deref()?)))
        .collect();
    let form = serde_urlencoded::to_string(&present).expect("strings encode as a form");
    let again = TokenRequest::from_form(form.as_bytes(), None);
    assert_eq!(fields, self::fields(&again), "form: {form}");

    for requested in [&req.scope, &req.resource].into_iter().flatten() {
        if let Ok(resource) = wid_core::token::resource_from_scope(requested) {
            assert!(!resource.is_empty());
            assert_eq!(requested.trim(), format!("{resource}/.default"));
        }
    }
});

fn fields(req: &TokenRequest) -> [(&'static str, Option<String>); 7] {
    [
        ("grant_type", req.grant_type.clone()),
        ("client_id", req.client_id.clone()),
        ("client_secret", req.client_secret.clone()),
        ("client_assertion", req.client_assertion.clone()),
        ("client_assertion_type", req.client_assertion_type.clone()),
        ("scope", req.scope.clone()),
        ("resource", req.resource.clone()),
    ]
}
