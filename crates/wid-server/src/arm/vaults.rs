//! Key vaults (`Microsoft.KeyVault/vaults`, `az keyvault …`): creation with Azure's rules
//! for soft delete and purge protection, soft-deleted vaults, recovery and purge.

use super::auth::Caller;
use super::error::ArmError;
use super::render::{normalize_location, system_data};
use super::request::ArmJson;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use wid_core::model::{AccessPolicy, Audit, Vault, VaultSettings};
use wid_core::resource_id;
use wid_core::resource_id::VAULT_TYPE;
use wid_core::seal::Kek;
use wid_types::arm::Page;
use wid_types::resources as wire;

const DAY: i64 = 86_400;

pub fn vault_uri(state: &AppState, name: &str) -> String {
    let resource = state.cloud.keyvault_resource();
    let host = resource.trim_start_matches("https://");
    format!("https://{}.{host}/", name.to_ascii_lowercase())
}

fn id(v: &Vault) -> String {
    resource_id::vault(&v.subscription_id, &v.resource_group, &v.name)
}

pub fn render(state: &AppState, v: &Vault) -> Value {
    let s = &v.settings;
    json!({
        "id": id(v),
        "name": v.name,
        "type": VAULT_TYPE,
        "location": v.location,
        "tags": v.tags,
        "systemData": system_data(&v.audit),
        "properties": {
            "tenantId": v.tenant_id,
            "sku": {"family": "A", "name": s.sku_name},
            "accessPolicies": s.access_policies,
            "vaultUri": vault_uri(state, &v.name),
            "enabledForDeployment": s.enabled_for_deployment,
            "enabledForDiskEncryption": s.enabled_for_disk_encryption,
            "enabledForTemplateDeployment": s.enabled_for_template_deployment,
            "enableSoftDelete": s.enable_soft_delete,
            "softDeleteRetentionInDays": s.soft_delete_retention_in_days,
            "enableRbacAuthorization": s.enable_rbac_authorization,
            "enablePurgeProtection": s.enable_purge_protection.then_some(true),
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        },
    })
}

fn bad(message: impl Into<String>) -> ArmError {
    ArmError::bad_request(message)
}

fn access_policies(input: &[Value], tenant: &str) -> Result<Vec<AccessPolicy>, ArmError> {
    input
        .iter()
        .map(|p| {
            let policy: AccessPolicy = serde_json::from_value(p.clone())
                .map_err(|e| ArmError::invalid_content(format!("accessPolicies: {e}")))?;
            if !policy.tenant_id.eq_ignore_ascii_case(tenant) {
                return Err(bad(format!(
                    "The access policy for object '{}' names tenant '{}', not the vault's tenant.",
                    policy.object_id, policy.tenant_id
                )));
            }
            let secrets = [
                "all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge",
            ];
            if let Some(p) = policy
                .permissions
                .secrets
                .iter()
                .find(|p| !secrets.contains(&p.to_ascii_lowercase().as_str()))
            {
                return Err(bad(format!("The secret permission '{p}' is invalid.")));
            }
            Ok(policy)
        })
        .collect()
}

/// The settings a PUT or PATCH leaves the vault with, refusing what Azure refuses.
fn settings(
    current: Option<&VaultSettings>,
    p: &wire::VaultPropertiesInput,
    tenant: &str,
) -> Result<VaultSettings, ArmError> {
    let mut s = current.cloned().unwrap_or(VaultSettings {
        sku_name: "standard".to_owned(),
        enable_rbac_authorization: false,
        enable_soft_delete: true,
        soft_delete_retention_in_days: 90,
        enable_purge_protection: false,
        access_policies: Vec::new(),
        enabled_for_deployment: false,
        enabled_for_disk_encryption: false,
        enabled_for_template_deployment: false,
    });
    if let Some(sku) = &p.sku {
        let name = sku.name.to_ascii_lowercase();
        if name != "standard" && name != "premium" {
            return Err(bad(format!(
                "The SKU '{}' is invalid. Allowed values are standard and premium.",
                sku.name
            )));
        }
        s.sku_name = name;
    }
    if p.enable_soft_delete == Some(false) {
        return Err(bad(
            "Soft delete cannot be disabled: it is always on for new and existing vaults.",
        ));
    }
    if let Some(days) = p.soft_delete_retention_in_days {
        if !(7..=90).contains(&days) {
            return Err(bad(format!("The soft delete retention period of {days} days is invalid. It must be between 7 and 90 days.")));
        }
        if current.is_some_and(|c| c.soft_delete_retention_in_days != days) {
            return Err(bad(
                "The soft delete retention period cannot be changed after the vault is created.",
            ));
        }
        s.soft_delete_retention_in_days = days;
    }
    match p.enable_purge_protection {
        Some(false) if s.enable_purge_protection => {
            return Err(bad(
                "Purge protection cannot be disabled once it has been enabled.",
            ))
        }
        Some(v) => s.enable_purge_protection = v,
        None => {}
    }
    check_network_rules(p)?;
    if let Some(v) = p.enable_rbac_authorization {
        s.enable_rbac_authorization = v;
    }
    if let Some(policies) = &p.access_policies {
        s.access_policies = access_policies(policies, tenant)?;
    }
    if let Some(v) = p.enabled_for_deployment {
        s.enabled_for_deployment = v;
    }
    if let Some(v) = p.enabled_for_disk_encryption {
        s.enabled_for_disk_encryption = v;
    }
    if let Some(v) = p.enabled_for_template_deployment {
        s.enabled_for_template_deployment = v;
    }
    Ok(s)
}

