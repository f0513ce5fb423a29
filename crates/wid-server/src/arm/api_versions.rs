//! wid's api-version policy, in one place: every resource provider namespace wid serves, its
//! resource types, and for each the versions of azure-rest-api-specs (stable and preview) up
//! to the newest wid knows. The rule applied to them is [`wid_core::api_version::resolve`]:
//! a listed version is served, a well-formed version newer than every listed one is served
//! with the newest shape, anything else is refused as ARM refuses it.
//!
//! A route's resource type is derived from its template when the route is registered (see
//! [`for_template`]), so a route whose type has no entry here cannot be registered, and no
//! handler checks versions itself.
//!
//! The lists were taken from the specification folders of azure-rest-api-specs and checked
//! against what the current clients send (azure-cli 2.91.0, azure-mgmt-containerservice
//! 41.8.0, azure-mgmt-keyvault 14.1.0, azure-mgmt-msi 7.1.0, azure-mgmt-resource 26.0.0,
//! azure-mgmt-authorization 4.0.0). To add a version, add it to its list.

use super::error::ArmError;
use wid_core::api_version::{self, Refused, Served};

/// How a resource provider refuses an unknown version: `Microsoft.Resources` (ARM itself)
/// says the parameter is invalid, the other providers that none of theirs matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownVersion {
    InvalidApiVersionParameter,
    NoRegisteredProviderFound,
}

#[derive(Debug)]
pub struct Namespace {
    pub name: &'static str,
    pub types: &'static [ResourceType],
    pub unknown: UnknownVersion,
}

#[derive(Debug)]
pub struct ResourceType {
    /// As ARM spells it in `resourceTypes`: `managedClusters`, `locations/deletedVaults`.
    pub name: &'static str,
    pub versions: &'static [&'static str],
    /// Regional (created in a location) or global (`checkNameAvailability`, `operations`).
    pub regional: bool,
}

/// The policy of one route: its namespace and resource type.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub namespace: &'static Namespace,
    pub resource_type: &'static ResourceType,
}

impl Policy {
    /// Decides the request's `api-version` (absent or empty: ARM's 400).
    pub fn check(&self, requested: Option<&str>) -> Result<Served, ArmError> {
        let requested = requested
            .filter(|v| !v.is_empty())
            .ok_or_else(ArmError::missing_api_version)?;
        let known = self.resource_type.versions;
        match api_version::resolve(known, requested) {
            Ok(served) => Ok(served),
            Err(Refused::IllFormed) => Err(ArmError::invalid_api_version(
                requested,
                &api_version::newest_first(known),
            )),
            Err(Refused::Unknown) => Err(match self.namespace.unknown {
                UnknownVersion::InvalidApiVersionParameter => {
                    ArmError::invalid_api_version(requested, &api_version::newest_first(known))
                }
                UnknownVersion::NoRegisteredProviderFound => ArmError::no_registered_provider(
                    requested,
                    self.resource_type.name,
                    &api_version::newest_first(known),
                ),
            }),
        }
    }
}

/// The resource type a route template serves, as ARM routes a request: by the namespace
/// after the last `providers` segment and the longest listed type made of the fixed
/// segments after it (an action such as `rotateServiceAccountSigningKeys` is served at its
/// resource's type). Without a namespace it is `Microsoft.Resources`, typed by the last
/// segment naming one of its types (`resourceGroups`, `providers`, …).
///
/// Panics when the type has no entry: registering a route without a version policy is a
/// programming error that every test building the router finds.
pub fn for_template(template: &str) -> Policy {
    lookup(template).unwrap_or_else(|| {
        panic!("route {template}: its resource type has no api-version policy in api_versions.rs")
    })
}

