//! Records to ARM bodies. Kept apart from handlers so every response for a resource type
//! has one shape, whichever operation produced it.

use wid_core::model::{Audit, FederatedCredential, ManagedIdentity, ResourceGroup};
use wid_core::resource_id;
use wid_core::timefmt::rfc3339;
use wid_types::resources as wire;

pub fn system_data(audit: &Audit) -> wire::SystemData {
    wire::SystemData {
        created_by: audit.created_by.clone(),
        created_by_type: "Application".to_owned(),
        created_at: rfc3339(audit.created_at),
        last_modified_by: audit.modified_by.clone(),
        last_modified_by_type: "Application".to_owned(),
        last_modified_at: rfc3339(audit.modified_at),
    }
}

pub fn resource_group(rg: &ResourceGroup) -> wire::ResourceGroup {
    wire::ResourceGroup {
        id: resource_id::resource_group(&rg.subscription_id, &rg.name),
        name: rg.name.clone(),
        kind: resource_id::RESOURCE_GROUP_TYPE.to_owned(),
        location: rg.location.clone(),
        managed_by: rg.managed_by.clone(),
        tags: (!rg.tags.is_empty()).then(|| rg.tags.clone()),
        properties: wire::ProvisioningState {
            provisioning_state: "Succeeded".to_owned(),
        },
    }
}

pub fn identity(mi: &ManagedIdentity) -> wire::Identity {
    wire::Identity {
        id: resource_id::identity(&mi.subscription_id, &mi.resource_group, &mi.name),
        name: mi.name.clone(),
        kind: resource_id::IDENTITY_TYPE.to_owned(),
        location: mi.location.clone(),
        tags: mi.tags.clone(),
        system_data: system_data(&mi.audit),
        properties: wire::IdentityProperties {
            tenant_id: mi.tenant_id.clone(),
            principal_id: mi.principal_id.clone(),
            client_id: mi.client_id.clone(),
            isolation_scope: mi.isolation_scope.clone(),
        },
    }
}

pub fn credential(mi: &IdentityRef<'_>, c: &FederatedCredential) -> wire::FederatedCredential {
    wire::FederatedCredential {
        id: resource_id::federated_credential(
            mi.subscription_id,
            mi.resource_group,
            mi.name,
            &c.name,
        ),
        name: c.name.clone(),
        kind: resource_id::CREDENTIAL_TYPE.to_owned(),
        system_data: system_data(&c.audit),
        properties: wire::FederatedCredentialProperties {
            issuer: c.issuer.clone(),
            subject: c.subject.clone(),
            audiences: c.audiences.clone(),
        },
    }
}

/// The parent coordinates a credential id is built from, as the parent stores them.
pub struct IdentityRef<'a> {
    pub subscription_id: &'a str,
    pub resource_group: &'a str,
    pub name: &'a str,
}

/// ARM prints locations in their short form: `East US` is `eastus`.
pub fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}
