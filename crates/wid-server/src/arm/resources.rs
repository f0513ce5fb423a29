//! `GET /subscriptions/{sub}/resources` and `…/resourceGroups/{rg}/resources`
//! (`Microsoft.Resources`, `az resource list`, and azure-mgmt-keyvault's `vaults.list`): every
//! resource wid hosts in ARM's generic shape, narrowed by `$filter`, paged by `$top` and
//! `nextLink`, and showing each resource only to callers who may read it.

use super::clusters::CLUSTER_TYPE;
use super::error::ArmError;
use super::request::ArmQuery;
use super::routes::Visibility;
use crate::state::AppState;
use axum::extract::{OriginalUri, Path, State};
use axum::Json;
use wid_core::filter::{Candidate, ResourceFilter};
use wid_core::model::{Audit, Tags};
use wid_core::resource_id::{self, IDENTITY_TYPE, VAULT_TYPE};
use wid_core::timefmt::rfc3339;
use wid_types::arm::Page;
use wid_types::resources::GenericResource;

/// ARM's page size when the client gives no `$top`.
const DEFAULT_PAGE: usize = 1000;

/// One listed resource with what filters and visibility look at.
struct Listed {
    id: String,
    name: String,
    kind: &'static str,
    location: String,
    resource_group: String,
    tags: Tags,
    audit: Audit,
}

/// The top-level resources of the subscription, or of one of its groups. Child resources
/// (credentials, secrets) and extension resources (role assignments) are not listed, as in
/// ARM.
async fn hosted(state: &AppState, sub: &str, rg: Option<&str>) -> Result<Vec<Listed>, ArmError> {
    let identities = match rg {
        Some(rg) => match state.store.identities_in_group(sub, rg).await {
            Err(wid_store::StoreError::ResourceGroupNotFound) => Vec::new(),
            other => other?,
        },
        None => state.store.identities_in_subscription(sub).await?,
    };
    let clusters = match rg {
        Some(rg) => state.store.clusters_in_group(sub, rg).await?,
        None => state.store.clusters_in_subscription(sub).await?,
    };
    let vaults = state.store.vaults(sub, rg).await?;
    let mut out = Vec::with_capacity(identities.len() + clusters.len() + vaults.len());
    out.extend(identities.into_iter().map(|mi| Listed {
        id: resource_id::identity(&mi.subscription_id, &mi.resource_group, &mi.name),
        name: mi.name,
        kind: IDENTITY_TYPE,
        location: mi.location,
        resource_group: mi.resource_group,
        tags: mi.tags,
        audit: mi.audit,
    }));
    out.extend(clusters.into_iter().map(|c| Listed {
        id: super::clusters::cluster_id(&c),
        name: c.name,
        kind: CLUSTER_TYPE,
        location: c.location,
        resource_group: c.resource_group,
        tags: c.tags,
        audit: c.audit,
    }));
    out.extend(vaults.into_iter().map(|v| Listed {
        id: resource_id::vault(&v.subscription_id, &v.resource_group, &v.name),
        name: v.name,
        kind: VAULT_TYPE,
        location: v.location,
        resource_group: v.resource_group,
        tags: v.tags,
        audit: v.audit,
    }));
    Ok(out)
}

pub async fn list_in_subscription(
    State(state): State<AppState>,
    visibility: Visibility,
    query: ArmQuery,
    OriginalUri(uri): OriginalUri,
    Path(sub): Path<String>,
) -> Result<Json<Page<GenericResource>>, ArmError> {
    let sub = super::subscription(&state, &visibility.caller, &sub)?;
    let filter = parse_filter(&query)?;
    let items = hosted(&state, sub, None).await?;
    page(&state, &visibility, &query, uri.path(), filter, items)
}