/// wid's vaults answer on wid's listener to anyone with a token: it enforces no network
/// rules. A vault asked to be closed to the network is refused rather than stored open, so
/// nobody believes a firewall is there. What az sends by default (`defaultAction: Allow`,
/// `bypass: AzureServices`, no rules) is accepted.
fn check_network_rules(p: &wire::VaultPropertiesInput) -> Result<(), ArmError> {
    let refuse = |what: &str| {
        Err(ArmError::code(
            StatusCode::BAD_REQUEST,
            "NetworkRulesNotSupported",
            format!("{what}: wid does not enforce network rules, so the vault would stay reachable from every network. Leave networkAcls.defaultAction 'Allow' without IP or virtual network rules, and publicNetworkAccess 'Enabled'."),
        ))
    };
    if let Some(acls) = &p.network_acls {
        if acls
            .default_action
            .as_deref()
            .is_some_and(|a| !a.eq_ignore_ascii_case("allow"))
        {
            return refuse("networkAcls.defaultAction is not 'Allow'");
        }
        let rules = |r: &Option<Vec<Value>>| r.as_ref().is_some_and(|r| !r.is_empty());
        if rules(&acls.ip_rules) || rules(&acls.virtual_network_rules) {
            return refuse("networkAcls has IP or virtual network rules");
        }
    }
    if p.public_network_access
        .as_deref()
        .is_some_and(|a| !a.eq_ignore_ascii_case("enabled"))
    {
        return refuse("publicNetworkAccess is not 'Enabled'");
    }
    Ok(())
}

fn store_error(name: &str, rg: &str, e: wid_store::StoreError) -> ArmError {
    match e {
        wid_store::StoreError::ResourceGroupNotFound => ArmError::resource_group_not_found(rg),
        wid_store::StoreError::VaultNameTaken => ArmError::code(StatusCode::CONFLICT, "VaultAlreadyExists", format!("The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken.")),
        wid_store::StoreError::VaultDeleted => ArmError::code(StatusCode::CONFLICT, "ConflictError", format!("A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault. Vault name: '{name}'.")),
        other => other.into(),
    }
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name)): Path<(String, String, String)>,
    ArmJson(body): ArmJson<wire::VaultInput>,
) -> Result<Response, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?.to_owned();
    wid_core::names::vault(&name)?;
    let props = body.properties.unwrap_or_default();
    let location = normalize_location(body.location.as_deref().unwrap_or(""));
    if location.is_empty() {
        return Err(ArmError::location_required());
    }
    let existing = state.store.vault(&name).await?;
    if props
        .create_mode
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("recover"))
    {
        return match existing {
            Some(v) if v.deleted_at.is_some() => {
                state.store.recover_vault(&name).await?;
                let v = state
                    .store
                    .vault(&name)
                    .await?
                    .ok_or_else(ArmError::internal)?;
                Ok((StatusCode::OK, Json(render(&state, &v))).into_response())
            }
            _ => Err(ArmError::code(
                StatusCode::NOT_FOUND,
                "DeletedVaultNotFound",
                format!("The deleted vault '{name}' could not be found."),
            )),
        };
    }
    let tenant = props
        .tenant_id
        .clone()
        .ok_or_else(|| bad("The property 'tenantId' is required."))?;
    if !tenant.eq_ignore_ascii_case(&caller.tenant_id) {
        return Err(bad(format!(
            "The tenant '{tenant}' is not the tenant of the subscription ({}).",
            caller.tenant_id
        )));
    }
    if props.sku.is_none() {
        return Err(bad("The property 'sku' is required."));
    }
    let live = existing.as_ref().filter(|v| v.deleted_at.is_none());
    let settings = settings(live.map(|v| &v.settings), &props, &caller.tenant_id)?;
    let (data_key, key_bytes) = Kek::generate().map_err(|_| ArmError::internal())?;
    drop(data_key);
    let sealed_data_key = state
        .kek
        .seal(&key_bytes, &crate::keyring::vault_data_key_purpose(&name))
        .map_err(|_| ArmError::internal())?;
    let now = state.now();
    let vault = Vault {
        subscription_id: sub,
        resource_group: rg.clone(),
        name: name.clone(),
        location,
        tags: body.tags.unwrap_or_default(),
        tenant_id: caller.tenant_id.clone(),
        settings,
        sealed_data_key,
        deleted_at: None,
        scheduled_purge_at: None,
        audit: Audit {
            created_by: caller.object_id.clone(),
            created_at: now,
            modified_by: caller.object_id.clone(),
            modified_at: now,
        },
    };
    let (stored, created) = state
        .store
        .put_vault(&vault)
        .await
        .map_err(|e| store_error(&name, &rg, e))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(render(&state, &stored))).into_response())
}