fn lookup(template: &str) -> Option<Policy> {
    let segments: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let is_placeholder = |s: &str| s.starts_with('{');
    let provider_at = segments.iter().enumerate().rev().find_map(|(i, s)| {
        let namespace = segments.get(i + 1)?;
        (s.eq_ignore_ascii_case("providers") && !is_placeholder(namespace)).then_some(i)
    });
    let Some(i) = provider_at else {
        let namespace = namespace("Microsoft.Resources")?;
        return segments.iter().rev().find_map(|s| {
            let resource_type = namespace.resource_type(s)?;
            Some(Policy {
                namespace,
                resource_type,
            })
        });
    };
    let namespace = namespace(segments[i + 1])?;
    let fixed: Vec<&str> = segments[i + 2..].iter().step_by(2).copied().collect();
    (1..=fixed.len()).rev().find_map(|n| {
        let resource_type = namespace.resource_type(&fixed[..n].join("/"))?;
        Some(Policy {
            namespace,
            resource_type,
        })
    })
}

fn namespace(name: &str) -> Option<&'static Namespace> {
    NAMESPACES
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name))
}

impl Namespace {
    fn resource_type(&'static self, name: &str) -> Option<&'static ResourceType> {
        self.types
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

const RESOURCES: &[&str] = &[
    "2014-04-01",
    "2015-01-01",
    "2015-11-01",
    "2016-02-01",
    "2016-06-01",
    "2016-07-01",
    "2016-09-01",
    "2017-05-10",
    "2017-08-01",
    "2018-02-01",
    "2018-05-01",
    "2019-03-01",
    "2019-05-01",
    "2019-05-10",
    "2019-06-01",
    "2019-07-01",
    "2019-08-01",
    "2019-10-01",
    "2019-11-01",
    "2020-01-01",
    "2020-06-01",
    "2020-08-01",
    "2020-10-01",
    "2021-01-01",
    "2021-04-01",
    "2022-01-01",
    "2022-09-01",
    "2022-12-01",
    "2023-07-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-01-01",
    "2025-03-01",
    "2025-04-01",
];

const MANAGED_IDENTITY: &[&str] = &[
    "2015-08-31-preview",
    "2018-11-30",
    "2021-09-30-preview",
    "2022-01-31-preview",
    "2023-01-31",
    "2023-07-31-preview",
    "2024-11-30",
    "2025-01-31-preview",
    "2025-05-31-preview",
    "2026-04-30",
    "2026-05-31",
];

const CONTAINER_SERVICE: &[&str] = &[
    "2017-08-31",
    "2018-03-31",
    "2018-08-01-preview",
    "2019-02-01",
    "2019-04-01",
    "2019-06-01",
    "2019-08-01",
    "2019-10-01",
    "2019-11-01",
    "2020-01-01",
    "2020-02-01",
    "2020-03-01",
    "2020-04-01",
    "2020-06-01",
    "2020-07-01",
    "2020-09-01",
    "2020-11-01",
    "2020-12-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-07-01",
    "2021-08-01",
    "2021-09-01",
    "2021-10-01",
    "2021-11-01-preview",
    "2022-01-01",
    "2022-01-02-preview",
    "2022-02-01",
    "2022-02-02-preview",
    "2022-03-01",
    "2022-03-02-preview",
    "2022-04-01",
    "2022-04-02-preview",
    "2022-05-02-preview",
    "2022-06-01",
    "2022-06-02-preview",
    "2022-07-01",
    "2022-07-02-preview",
    "2022-08-02-preview",
    "2022-08-03-preview",
    "2022-09-01",
    "2022-09-02-preview",
    "2022-10-02-preview",
    "2022-11-01",
    "2022-11-02-preview",
    "2023-01-01",
    "2023-01-02-preview",
    "2023-02-01",
    "2023-02-02-preview",
    "2023-03-01",
    "2023-03-02-preview",
    "2023-04-01",
    "2023-04-02-preview",
    "2023-05-01",
    "2023-05-02-preview",
    "2023-06-01",
    "2023-06-02-preview",
    "2023-07-01",
    "2023-07-02-preview",
    "2023-08-01",
    "2023-08-02-preview",
    "2023-09-01",
    "2023-09-02-preview",
    "2023-10-01",
    "2023-10-02-preview",
    "2023-11-01",
    "2023-11-02-preview",
    "2024-01-01",
    "2024-01-02-preview",
    "2024-02-01",
    "2024-02-02-preview",
    "2024-03-02-preview",
    "2024-04-02-preview",
    "2024-05-01",
    "2024-05-02-preview",
    "2024-06-02-preview",
    "2024-07-01",
    "2024-07-02-preview",
    "2024-08-01",
    "2024-09-01",
    "2024-09-02-preview",
    "2024-10-01",
    "2024-10-02-preview",
    "2025-01-01",
    "2025-01-02-preview",
    "2025-02-01",
    "2025-02-02-preview",
    "2025-03-01",
    "2025-03-02-preview",
    "2025-04-01",
    "2025-04-02-preview",
    "2025-05-01",
    "2025-05-02-preview",
    "2025-06-02-preview",
    "2025-07-01",
    "2025-07-02-preview",
    "2025-08-01",
    "2025-08-02-preview",
    "2025-09-01",
    "2025-09-02-preview",
    "2025-10-01",
    "2025-10-02-preview",
    "2026-01-01",
    "2026-01-02-preview",
    "2026-02-01",
    "2026-02-02-preview",
    "2026-03-01",
    "2026-03-02-preview",
    "2026-04-01",
    "2026-04-02-preview",
    "2026-05-01",
    "2026-05-02-preview",
    "2026-06-01",
    "2026-06-02-preview",
    "2026-07-01",
    "2026-07-02-preview",
    "2026-08-01",
    "2026-08-02-preview",
];

const KEY_VAULT: &[&str] = &[
    "2015-06-01",
    "2016-10-01",
    "2018-02-14",
    "2018-02-14-preview",
    "2019-09-01",
    "2020-04-01-preview",
    "2021-04-01-preview",
    "2021-06-01-preview",
    "2021-10-01",
    "2021-11-01-preview",
    "2022-02-01-preview",
    "2022-07-01",
    "2022-11-01",
    "2023-02-01",
    "2023-07-01",
    "2024-04-01-preview",
    "2024-11-01",
    "2024-12-01-preview",
    "2025-05-01",
    "2026-02-01",
    "2026-03-01-preview",
    "2026-05-15",
];

const AUTHORIZATION: &[&str] = &[
    "2015-07-01",
    "2018-01-01-preview",
    "2018-07-01",
    "2018-09-01-preview",
    "2020-03-01-preview",
    "2020-04-01-preview",
    "2020-08-01-preview",
    "2020-10-01-preview",
    "2021-04-01-preview",
    "2022-01-01-preview",
    "2022-04-01",
    "2022-05-01-preview",
    "2022-08-01-preview",
];

/// wid's own actions (key-encryption-key rotation); `wid` is their only client.
const WID: &[&str] = &["2021-04-01"];

const fn regional(name: &'static str, versions: &'static [&'static str]) -> ResourceType {
    ResourceType {
        name,
        versions,
        regional: true,
    }
}

const fn global(name: &'static str, versions: &'static [&'static str]) -> ResourceType {
    ResourceType {
        name,
        versions,
        regional: false,
    }
}

pub static NAMESPACES: &[Namespace] = &[
    Namespace {
        name: "Microsoft.Resources",
        unknown: UnknownVersion::InvalidApiVersionParameter,
        types: &[
            global("tenants", RESOURCES),
            global("subscriptions", RESOURCES),
            global("locations", RESOURCES),
            global("providers", RESOURCES),
            global("resourceGroups", RESOURCES),
            global("resources", RESOURCES),
        ],
    },
    Namespace {
        name: "Microsoft.ManagedIdentity",
        unknown: UnknownVersion::NoRegisteredProviderFound,
        types: &[
            regional("userAssignedIdentities", MANAGED_IDENTITY),
            regional(
                "userAssignedIdentities/federatedIdentityCredentials",
                MANAGED_IDENTITY,
            ),
            global("operations", MANAGED_IDENTITY),
        ],
    },
    Namespace {
        name: "Microsoft.ContainerService",
        unknown: UnknownVersion::NoRegisteredProviderFound,
        types: &[
            regional("managedClusters", CONTAINER_SERVICE),
            regional("locations/operations", CONTAINER_SERVICE),
            regional("locations/operationresults", CONTAINER_SERVICE),
            global("operations", CONTAINER_SERVICE),
        ],
    },
    Namespace {
        name: "Microsoft.KeyVault",
        unknown: UnknownVersion::NoRegisteredProviderFound,
        types: &[
            regional("vaults", KEY_VAULT),
            regional("vaults/secrets", KEY_VAULT),
            regional("vaults/accessPolicies", KEY_VAULT),
            global("deletedVaults", KEY_VAULT),
            global("deletedManagedHSMs", KEY_VAULT),
            regional("locations/deletedVaults", KEY_VAULT),
            regional("locations/operationResults", KEY_VAULT),
            global("checkNameAvailability", KEY_VAULT),
            global("operations", KEY_VAULT),
        ],
    },
    Namespace {
        name: "Microsoft.Authorization",
        unknown: UnknownVersion::NoRegisteredProviderFound,
        types: &[
            global("roleAssignments", AUTHORIZATION),
            global("roleDefinitions", AUTHORIZATION),
        ],
    },
    Namespace {
        name: "Microsoft.Wid",
        unknown: UnknownVersion::NoRegisteredProviderFound,
        types: &[global("rotateKeyEncryptionKey", WID)],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_typed_as_arm_routes_them() {
        for (template, namespace, resource_type) in [
            ("/tenants", "Microsoft.Resources", "tenants"),
            ("/subscriptions", "Microsoft.Resources", "subscriptions"),
            ("/subscriptions/{sub}", "Microsoft.Resources", "subscriptions"),
            ("/subscriptions/{sub}/resourceGroups/{rg}", "Microsoft.Resources", "resourceGroups"),
            ("/subscriptions/{sub}/providers", "Microsoft.Resources", "providers"),
            ("/subscriptions/{sub}/providers/{namespace}/register", "Microsoft.Resources", "providers"),
            (
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}/rotateServiceAccountSigningKeys",
                "Microsoft.ContainerService",
                "managedClusters",
            ),
            (
                "/subscriptions/{sub}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}/purge",
                "Microsoft.KeyVault",
                "locations/deletedVaults",
            ),
            (
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/federatedIdentityCredentials/{fic}",
                "Microsoft.ManagedIdentity",
                "userAssignedIdentities/federatedIdentityCredentials",
            ),
            (
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}/secrets/{secret}/providers/Microsoft.Authorization/roleAssignments/{assignment}",
                "Microsoft.Authorization",
                "roleAssignments",
            ),
        ] {
            let p = for_template(template);
            assert_eq!(
                (p.namespace.name, p.resource_type.name),
                (namespace, resource_type),
                "{template}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "no api-version policy")]
    fn an_unlisted_type_does_not_register() {
        for_template("/subscriptions/{sub}/providers/Microsoft.Storage/storageAccounts");
    }

    #[test]
    fn every_listed_version_is_well_formed() {
        for n in NAMESPACES {
            for t in n.types {
                for v in t.versions {
                    assert!(
                        wid_core::api_version::ApiVersion::parse(v).is_some(),
                        "{}/{}: {v}",
                        n.name,
                        t.name
                    );
                }
            }
        }
    }

    #[test]
    fn the_versions_of_released_clients_are_served() {
        for (template, version) in [
            // azure-cli 2.91.0, azure-mgmt-containerservice 41.8.0, azure-mgmt-keyvault 14.1.0.
            ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}", "2026-06-01"),
            ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}", "2026-08-01"),
            ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}", "2026-02-01"),
            ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}", "2026-05-15"),
            ("/subscriptions/{sub}/resources", "2015-11-01"),
            ("/subscriptions/{sub}/resourceGroups/{rg}", "2025-04-01"),
            ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/federatedIdentityCredentials/{fic}", "2022-01-31-PREVIEW"),
            ("/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{assignment}", "2022-04-01"),
        ] {
            assert!(
                matches!(for_template(template).check(Some(version)), Ok(Served::Known(_))),
                "{template} {version}"
            );
        }
    }
}
