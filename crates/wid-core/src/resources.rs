//! Which resources the token service issues tokens for, and the audience each token carries.
//!
//! Entra issues tokens for Microsoft's first-party resources in every tenant: their service
//! principals exist everywhere, so a workload can ask for `https://storage.azure.com/.default`
//! without anyone registering Storage first. wid does the same for the well-known ones listed
//! in [`FIRST_PARTY`], for the resources an operator adds (`wid up --resource`), and for its
//! own planes. It does not serve the first-party services: the tokens are for code that calls
//! them (or something standing in for them) with wid as its token service. wid's own planes
//! accept only their own audiences, so such a token opens nothing in wid.
//!
//! All of these are v1.0-token resources (none sets `requestedAccessTokenVersion` 2), and a
//! v1.0 token's `aud` is the identifier the request used: the URI as written, trailing slash
//! included or not, or the application id (Entra's access token claims reference). A
//! resource is matched as Entra matches a scope's resource: by one of its identifier URIs,
//! with or without a trailing slash, or by its application id.

use thiserror::Error;

/// A Microsoft first-party application that is a token resource in every tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstParty {
    pub name: &'static str,
    /// The application (client) id of its service principal.
    pub app_id: &'static str,
    /// Its identifier URIs, as the service's SDKs write them in scopes.
    pub uris: &'static [&'static str],
}

/// Well-known first-party resources, with the identifier URIs their SDKs ask for.
pub const FIRST_PARTY: &[FirstParty] = &[
    FirstParty {
        name: "Azure Resource Manager",
        app_id: "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        uris: &[
            "https://management.azure.com/",
            "https://management.core.windows.net/",
        ],
    },
    FirstParty {
        name: "Azure Key Vault",
        app_id: "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
        uris: &["https://vault.azure.net"],
    },
    FirstParty {
        name: "Azure Key Vault Managed HSM",
        app_id: "1341df96-0b28-43da-ba24-7a6ce39be816",
        uris: &["https://managedhsm.azure.net"],
    },
    FirstParty {
        name: "Azure Storage",
        app_id: "e406a681-f3d4-42a8-90b6-c2b029497af1",
        uris: &["https://storage.azure.com"],
    },
    FirstParty {
        name: "Microsoft Graph",
        app_id: "00000003-0000-0000-c000-000000000000",
        uris: &["https://graph.microsoft.com"],
    },
    FirstParty {
        name: "Azure SQL Database",
        app_id: "022907d3-0f1b-48f7-badc-1ba6abab6d66",
        uris: &["https://database.windows.net/"],
    },
    FirstParty {
        name: "Azure Database for PostgreSQL and MySQL",
        app_id: "123cd850-d9df-40bd-94d5-c9f07b7fa203",
        uris: &["https://ossrdbms-aad.database.windows.net"],
    },
    FirstParty {
        name: "Azure Cosmos DB",
        app_id: "a232010e-820c-4083-83bb-3ace5fc29d0b",
        uris: &["https://cosmos.azure.com"],
    },
    FirstParty {
        name: "Azure Service Bus",
        app_id: "80a10ef9-8168-493d-abf9-3297c4ef6e3c",
        uris: &["https://servicebus.azure.net"],
    },
    FirstParty {
        name: "Azure Event Hubs",
        app_id: "80369ed6-5f11-4dd9-bef3-692475845e77",
        uris: &["https://eventhubs.azure.net"],
    },
    FirstParty {
        name: "Azure Container Registry",
        app_id: "6a0ec4d3-30cb-4a83-91c0-ae56bc0e3d26",
        uris: &["https://containerregistry.azure.net"],
    },
    FirstParty {
        name: "Azure Kubernetes Service AAD Server",
        app_id: "6dae42f8-4368-4678-94ff-3960e28e3630",
        uris: &[],
    },
    FirstParty {
        name: "Azure App Configuration",
        app_id: "35ffadb3-7fc1-497e-b61b-381d28e744cc",
        uris: &["https://azconfig.io"],
    },
    FirstParty {
        name: "Azure AI services (Cognitive Services, Azure OpenAI)",
        app_id: "7d312290-28c8-473c-a0ed-8e53749b6d6d",
        uris: &["https://cognitiveservices.azure.com"],
    },
    FirstParty {
        name: "Azure AI Search",
        app_id: "880da380-985e-4198-81b9-e05b1cc53158",
        uris: &["https://search.azure.com"],
    },
    FirstParty {
        name: "Log Analytics API",
        app_id: "ca7f3f0b-7d91-482c-8e09-c5d840d0eac5",
        uris: &["https://api.loganalytics.io"],
    },
    FirstParty {
        name: "Application Insights API",
        app_id: "f5c26e74-f226-4ae8-85f0-b4af0080ac9e",
        uris: &["https://api.applicationinsights.io"],
    },
    FirstParty {
        name: "Azure Batch",
        app_id: "ddbf3205-c6bd-46ae-8127-60eb93363864",
        uris: &["https://batch.core.windows.net/"],
    },
    FirstParty {
        name: "Azure Data Lake",
        app_id: "e9f49c6b-5ce5-44c8-925d-015017e9f7ad",
        uris: &["https://datalake.azure.net/"],
    },
    FirstParty {
        name: "Azure Attestation",
        app_id: "c61423b7-1d1f-430d-b444-0eee53298103",
        uris: &["https://attest.azure.net"],
    },
    FirstParty {
        name: "Azure Digital Twins",
        app_id: "0b07f429-9f4b-4714-9392-cc5e8e80c8b0",
        uris: &["https://digitaltwins.azure.net"],
    },
    FirstParty {
        name: "Azure DevOps",
        app_id: "499b84ac-1321-427f-aa17-267ca6975798",
        uris: &[],
    },
];

