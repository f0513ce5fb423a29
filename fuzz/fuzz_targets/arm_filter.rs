//! ARM's `$filter` on `GET …/resources`, as `wid_core::filter` parses and applies it: text
//! any caller of the listing sends.
//!
//! Input: the filter text.
//! Properties: parsing never panics and a refusal quotes the filter it refused; a parsed
//! filter decides every resource without panicking; a filter that names no tag decides a
//! resource the same whatever its tags.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wid_core::filter::{Candidate, ResourceFilter};
use wid_core::model::Tags;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let filter = match ResourceFilter::parse(text) {
        Ok(f) => f,
        Err(e) => {
            assert_eq!(e.filter, text);
            return;
        }
    };
    let tags: Tags = [("env".to_owned(), "prod".to_owned())]
        .into_iter()
        .collect();
    let none = Tags::new();
    for (resource_type, name, location, resource_group) in [
        ("Microsoft.KeyVault/vaults", "kv-one", "eastus", "rg"),
        (
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            "",
            "",
            "",
        ),
        (text, text, text, text),
    ] {
        let with = |tags| Candidate {
            resource_type,
            name,
            location,
            resource_group,
            tags,
        };
        let tagged = filter.matches(&with(&tags));
        let untagged = filter.matches(&with(&none));
        if !filter.filters_by_tag() {
            assert_eq!(tagged, untagged, "{text}");
        }
    }
});