/// `POST …/providers/Microsoft.KeyVault/checkNameAvailability`. A vault's name is a DNS
/// label under the vault suffix, so it is taken by any vault of the installation, whoever
/// owns it, and stays taken while the vault is soft-deleted, until it is purged. The
/// reasons are Key Vault's; the soft-deleted message is wid's own wording.
pub async fn check_name_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(sub): Path<String>,
    ArmJson(body): ArmJson<wire::VaultNameCheck>,
) -> Result<Json<wire::NameAvailability>, ArmError> {
    super::subscription(&state, &caller, &sub)?;
    let name = body
        .name
        .ok_or_else(|| bad("The property 'name' is required."))?;
    match body.kind.as_deref() {
        Some(t) if t.eq_ignore_ascii_case(VAULT_TYPE) => {}
        other => {
            return Err(bad(format!(
                "The type '{}' is invalid. The only allowed value is '{VAULT_TYPE}'.",
                other.unwrap_or_default()
            )))
        }
    }
    let unavailable = |reason: &str, message: String| wire::NameAvailability {
        name_available: false,
        reason: Some(reason.to_owned()),
        message: Some(message),
    };
    if let Err(e) = wid_core::names::vault(&name) {
        return Ok(Json(unavailable("AccountNameInvalid", e.to_string())));
    }
    Ok(Json(match state.store.vault(&name).await? {
        None => wire::NameAvailability {
            name_available: true,
            reason: None,
            message: None,
        },
        Some(v) if v.deleted_at.is_some() => unavailable(
            "AlreadyExists",
            format!("The vault name '{name}' is in use by a vault that was deleted and is kept in a recoverable state until {}. Recover the vault, or purge it to reuse the name.", v.scheduled_purge_at.map(wid_core::timefmt::rfc3339).unwrap_or_default()),
        ),
        Some(_) => unavailable(
            "AlreadyExists",
            format!("The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken."),
        ),
    }))
}

/// The live vault at this path: its name is global, its group and subscription must match.
pub(super) async fn live(
    state: &AppState,
    caller: &Caller,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Vault, ArmError> {
    let sub = super::subscription(state, caller, sub)?;
    match state.store.vault(name).await? {
        Some(v)
            if v.deleted_at.is_none()
                && v.subscription_id.eq_ignore_ascii_case(sub)
                && v.resource_group.eq_ignore_ascii_case(rg) =>
        {
            Ok(v)
        }
        _ => match state.store.resource_group(sub, rg).await? {
            None => Err(ArmError::resource_group_not_found(rg)),
            Some(_) => Err(ArmError::resource_not_found(VAULT_TYPE, name, rg)),
        },
    }
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name)): Path<(String, String, String)>,
    ArmJson(body): ArmJson<wire::VaultInput>,
) -> Result<Json<Value>, ArmError> {
    let mut v = live(&state, &caller, &sub, &rg, &name).await?;
    if let Some(props) = &body.properties {
        v.settings = settings(Some(&v.settings), props, &v.tenant_id)?;
    }
    if let Some(tags) = body.tags {
        v.tags = tags;
    }
    v.audit.modified_by = caller.object_id.clone();
    v.audit.modified_at = state.now();
    let (stored, _) = state
        .store
        .put_vault(&v)
        .await
        .map_err(|e| store_error(&name, &rg, e))?;
    Ok(Json(render(&state, &stored)))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    let v = live(&state, &caller, &sub, &rg, &name).await?;
    Ok(Json(render(&state, &v)))
}

