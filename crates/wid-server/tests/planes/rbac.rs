//! Role-based access control on the management plane: role assignments and definitions
//! through ARM, and what they let a managed identity (signed in by federation) do.

use super::exchange::Federation;
use reqwest::Method;
use serde_json::{json, Value};

const AUTHZ: &str = "api-version=2022-04-01";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

fn assignment_path(scope: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?{AUTHZ}")
}

fn body(sub: &str, role: &str, principal: &str) -> Value {
    json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
        "principalId": principal,
        "principalType": "ServicePrincipal",
    }})
}

#[tokio::test]
async fn role_assignments_decide_what_an_identity_may_do() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let sub = wid.info().subscription_id.clone();
    let rg_scope = wid.sub_path("/resourceGroups/rg");
    let mi = f.exchange(&f.sign(&f.claims())).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let rg = wid.sub_path(&format!("/resourcegroups/rg?{}", "api-version=2021-04-01"));
    let identity = wid.sub_path(&format!(
        "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other?{}",
        super::MSI
    ));

    // No role: refused, with the action and scope ARM names.
    let (status, answer) = wid.raw(Method::GET, &rg, Some(&mi), None).await;
    assert_eq!(
        (status, super::error_code(&answer)),
        (403, "AuthorizationFailed"),
        "{answer}"
    );
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Microsoft.Resources/subscriptions/resourceGroups/read")
            && message.contains(&f.principal_id),
        "{message}"
    );

    // Reader on the group: reads, but cannot write.
    let reader = "0f0e0d0c-0000-4000-8000-000000000001";
    let made = wid
        .arm(
            Method::PUT,
            &assignment_path(&rg_scope, reader),
            Some(body(&sub, READER, &f.principal_id)),
        )
        .await
        .unwrap();
    assert_eq!(made.status, 201);
    assert_eq!(
        made.body.as_ref().unwrap()["properties"]["scope"],
        rg_scope.as_str()
    );
    assert_eq!(wid.raw(Method::GET, &rg, Some(&mi), None).await.0, 200);
    let put = Some(json!({"location": "eastus"}).to_string().into_bytes());
    assert_eq!(
        wid.raw(Method::PUT, &identity, Some(&mi), put.clone())
            .await
            .0,
        403
    );
    // Other groups stay out of reach.
    wid.arm(
        Method::PUT,
        &wid.sub_path("/resourcegroups/elsewhere?api-version=2021-04-01"),
        Some(json!({"location": "eastus"})),
    )
    .await
    .unwrap();
    let elsewhere = wid.sub_path("/resourcegroups/elsewhere?api-version=2021-04-01");
    assert_eq!(
        wid.raw(Method::GET, &elsewhere, Some(&mi), None).await.0,
        403
    );

    // Contributor: writes resources, but not role assignments.
    let contributor = "0f0e0d0c-0000-4000-8000-000000000002";
    wid.arm(
        Method::PUT,
        &assignment_path(&rg_scope, contributor),
        Some(body(&sub, CONTRIBUTOR, &f.principal_id)),
    )
    .await
    .unwrap();
    assert_eq!(
        wid.raw(Method::PUT, &identity, Some(&mi), put.clone())
            .await
            .0,
        201
    );
    let (status, answer) = wid
        .raw(
            Method::PUT,
            &assignment_path(&rg_scope, "0f0e0d0c-0000-4000-8000-000000000003"),
            Some(&mi),
            Some(body(&sub, READER, &f.principal_id).to_string().into_bytes()),
        )
        .await;
    assert_eq!(
        (status, super::error_code(&answer)),
        (403, "AuthorizationFailed"),
        "{answer}"
    );

    // Revocation takes effect on the next request.
    let deleted = wid
        .arm(
            Method::DELETE,
            &assignment_path(&rg_scope, contributor),
            None,
        )
        .await
        .unwrap();
    assert_eq!(deleted.status, 200);
    assert_eq!(
        wid.raw(Method::DELETE, &identity, Some(&mi), None).await.0,
        403
    );
    assert_eq!(
        wid.arm(
            Method::DELETE,
            &assignment_path(&rg_scope, contributor),
            None
        )
        .await
        .unwrap()
        .status,
        204
    );

    // Listing: at and below the subscription, by principal.
    let list = wid
        .arm(
            Method::GET,
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments?{AUTHZ}&$filter=principalId%20eq%20'{}'",
                wid.sub_path(""),
                f.principal_id
            ),
            None,
        )
        .await
        .unwrap()
        .body
        .unwrap();
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [reader]);
}

