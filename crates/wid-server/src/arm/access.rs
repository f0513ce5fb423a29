//! Which ARM action a management request performs, and on which scope: what role-based
//! access control decides on. Derived from the method and the (normalized) path alone, the
//! way ARM derives it, so every route is covered without a table to keep in sync.

use axum::http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub action: String,
    pub scope: String,
}

fn verb(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "read",
        Method::DELETE => "delete",
        _ => "write",
    }
}

/// `None` for requests every authenticated principal of the tenant may make (listing
/// tenants and subscriptions: ARM filters those by access, and wid has one of each).
pub fn requirement(method: &Method, path: &str) -> Option<Requirement> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.len() < 2 || segments[0] != "subscriptions" {
        return None;
    }
    let subscription = format!("/subscriptions/{}", segments[1]);
    // The last `providers` segment names the resource provider the request is for; what
    // comes before it is the scope (role assignments can sit on any resource).
    let Some(p) = segments.iter().rposition(|s| *s == "providers") else {
        return resources_requirement(method, &segments, subscription);
    };
    let namespace = segments.get(p + 1)?;
    let rest = &segments[p + 2..];
    let parent = segments[..p].join("/");
    let parent = format!("/{parent}");
    let types: Vec<&str> = rest.iter().step_by(2).copied().collect();
    if rest.len().is_multiple_of(2) {
        // `…/type/name[/type/name]`: one resource.
        return Some(Requirement {
            action: format!("{namespace}/{}/{}", types.join("/"), verb(method)),
            scope: format!("{parent}/providers/{}", segments[p + 1..].join("/")),
        });
    }
    if *method == Method::POST && rest.len() >= 3 {
        // `…/type/name/operation`: an action on the resource.
        let (operation, resource) = rest.split_last()?;
        let resource_types: Vec<&str> = resource.iter().step_by(2).copied().collect();
        return Some(Requirement {
            action: format!(
                "{namespace}/{}/{operation}/action",
                resource_types.join("/")
            ),
            scope: format!("{parent}/providers/{namespace}/{}", resource.join("/")),
        });
    }
    // `…/type[/name/type]`: a collection, read (or written to) at its parent.
    let collection_parent = &segments[..segments.len() - 1];
    let scope = if rest.len() == 1 {
        parent
    } else {
        format!("/{}", collection_parent.join("/"))
    };
    Some(Requirement {
        action: format!("{namespace}/{}/{}", types.join("/"), verb(method)),
        scope,
    })
}

/// Subscriptions and resource groups belong to `Microsoft.Resources`.
fn resources_requirement(
    method: &Method,
    segments: &[&str],
    subscription: String,
) -> Option<Requirement> {
    match segments {
        [_, _] => Some(Requirement {
            action: "Microsoft.Resources/subscriptions/read".to_owned(),
            scope: subscription,
        }),
        [_, _, "resourcegroups"] => Some(Requirement {
            action: "Microsoft.Resources/subscriptions/resourceGroups/read".to_owned(),
            scope: subscription,
        }),
        [_, _, "resourcegroups", rg] => Some(Requirement {
            action: format!(
                "Microsoft.Resources/subscriptions/resourceGroups/{}",
                verb(method)
            ),
            scope: format!("{subscription}/resourceGroups/{rg}"),
        }),
        _ => Some(Requirement {
            action: format!("Microsoft.Resources/subscriptions/{}", verb(method)),
            scope: subscription,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, path: &str) -> (String, String) {
        let r = requirement(&method, path).unwrap();
        (r.action, r.scope)
    }

    #[test]
    fn actions_and_scopes_follow_the_path() {
        let s = "/subscriptions/S";
        assert_eq!(requirement(&Method::GET, "/subscriptions"), None);
        assert_eq!(requirement(&Method::GET, "/tenants"), None);
        assert_eq!(
            req(Method::GET, s),
            ("Microsoft.Resources/subscriptions/read".into(), s.into())
        );
        assert_eq!(
            req(Method::PUT, &format!("{s}/resourcegroups/RG")),
            (
                "Microsoft.Resources/subscriptions/resourceGroups/write".into(),
                format!("{s}/resourceGroups/RG")
            )
        );
        let mi = format!(
            "{s}/resourcegroups/RG/providers/microsoft.managedidentity/userassignedidentities"
        );
        assert_eq!(
            req(Method::GET, &mi),
            (
                "microsoft.managedidentity/userassignedidentities/read".into(),
                format!("{s}/resourcegroups/RG")
            )
        );
        assert_eq!(
            req(Method::DELETE, &format!("{mi}/id1")),
            (
                "microsoft.managedidentity/userassignedidentities/delete".into(),
                format!("{mi}/id1")
            )
        );
        assert_eq!(
            req(
                Method::PUT,
                &format!("{mi}/id1/federatedidentitycredentials/f1")
            )
            .0,
            "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials/write"
        );
        assert_eq!(
            req(Method::GET, &format!("{mi}/id1/federatedidentitycredentials")),
            (
                "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials/read".into(),
                format!("{mi}/id1")
            )
        );
        let aks = format!(
            "{s}/resourcegroups/RG/providers/microsoft.containerservice/managedclusters/c1"
        );
        assert_eq!(
            req(
                Method::POST,
                &format!("{aks}/rotateserviceaccountsigningkeys")
            ),
            (
                "microsoft.containerservice/managedclusters/rotateserviceaccountsigningkeys/action"
                    .into(),
                aks.clone()
            )
        );
        let secret =
            format!("{s}/resourcegroups/RG/providers/microsoft.keyvault/vaults/v/secrets/x");
        assert_eq!(
            req(
                Method::PUT,
                &format!("{secret}/providers/microsoft.authorization/roleassignments/G")
            ),
            (
                "microsoft.authorization/roleassignments/write".into(),
                format!("{secret}/providers/microsoft.authorization/roleassignments/G")
            )
        );
        assert_eq!(
            req(
                Method::GET,
                &format!("{s}/providers/microsoft.authorization/roledefinitions")
            ),
            (
                "microsoft.authorization/roledefinitions/read".into(),
                s.into()
            )
        );
    }
}