/// Soft delete: the vault keeps its name and secrets until purged or its retention ends.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ArmError> {
    let v = match live(&state, &caller, &sub, &rg, &name).await {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::NOT_FOUND && e.code == "ResourceNotFound" => {
            return Ok(StatusCode::NO_CONTENT)
        }
        Err(e) => return Err(e),
    };
    let now = state.now();
    let purge_at = now + v.settings.soft_delete_retention_in_days * DAY;
    let deleted = state
        .store
        .soft_delete_vault(&v.name, now, purge_at)
        .await?;
    Ok(super::delete_status(deleted))
}

pub async fn list_in_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg)): Path<(String, String)>,
) -> Result<Json<Page<Value>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    if state.store.resource_group(sub, &rg).await?.is_none() {
        return Err(ArmError::resource_group_not_found(&rg));
    }
    let value = state
        .store
        .vaults(sub, Some(&rg))
        .await?
        .iter()
        .map(|v| render(&state, v))
        .collect();
    Ok(Json(Page::complete(value)))
}

pub async fn list_in_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(sub): Path<String>,
) -> Result<Json<Page<Value>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let value = state
        .store
        .vaults(sub, None)
        .await?
        .iter()
        .map(|v| render(&state, v))
        .collect();
    Ok(Json(Page::complete(value)))
}

fn render_deleted(v: &Vault) -> Value {
    json!({
        "id": format!("/subscriptions/{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}", v.subscription_id, v.location, v.name),
        "name": v.name,
        "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {
            "vaultId": id(v),
            "location": v.location,
            "deletionDate": v.deleted_at.map(wid_core::timefmt::rfc3339),
            "scheduledPurgeDate": v.scheduled_purge_at.map(wid_core::timefmt::rfc3339),
            "tags": v.tags,
            "purgeProtectionEnabled": v.settings.enable_purge_protection,
        },
    })
}

pub async fn list_deleted(
    State(state): State<AppState>,
    caller: Caller,
    Path(sub): Path<String>,
) -> Result<Json<Page<Value>>, ArmError> {
    let sub = super::subscription(&state, &caller, &sub)?;
    let value = state
        .store
        .deleted_vaults(sub)
        .await?
        .iter()
        .map(render_deleted)
        .collect();
    Ok(Json(Page::complete(value)))
}

/// `GET …/providers/Microsoft.KeyVault/deletedManagedHSMs`: wid hosts no managed HSMs, so
/// none are deleted either. `az keyvault list-deleted` lists deleted vaults and HSMs
/// together and fails on an error from either.
pub async fn list_deleted_managed_hsms(
    State(state): State<AppState>,
    caller: Caller,
    Path(sub): Path<String>,
) -> Result<Json<Page<Value>>, ArmError> {
    super::subscription(&state, &caller, &sub)?;
    Ok(Json(Page::complete(Vec::new())))
}

async fn deleted(
    state: &AppState,
    caller: &Caller,
    sub: &str,
    location: &str,
    name: &str,
) -> Result<Vault, ArmError> {
    let sub = super::subscription(state, caller, sub)?;
    match state.store.vault(name).await? {
        Some(v)
            if v.deleted_at.is_some()
                && v.subscription_id.eq_ignore_ascii_case(sub)
                && v.location.eq_ignore_ascii_case(location) =>
        {
            Ok(v)
        }
        _ => Err(ArmError::code(
            StatusCode::NOT_FOUND,
            "DeletedVaultNotFound",
            format!("The deleted vault '{name}' could not be found in location '{location}'."),
        )),
    }
}

pub async fn show_deleted(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, location, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    let v = deleted(&state, &caller, &sub, &location, &name).await?;
    Ok(Json(render_deleted(&v)))
}