#[tokio::test]
async fn role_assignment_errors_and_definitions() {
    let f = Federation::start(None, None).await;
    let wid = &f.wid;
    let sub = wid.info().subscription_id.clone();
    let scope = wid.sub_path("");
    let code = |r: Result<wid_client::ArmResponse, wid_client::ClientError>| super::arm_code(r);
    let name = "1a2b3c4d-0000-4000-8000-000000000001";
    wid.arm(
        Method::PUT,
        &assignment_path(&scope, name),
        Some(body(&sub, READER, &f.principal_id)),
    )
    .await
    .unwrap();
    // The same assignment again under its name is fine; under another name it exists.
    assert_eq!(
        wid.arm(
            Method::PUT,
            &assignment_path(&scope, name),
            Some(body(&sub, READER, &f.principal_id))
        )
        .await
        .unwrap()
        .status,
        201
    );
    assert_eq!(
        code(
            wid.arm(
                Method::PUT,
                &assignment_path(&scope, "1a2b3c4d-0000-4000-8000-000000000002"),
                Some(body(&sub, READER, &f.principal_id))
            )
            .await
        ),
        (409, "RoleAssignmentExists".into())
    );
    assert_eq!(
        code(
            wid.arm(
                Method::PUT,
                &assignment_path(&scope, name),
                Some(body(&sub, CONTRIBUTOR, &f.principal_id))
            )
            .await
        ),
        (409, "RoleAssignmentUpdateNotPermitted".into())
    );
    assert_eq!(
        code(
            wid.arm(
                Method::PUT,
                &assignment_path(&scope, "not-a-guid"),
                Some(body(&sub, READER, &f.principal_id))
            )
            .await
        ),
        (400, "InvalidRoleAssignmentId".into())
    );
    assert_eq!(
        code(
            wid.arm(
                Method::PUT,
                &assignment_path(&scope, "1a2b3c4d-0000-4000-8000-000000000003"),
                Some(body(
                    &sub,
                    "00000000-0000-4000-8000-0000000000ff",
                    &f.principal_id
                ))
            )
            .await
        ),
        (400, "RoleDefinitionDoesNotExist".into())
    );
    assert_eq!(
        code(
            wid.arm(
                Method::PUT,
                &assignment_path(&scope, "1a2b3c4d-0000-4000-8000-000000000004"),
                Some(body(&sub, READER, "00000000-0000-4000-8000-0000000000ee"))
            )
            .await
        ),
        (400, "PrincipalNotFound".into())
    );
    let defs = wid
        .arm(Method::GET, &format!("{scope}/providers/Microsoft.Authorization/roleDefinitions?{AUTHZ}&$filter=roleName%20eq%20'Key%20Vault%20Secrets%20Officer'"), None)
        .await
        .unwrap()
        .body
        .unwrap();
    let [officer] = defs["value"].as_array().unwrap().as_slice() else {
        panic!("{defs}")
    };
    assert_eq!(officer["name"], "b86a8fe4-44ce-4948-aee5-eccb2c155cd7");
    assert_eq!(
        officer["properties"]["permissions"][0]["dataActions"][0],
        "Microsoft.KeyVault/vaults/secrets/*"
    );
    let owner = wid
        .arm(Method::GET, &format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635?{AUTHZ}"), None)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(owner["properties"]["roleName"], "Owner");
}