pub async fn list_in_group(
    State(state): State<AppState>,
    visibility: Visibility,
    query: ArmQuery,
    OriginalUri(uri): OriginalUri,
    Path((sub, rg)): Path<(String, String)>,
) -> Result<Json<Page<GenericResource>>, ArmError> {
    let sub = super::subscription(&state, &visibility.caller, &sub)?;
    let filter = parse_filter(&query)?;
    if state.store.resource_group(sub, &rg).await?.is_none() {
        // Only a caller who may list the group learns that it does not exist.
        return Err(if visibility.lists_scope() {
            ArmError::resource_group_not_found(&rg)
        } else {
            visibility.refusal()
        });
    }
    let items = hosted(&state, sub, Some(&rg)).await?;
    page(&state, &visibility, &query, uri.path(), filter, items)
}

/// An empty `$filter` is no filter: `az resource list` sends one.
pub(super) fn parse_filter(query: &ArmQuery) -> Result<Option<ResourceFilter>, ArmError> {
    query
        .get("$filter")
        .filter(|f| !f.trim().is_empty())
        .map(ResourceFilter::parse)
        .transpose()
        .map_err(ArmError::invalid_filter)
}

/// What the caller may read, filtered, in id order, one page of it from `$skiptoken` (the
/// lower-cased id of the last resource of the page before).
fn page(
    state: &AppState,
    visibility: &Visibility,
    query: &ArmQuery,
    path: &str,
    filter: Option<ResourceFilter>,
    items: Vec<Listed>,
) -> Result<Json<Page<GenericResource>>, ArmError> {
    let limit = query.top()?.unwrap_or(DEFAULT_PAGE);
    let mut readable: Vec<Listed> = items
        .into_iter()
        .filter(|r| visibility.may_read(r.kind, &r.id))
        .collect();
    if readable.is_empty() && !visibility.lists_scope() {
        return Err(visibility.refusal());
    }
    if let Some(f) = &filter {
        readable.retain(|r| {
            f.matches(&Candidate {
                resource_type: r.kind,
                name: &r.name,
                location: &r.location,
                resource_group: &r.resource_group,
                tags: &r.tags,
            })
        });
    }
    readable.sort_by_cached_key(|r| r.id.to_ascii_lowercase());
    let after = query.get("$skiptoken").map(str::to_ascii_lowercase);
    let mut rest = readable.into_iter().filter(|r| {
        after
            .as_ref()
            .is_none_or(|a| r.id.to_ascii_lowercase() > *a)
    });
    let chosen: Vec<Listed> = rest.by_ref().take(limit).collect();
    let next_link = match (rest.next(), chosen.last()) {
        (Some(_), Some(last)) => {
            let mut params = vec![
                ("api-version", query.get("api-version").unwrap_or_default()),
                ("$skiptoken", &last.id),
            ];
            let top = limit.to_string();
            if query.get("$top").is_some() {
                params.push(("$top", &top));
            }
            for name in ["$filter", "$expand"] {
                if let Some(v) = query.get(name) {
                    params.push((name, v));
                }
            }
            let params = serde_urlencoded::to_string(params).map_err(|_| ArmError::internal())?;
            Some(format!("{}{path}?{params}", state.cloud.public_url))
        }
        _ => None,
    };
    let hide_tags = filter.as_ref().is_some_and(ResourceFilter::filters_by_tag);
    // `$expand` adds these three; other names are ignored: they name nothing wid keeps.
    let expand: Vec<String> = query
        .get("$expand")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let expanded = |name: &str| expand.iter().any(|e| e == name);
    let value = chosen
        .into_iter()
        .map(|r| GenericResource {
            created_time: expanded("createdtime").then(|| rfc3339(r.audit.created_at)),
            changed_time: expanded("changedtime").then(|| rfc3339(r.audit.modified_at)),
            provisioning_state: expanded("provisioningstate").then(|| "Succeeded".to_owned()),
            id: r.id,
            name: r.name,
            kind: r.kind.to_owned(),
            location: r.location,
            tags: (!hide_tags).then_some(r.tags),
        })
        .collect();
    Ok(Json(Page { value, next_link }))
}
