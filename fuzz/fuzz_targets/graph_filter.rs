//! Microsoft Graph's `$filter`, as `wid_core::graph_filter` parses and applies it: text any
//! caller of `/v1.0/servicePrincipals`, `/users` or `/applications` sends, and of the activity
//! logs (`/auditLogs/signIns`, a vault's `auditEvents`), whose queries it becomes.
//!
//! Input: the filter text.
//! Properties: parsing never panics; a parsed filter has between one and MAX_CLAUSES clauses,
//! each over an allowed property of the right shape; deciding an object never panics, and an
//! object with no values matches no clause; a sign-in or vault event query has one
//! condition per clause.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wid_core::graph_filter::{Clause, Filterable, GraphFilter, Shape, MAX_CLAUSES};
use wid_core::{sign_in, vault_audit};

const PROPERTIES: &[(&str, Shape)] = &[
    ("appId", Shape::Single),
    ("displayName", Shape::Single),
    ("servicePrincipalNames", Shape::Collection),
];

struct Object<'a>(&'a str);

impl Filterable for Object<'_> {
    fn values(&self, _: &str) -> Vec<&str> {
        if self.0.is_empty() {
            Vec::new()
        } else {
            vec![self.0]
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for properties in [PROPERTIES, sign_in::FILTERABLE, vault_audit::FILTERABLE] {
        check(text, properties);
    }
    if let (Ok(filter), Ok(query)) = (
        GraphFilter::parse(text, sign_in::FILTERABLE),
        sign_in::Query::from_filter(text),
    ) {
        assert_eq!(filter.all_of.len(), query.all_of.len(), "{text}");
    }
    if let (Ok(filter), Ok(query)) = (
        GraphFilter::parse(text, vault_audit::FILTERABLE),
        vault_audit::Query::from_filter(text),
    ) {
        assert_eq!(filter.all_of.len(), query.all_of.len(), "{text}");
    }
});

fn check(text: &str, properties: &[(&str, Shape)]) {
    let Ok(filter) = GraphFilter::parse(text, properties) else {
        return;
    };
    assert!(!filter.all_of.is_empty() && filter.all_of.len() <= MAX_CLAUSES);
    for clause in &filter.all_of {
        let (property, shape) = match clause {
            Clause::Eq { property, .. } | Clause::StartsWith { property, .. } => {
                (property, Shape::Single)
            }
            Clause::AnyEq { collection, .. } => (collection, Shape::Collection),
            Clause::Compare { property, .. } => (property, Shape::Ordered),
        };
        assert!(properties.contains(&(property.as_str(), shape)), "{text}");
    }
    assert!(!filter.matches(&Object("")), "{text}");
    let _ = filter.matches(&Object(text));
}
