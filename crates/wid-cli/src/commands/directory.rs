//! Finding directory objects over Microsoft Graph the way az does, shared by `wid ad`,
//! `wid role assignment`, `wid keyvault` and `wid serviceaccount`: OData filters on the
//! collections, `directoryObjects/getByIds` for bare object ids.

use crate::context::{is_not_found, Context};
use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use wid_client::Method;

/// An OData string literal. Quotes are doubled, as OData requires, so a name holding `'`
/// cannot end the literal early and change the filter.
pub fn odata_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn eq_filter(property: &str, value: &str) -> String {
    format!("{property} eq {}", odata_string(value))
}

pub fn startswith_filter(property: &str, value: &str) -> String {
    format!("startswith({property},{})", odata_string(value))
}

/// az's lookup of a service principal by any of its names (client id, identifier URIs,
/// managed identities' resource ids).
pub fn spn_filter(spn: &str) -> String {
    format!("servicePrincipalNames/any(c:c eq {})", odata_string(spn))
}

pub fn identifier_uri_filter(uri: &str) -> String {
    format!("identifierUris/any(s:s eq {})", odata_string(uri))
}

/// `collection` with the filters joined by `and` (az's `--display-name X --filter Y`).
pub fn filtered(collection: &str, filters: &[String]) -> String {
    if filters.is_empty() {
        return collection.to_owned();
    }
    let filter = filters.join(" and ");
    // Spaces as %20, as az's requests sends them: `+` means space only in form encoding.
    let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("{collection}?$filter={encoded}")
}

/// One step of az's resolution of `--assignee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// `users?$filter=userPrincipalName eq '…'`, when the name looks like a UPN.
    UserByPrincipalName,
    /// `servicePrincipals?$filter=servicePrincipalNames/any(…)`: client ids and other names.
    ServicePrincipalByName,
    /// `directoryObjects/getByIds`, when the name is a GUID: an object id of any kind.
    ObjectId,
}

/// The lookups az tries for an assignee, first match wins: a UPN names a user, any name may
/// be a service principal's, and a GUID that is neither is taken as an object id.
pub fn assignee_lookups(assignee: &str) -> Vec<Lookup> {
    let mut plan = Vec::with_capacity(3);
    if assignee.contains('@') {
        plan.push(Lookup::UserByPrincipalName);
    }
    plan.push(Lookup::ServicePrincipalByName);
    if wid_core::names::is_guid(assignee) {
        plan.push(Lookup::ObjectId);
    }
    plan
}

/// The object id `assignee` (UPN, client id, service principal name or object id) names.
pub async fn resolve_assignee(ctx: &Context, assignee: &str) -> Result<String> {
    for lookup in assignee_lookups(assignee) {
        let found = match lookup {
            Lookup::UserByPrincipalName => {
                ctx.graph_list(&filtered(
                    "/v1.0/users",
                    &[eq_filter("userPrincipalName", assignee)],
                ))
                .await?
            }
            Lookup::ServicePrincipalByName => {
                ctx.graph_list(&filtered(
                    "/v1.0/servicePrincipals",
                    &[spn_filter(assignee)],
                ))
                .await?
            }
            Lookup::ObjectId => objects_by_ids(ctx, &[assignee.to_owned()]).await?,
        };
        if let Some(id) = found.first().and_then(|o| o["id"].as_str()) {
            return Ok(id.to_owned());
        }
    }
    Err(anyhow!(
        "Cannot find user or service principal in graph database for '{assignee}'. If the assignee is an appId, make sure the corresponding service principal is created with 'wid ad sp create --id {assignee}'."
    ))
}

/// `POST /v1.0/directoryObjects/getByIds` for the kinds a role can be assigned to; unknown
/// ids are simply absent from the answer.
pub async fn objects_by_ids(ctx: &Context, ids: &[String]) -> Result<Vec<Value>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let body = json!({
        "ids": ids,
        "types": ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"],
    });
    let page = ctx
        .graph_value(Method::POST, "/v1.0/directoryObjects/getByIds", Some(&body))
        .await?;
    Ok(page["value"].as_array().cloned().unwrap_or_default())
}

/// ARM's `principalType` for a directory object, from its `@odata.type`.
pub fn principal_type(object: &Value) -> Option<&'static str> {
    match object["@odata.type"].as_str()? {
        "#microsoft.graph.user" => Some("User"),
        "#microsoft.graph.servicePrincipal" => Some("ServicePrincipal"),
        "#microsoft.graph.group" => Some("Group"),
        "#microsoft.graph.directoryObjectPartnerReference" => Some("ForeignGroup"),
        _ => None,
    }
}