/// Purge protection keeps a deleted vault until its scheduled purge date.
pub async fn purge(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, location, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ArmError> {
    let v = deleted(&state, &caller, &sub, &location, &name).await?;
    if v.settings.enable_purge_protection && v.scheduled_purge_at.is_some_and(|at| state.now() < at)
    {
        return Err(ArmError::code(StatusCode::CONFLICT, "ConflictError", format!("Vault '{name}' has purge protection enabled and cannot be purged before its scheduled purge date.")));
    }
    state.store.purge_vault(&v.name).await?;
    Ok(StatusCode::OK)
}

/// `PUT …/vaults/{name}/accessPolicies/{add|replace|remove}`: edits the access policies
/// without sending the whole vault. `add` merges permissions into a principal's entry,
/// `remove` takes them out (dropping an entry left empty), `replace` sets them.
pub async fn update_access_policies(
    State(state): State<AppState>,
    caller: Caller,
    Path((sub, rg, name, kind)): Path<(String, String, String, String)>,
    ArmJson(body): ArmJson<Value>,
) -> Result<Json<Value>, ArmError> {
    let mut v = live(&state, &caller, &sub, &rg, &name).await?;
    let given = body["properties"]["accessPolicies"]
        .as_array()
        .ok_or_else(|| bad("The property 'properties.accessPolicies' is required."))?;
    let given = access_policies(given, &v.tenant_id)?;
    let policies = &mut v.settings.access_policies;
    let same = |a: &AccessPolicy, b: &AccessPolicy| {
        a.object_id.eq_ignore_ascii_case(&b.object_id)
            && a.tenant_id.eq_ignore_ascii_case(&b.tenant_id)
    };
    fn merge(into: &mut Vec<String>, from: &[String], add: bool) {
        if add {
            for p in from {
                if !into.iter().any(|x| x.eq_ignore_ascii_case(p)) {
                    into.push(p.clone());
                }
            }
        } else {
            into.retain(|x| !from.iter().any(|p| p.eq_ignore_ascii_case(x)));
        }
    }
    match kind.to_ascii_lowercase().as_str() {
        "replace" => *policies = given,
        op @ ("add" | "remove") => {
            let add = op == "add";
            for g in given {
                match policies.iter_mut().find(|p| same(p, &g)) {
                    Some(p) => {
                        merge(&mut p.permissions.keys, &g.permissions.keys, add);
                        merge(&mut p.permissions.secrets, &g.permissions.secrets, add);
                        merge(&mut p.permissions.certificates, &g.permissions.certificates, add);
                        merge(&mut p.permissions.storage, &g.permissions.storage, add);
                    }
                    None if add => policies.push(g),
                    None => {}
                }
            }
            policies.retain(|p| {
                let q = &p.permissions;
                !(q.keys.is_empty() && q.secrets.is_empty() && q.certificates.is_empty() && q.storage.is_empty())
            });
        }
        other => return Err(bad(format!("The access policy operation '{other}' is invalid. Allowed values are add, replace and remove."))),
    }
    v.audit.modified_by = caller.object_id.clone();
    v.audit.modified_at = state.now();
    let (stored, _) = state
        .store
        .put_vault(&v)
        .await
        .map_err(|e| store_error(&name, &rg, e))?;
    Ok(Json(json!({
        "id": format!("{}/accessPolicies/", id(&stored)),
        "type": "Microsoft.KeyVault/vaults/accessPolicies",
        "properties": {"accessPolicies": stored.settings.access_policies},
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What a vault body asks of the network, and whether wid takes it.
    #[test]
    fn network_rules_wid_cannot_enforce_are_refused() {
        let cases = [
            (json!({}), true),
            (
                json!({"networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow"}}),
                true,
            ),
            (
                json!({"networkAcls": {"defaultAction": "allow", "ipRules": [], "virtualNetworkRules": []}}),
                true,
            ),
            (json!({"publicNetworkAccess": "Enabled"}), true),
            (json!({"networkAcls": {"defaultAction": "Deny"}}), false),
            (
                json!({"networkAcls": {"defaultAction": "Allow", "ipRules": [{"value": "10.0.0.0/8"}]}}),
                false,
            ),
            (
                json!({"networkAcls": {"virtualNetworkRules": [{"id": "/subscriptions/s/x"}]}}),
                false,
            ),
            (json!({"publicNetworkAccess": "Disabled"}), false),
        ];
        for (body, accepted) in cases {
            let p: wire::VaultPropertiesInput = serde_json::from_value(body.clone()).unwrap();
            let result = settings(None, &p, "t");
            assert_eq!(result.is_ok(), accepted, "{body}");
            if let Err(e) = result {
                assert!(
                    format!("{e:?}").contains("NetworkRulesNotSupported"),
                    "{body}"
                );
            }
        }
    }
}
