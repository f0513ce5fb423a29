//! Resource providers and locations (`az provider list|show|register`, `az account
//! list-locations`): what clients read to learn which api-versions and regions a resource
//! type has. Everything here derives from the api-version policy, so the document can never
//! disagree with what the routes serve.

use super::api_versions::{Namespace, NAMESPACES};
use super::auth::Caller;
use super::error::ArmError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use wid_core::api_version::{newest_first, ApiVersion};
use wid_core::resource_id;
use wid_types::arm::Page;
use wid_types::resources as wire;

/// The public regions, `(name, display name, geography)`. wid has no regions of its own: it
/// accepts every location and lists these where ARM lists a type's locations.
const REGIONS: &[(&str, &str, &str)] = &[
    ("eastus", "East US", "US"),
    ("eastus2", "East US 2", "US"),
    ("southcentralus", "South Central US", "US"),
    ("westus2", "West US 2", "US"),
    ("westus3", "West US 3", "US"),
    ("centralus", "Central US", "US"),
    ("northcentralus", "North Central US", "US"),
    ("westus", "West US", "US"),
    ("westcentralus", "West Central US", "US"),
    ("canadacentral", "Canada Central", "Canada"),
    ("canadaeast", "Canada East", "Canada"),
    ("brazilsouth", "Brazil South", "South America"),
    ("northeurope", "North Europe", "Europe"),
    ("westeurope", "West Europe", "Europe"),
    ("uksouth", "UK South", "UK"),
    ("ukwest", "UK West", "UK"),
    ("francecentral", "France Central", "Europe"),
    ("germanywestcentral", "Germany West Central", "Europe"),
    ("swedencentral", "Sweden Central", "Europe"),
    ("switzerlandnorth", "Switzerland North", "Europe"),
    ("norwayeast", "Norway East", "Europe"),
    ("polandcentral", "Poland Central", "Europe"),
    ("italynorth", "Italy North", "Europe"),
    ("spaincentral", "Spain Central", "Europe"),
    ("uaenorth", "UAE North", "Middle East"),
    ("qatarcentral", "Qatar Central", "Middle East"),
    ("israelcentral", "Israel Central", "Middle East"),
    ("southafricanorth", "South Africa North", "Africa"),
    ("centralindia", "Central India", "Asia Pacific"),
    ("southindia", "South India", "Asia Pacific"),
    ("eastasia", "East Asia", "Asia Pacific"),
    ("southeastasia", "Southeast Asia", "Asia Pacific"),
    ("japaneast", "Japan East", "Asia Pacific"),
    ("japanwest", "Japan West", "Asia Pacific"),
    ("koreacentral", "Korea Central", "Asia Pacific"),
    ("australiaeast", "Australia East", "Asia Pacific"),
    ("australiasoutheast", "Australia Southeast", "Asia Pacific"),
    ("newzealandnorth", "New Zealand North", "Asia Pacific"),
    ("mexicocentral", "Mexico Central", "Mexico"),
];

fn render(sub: &str, namespace: &Namespace) -> wire::Provider {
    let regions: Vec<String> = REGIONS.iter().map(|r| r.1.to_owned()).collect();
    wire::Provider {
        id: format!(
            "{}/providers/{}",
            resource_id::subscription(sub),
            namespace.name
        ),
        namespace: namespace.name.to_owned(),
        registration_state: "Registered".to_owned(),
        registration_policy: "RegistrationRequired".to_owned(),
        resource_types: namespace
            .types
            .iter()
            .map(|t| {
                let versions = newest_first(t.versions);
                wire::ProviderResourceType {
                    resource_type: t.name.to_owned(),
                    locations: if t.regional {
                        regions.clone()
                    } else {
                        Vec::new()
                    },
                    default_api_version: versions
                        .iter()
                        .find(|v| ApiVersion::parse(v).is_some_and(|v| !v.is_preview()))
                        .or(versions.first())
                        .map(|v| (*v).to_owned())
                        .unwrap_or_default(),
                    api_versions: versions.into_iter().map(str::to_owned).collect(),
                }
            })
            .collect(),
    }
}

fn namespace(name: &str) -> Result<&'static Namespace, ArmError> {
    NAMESPACES
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            ArmError::code(
                StatusCode::NOT_FOUND,
                "InvalidResourceNamespace",
                format!("The resource namespace '{name}' is invalid."),
            )
        })
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(sub): Path<String>,
) -> Result<Json<Page<wire::Provider>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    Ok(Json(Page::complete(
        NAMESPACES.iter().map(|n| render(sub, n)).collect(),
    )))
}

/// `GET` and `POST .../register`: every provider wid serves is registered in every
/// subscription, so registering answers with the provider as it already is.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, name)): Path<(String, String)>,
) -> Result<Json<wire::Provider>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    Ok(Json(render(sub, namespace(&name)?)))
}

pub async fn locations(
    State(state): State<AppState>,
    caller: Caller,
    Path(sub): Path<String>,
) -> Result<Json<Page<wire::Location>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let value = REGIONS
        .iter()
        .map(|(name, display, geography)| wire::Location {
            id: format!("{}/locations/{name}", resource_id::subscription(sub)),
            name: (*name).to_owned(),
            display_name: (*display).to_owned(),
            regional_display_name: format!("({geography}) {display}"),
        })
        .collect();
    Ok(Json(Page::complete(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_list_what_the_policy_serves() {
        let p = render("S", namespace("microsoft.containerservice").unwrap());
        assert_eq!(
            p.id,
            "/subscriptions/S/providers/Microsoft.ContainerService"
        );
        let clusters = p
            .resource_types
            .iter()
            .find(|t| t.resource_type == "managedClusters")
            .unwrap();
        assert!(clusters.locations.contains(&"East US".to_owned()));
        assert_eq!(clusters.api_versions[0], "2026-08-02-preview");
        assert_eq!(clusters.default_api_version, "2026-08-01");
        assert!(clusters.api_versions.contains(&"2026-06-01".to_owned()));
        let kv = render("S", namespace("Microsoft.KeyVault").unwrap());
        let check = kv
            .resource_types
            .iter()
            .find(|t| t.resource_type == "checkNameAvailability")
            .unwrap();
        assert!(check.locations.is_empty());
        assert!(namespace("Microsoft.Storage").is_err());
    }
}