/// Whether a request names `identifier`: URIs compare exactly up to one trailing slash,
/// application ids (GUIDs) without regard to case.
fn names(requested: &str, identifier: &str) -> bool {
    if crate::names::is_guid(identifier) {
        return requested.eq_ignore_ascii_case(identifier);
    }
    fn trim(s: &str) -> &str {
        s.strip_suffix('/').unwrap_or(s)
    }
    trim(requested) == trim(identifier)
}

/// The first-party resource `requested` names, if any.
pub fn first_party(requested: &str) -> Option<&'static FirstParty> {
    FIRST_PARTY
        .iter()
        .find(|fp| names(requested, fp.app_id) || fp.uris.iter().any(|u| names(requested, u)))
}

/// The `aud` of a token for `requested`, or `None` when wid knows no such resource (Entra's
/// AADSTS500011). `own` says whether it is one of wid's planes (see
/// [`crate::cloud::Cloud::serves_resource`]); `added` are the operator's `--resource` values.
pub fn audience(requested: &str, own: bool, added: &[String]) -> Option<String> {
    let known =
        own || first_party(requested).is_some() || added.iter().any(|a| names(requested, a));
    known.then(|| requested.to_owned())
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ResourceError {
    #[error("'{0}' is not a resource identifier: give an absolute URI (https://…, api://…) or an application id")]
    NotAnIdentifier(String),
    #[error("'{0}' is a scope: give the resource without '/.default'")]
    Scope(String),
}

/// Checks an operator's `--resource`: an absolute URI or an application id, without a
/// `/.default` suffix (that is how clients ask for it, not what it is).
pub fn validate_added(resource: &str) -> Result<(), ResourceError> {
    let not = || ResourceError::NotAnIdentifier(resource.to_owned());
    if resource.ends_with("/.default") {
        return Err(ResourceError::Scope(resource.to_owned()));
    }
    if crate::names::is_guid(resource) {
        return Ok(());
    }
    if resource.len() > 600
        || resource
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(not());
    }
    let (scheme, rest) = resource.split_once("://").ok_or_else(not)?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if scheme_ok && !rest.trim_matches('/').is_empty() {
        Ok(())
    } else {
        Err(not())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_party_resources_by_uri_or_app_id() {
        for (requested, name) in [
            ("https://vault.azure.net", Some("Azure Key Vault")),
            ("https://vault.azure.net/", Some("Azure Key Vault")),
            (
                "https://management.azure.com",
                Some("Azure Resource Manager"),
            ),
            (
                "https://management.azure.com/",
                Some("Azure Resource Manager"),
            ),
            (
                "https://management.core.windows.net/",
                Some("Azure Resource Manager"),
            ),
            ("https://storage.azure.com", Some("Azure Storage")),
            ("https://graph.microsoft.com", Some("Microsoft Graph")),
            ("https://database.windows.net", Some("Azure SQL Database")),
            ("https://database.windows.net/", Some("Azure SQL Database")),
            (
                "6dae42f8-4368-4678-94ff-3960e28e3630",
                Some("Azure Kubernetes Service AAD Server"),
            ),
            (
                "CFA8B339-82A2-471A-A3C9-0FC0BE7A4093",
                Some("Azure Key Vault"),
            ),
            ("https://servicebus.azure.net", Some("Azure Service Bus")),
            ("https://eventhubs.azure.net", Some("Azure Event Hubs")),
            ("https://cosmos.azure.com", Some("Azure Cosmos DB")),
            (
                "https://containerregistry.azure.net",
                Some("Azure Container Registry"),
            ),
            // Not the same resource: two slashes, another host, a path, another case.
            ("https://vault.azure.net//", None),
            ("https://myvault.vault.azure.net", None),
            ("https://storage.azure.com/x", None),
            ("HTTPS://VAULT.AZURE.NET", None),
            ("http://vault.azure.net", None),
            ("vault.azure.net", None),
            ("00000000-0000-0000-0000-000000000000", None),
            ("", None),
        ] {
            assert_eq!(
                first_party(requested).map(|fp| fp.name),
                name,
                "{requested}"
            );
        }
    }

    /// The audience is the identifier as the request wrote it (v1.0 tokens).
    #[test]
    fn audiences() {
        let added = vec![
            "api://my-api".to_owned(),
            "https://contoso.example/".to_owned(),
            "11111111-2222-3333-4444-555555555555".to_owned(),
        ];
        for (requested, own, aud) in [
            (
                "https://storage.azure.com",
                false,
                Some("https://storage.azure.com"),
            ),
            (
                "https://storage.azure.com/",
                false,
                Some("https://storage.azure.com/"),
            ),
            (
                "https://management.azure.com",
                false,
                Some("https://management.azure.com"),
            ),
            (
                "6dae42f8-4368-4678-94ff-3960e28e3630",
                false,
                Some("6dae42f8-4368-4678-94ff-3960e28e3630"),
            ),
            (
                "https://management.wid.localhost/",
                true,
                Some("https://management.wid.localhost/"),
            ),
            ("api://my-api", false, Some("api://my-api")),
            ("api://my-api/", false, Some("api://my-api/")),
            (
                "https://contoso.example",
                false,
                Some("https://contoso.example"),
            ),
            (
                "11111111-2222-3333-4444-555555555555",
                false,
                Some("11111111-2222-3333-4444-555555555555"),
            ),
            ("api://other", false, None),
            ("https://management.wid.localhost/", false, None),
            ("https://unknown.example", false, None),
        ] {
            assert_eq!(
                audience(requested, own, &added).as_deref(),
                aud,
                "{requested}"
            );
        }
    }

    #[test]
    fn added_resources_are_identifiers() {
        for ok in [
            "https://contoso.example",
            "api://my-api",
            "api://11111111-2222-3333-4444-555555555555",
            "11111111-2222-3333-4444-555555555555",
            "https://x.example/path/",
        ] {
            assert_eq!(validate_added(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "contoso",
            "https://",
            "://x",
            "1http://x",
            "https://a b",
            "api:///",
        ] {
            assert!(
                matches!(validate_added(bad), Err(ResourceError::NotAnIdentifier(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            validate_added("https://contoso.example/.default"),
            Err(ResourceError::Scope(_))
        ));
    }

    /// The table itself: application ids are GUIDs, none twice, and no URI belongs to two
    /// resources.
    #[test]
    fn the_table_is_consistent() {
        let mut ids = std::collections::BTreeSet::new();
        let mut uris = std::collections::BTreeSet::new();
        for fp in FIRST_PARTY {
            assert!(crate::names::is_guid(fp.app_id), "{}", fp.name);
            assert!(ids.insert(fp.app_id.to_ascii_lowercase()), "{}", fp.name);
            for u in fp.uris {
                assert!(u.starts_with("https://"), "{u}");
                assert!(uris.insert(u.trim_end_matches('/')), "{u}");
            }
        }
    }
}