/// The name az shows for a principal in `role assignment list` (`principalName`): a user's
/// UPN, a service principal's first name (its client id), else the display name.
pub fn displayable_name(object: &Value) -> String {
    if let Some(upn) = object["userPrincipalName"].as_str() {
        return upn.to_owned();
    }
    if let Some(spn) = object["servicePrincipalNames"]
        .as_array()
        .and_then(|n| n.first())
        .and_then(Value::as_str)
    {
        return spn.to_owned();
    }
    object["displayName"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// az's `_resolve_service_principal`: by service principal name, else a GUID is taken as
/// the object id.
pub async fn resolve_service_principal(ctx: &Context, id: &str) -> Result<String> {
    let found = ctx
        .graph_list(&filtered("/v1.0/servicePrincipals", &[spn_filter(id)]))
        .await?;
    if let Some(oid) = found.first().and_then(|o| o["id"].as_str()) {
        return Ok(oid.to_owned());
    }
    if wid_core::names::is_guid(id) {
        return Ok(id.to_owned());
    }
    Err(anyhow!("Service principal '{id}' doesn't exist"))
}

/// The object id of the service principal named `spn` (az keyvault's `--spn`).
pub async fn service_principal_by_name(ctx: &Context, spn: &str) -> Result<Value> {
    ctx.graph_list(&filtered("/v1.0/servicePrincipals", &[spn_filter(spn)]))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("Unable to find user with spn '{spn}'"))
}

/// The user of principal name `upn` (az keyvault's `--upn`).
pub async fn user_by_principal_name(ctx: &Context, upn: &str) -> Result<Value> {
    ctx.graph_list(&filtered(
        "/v1.0/users",
        &[eq_filter("userPrincipalName", upn)],
    ))
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| anyhow!("Unable to find user with upn '{upn}'"))
}

/// az's `_resolve_application`: an application's object id from its client id, an
/// identifier URI, or (a GUID no application has as client id) the object id itself.
pub async fn resolve_application(ctx: &Context, id: &str) -> Result<String> {
    let filter = if wid_core::names::is_guid(id) {
        eq_filter("appId", id)
    } else {
        identifier_uri_filter(id)
    };
    let found = ctx
        .graph_list(&filtered("/v1.0/applications", &[filter]))
        .await?;
    if let Some(oid) = found.first().and_then(|o| o["id"].as_str()) {
        return Ok(oid.to_owned());
    }
    if wid_core::names::is_guid(id) {
        return Ok(id.to_owned());
    }
    Err(anyhow!("Application '{id}' doesn't exist"))
}

/// The application `id` names, or `None` when Graph has no such object.
pub async fn find_application(ctx: &Context, id: &str) -> Result<Option<Value>> {
    let oid = match resolve_application(ctx, id).await {
        Ok(oid) => oid,
        Err(_) if !wid_core::names::is_guid(id) => return Ok(None),
        Err(e) => return Err(e),
    };
    match ctx
        .graph_value(Method::GET, &format!("/v1.0/applications/{oid}"), None)
        .await
    {
        Ok(app) => Ok(Some(app)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The directory object the CLI acts as: `/me` for a user; for a service principal (which
/// `/me` refuses, being for delegated tokens), its own entry by client id.
pub async fn signed_in_object(ctx: &Context) -> Result<Value> {
    if ctx.signed_in_as_user()? {
        return ctx.graph_value(Method::GET, "/v1.0/me", None).await;
    }
    service_principal_by_name(ctx, &ctx.user_name()?).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use Lookup::*;

    #[test]
    fn assignee_resolution_order_follows_az() {
        assert_eq!(
            assignee_lookups("alice@wid.localhost"),
            vec![UserByPrincipalName, ServicePrincipalByName]
        );
        assert_eq!(
            assignee_lookups("6e1b6f5c-3b5b-4c55-9d64-5a5b4b0c6a11"),
            vec![ServicePrincipalByName, ObjectId]
        );
        assert_eq!(
            assignee_lookups("api://my-app"),
            vec![ServicePrincipalByName]
        );
    }

    #[test]
    fn filters_quote_literals() {
        assert_eq!(
            spn_filter("0af06dc6-e4b5-4f28-818e-e78e62d137a5"),
            "servicePrincipalNames/any(c:c eq '0af06dc6-e4b5-4f28-818e-e78e62d137a5')"
        );
        assert_eq!(
            eq_filter("displayName", "o'brien"),
            "displayName eq 'o''brien'"
        );
        assert_eq!(
            startswith_filter("displayName", "app"),
            "startswith(displayName,'app')"
        );
        assert_eq!(
            identifier_uri_filter("api://x"),
            "identifierUris/any(s:s eq 'api://x')"
        );
    }

    #[test]
    fn filters_join_with_and_and_are_url_encoded() {
        assert_eq!(filtered("/v1.0/users", &[]), "/v1.0/users");
        assert_eq!(
            filtered(
                "/v1.0/users",
                &[
                    eq_filter("userPrincipalName", "a@b"),
                    startswith_filter("displayName", "A B")
                ]
            ),
            "/v1.0/users?$filter=userPrincipalName%20eq%20%27a%40b%27%20and%20startswith%28displayName%2C%27A%20B%27%29"
        );
    }

    #[test]
    fn principal_types_from_odata_type() {
        for (odata, expected) in [
            ("#microsoft.graph.user", Some("User")),
            (
                "#microsoft.graph.servicePrincipal",
                Some("ServicePrincipal"),
            ),
            ("#microsoft.graph.group", Some("Group")),
            ("#microsoft.graph.application", None),
        ] {
            assert_eq!(principal_type(&json!({"@odata.type": odata})), expected);
        }
        assert_eq!(principal_type(&json!({"id": "x"})), None);
    }

    #[test]
    fn displayable_names_prefer_upn_then_spn() {
        assert_eq!(
            displayable_name(&json!({"userPrincipalName": "u@x", "displayName": "U"})),
            "u@x"
        );
        assert_eq!(
            displayable_name(
                &json!({"servicePrincipalNames": ["cid", "api://x"], "displayName": "S"})
            ),
            "cid"
        );
        assert_eq!(displayable_name(&json!({"displayName": "G"})), "G");
    }
}
