//! `wid ad …` (az ad): users, applications, their federated credentials and service
//! principals, over Microsoft Graph v1.0 with az's flags and az's output (the Graph object),
//! plus `wid ad role assignment`, directory roles, which az reaches only through `az rest`.

use super::directory::{
    self, eq_filter, filtered, identifier_uri_filter, odata_string, spn_filter, startswith_filter,
};
use crate::context::Context;
use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use serde_json::{json, Map, Value};
use wid_cli::relaxed_json;
use wid_client::Method;
use wid_core::directory::DirectoryRole;

#[derive(Subcommand)]
pub enum AdCommand {
    /// The principal the CLI acts as.
    #[command(subcommand)]
    SignedInUser(SignedInUserCommand),
    /// Manage users of the directory.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage application registrations.
    #[command(subcommand)]
    App(AppCommand),
    /// Manage service principals (managed identities' ones included).
    #[command(subcommand)]
    Sp(SpCommand),
    /// Grant directory roles (Directory Readers, Application Administrator, …).
    #[command(subcommand)]
    Role(DirectoryRoleCommand),
}

#[derive(Subcommand)]
pub enum SignedInUserCommand {
    /// Show the signed-in user (`/me`); logged in as a service principal, its own entry.
    Show,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        display_name: String,
        /// The user's password (the directory's complexity rules apply).
        #[arg(long)]
        password: String,
        /// e.g. alice@wid.localhost
        #[arg(long)]
        user_principal_name: String,
        /// Mail alias (default: the part of the UPN before '@').
        #[arg(long)]
        mail_nickname: Option<String>,
        /// Whether the user must change the password at the next sign-in.
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        force_change_password_next_sign_in: Option<bool>,
    },
    /// List users, optionally by UPN or display-name prefix.
    List {
        #[arg(long)]
        upn: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// An OData filter, as Graph takes it.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Show a user by object id or UPN.
    Show {
        #[arg(long)]
        id: String,
    },
    /// Change a user's display name, password or whether it may sign in.
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        account_enabled: Option<bool>,
        #[arg(long)]
        mail_nickname: Option<String>,
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        force_change_password_next_sign_in: Option<bool>,
    },
    /// Delete a user by object id or UPN.
    Delete {
        #[arg(long)]
        id: String,
    },
}

#[derive(clap::Args)]
pub struct AppProperties {
    /// Space-separated identifier URIs (e.g. api://my-app).
    #[arg(long, num_args = 1..)]
    identifier_uris: Option<Vec<String>>,
    /// AzureADMyOrg, AzureADMultipleOrgs, AzureADandPersonalMicrosoftAccount or PersonalMicrosoftAccount.
    #[arg(long)]
    sign_in_audience: Option<String>,
}

#[derive(Subcommand)]
pub enum AppCommand {
    /// Create an application (or, as az does, patch the one of that display name).
    Create {
        #[arg(long)]
        display_name: String,
        #[command(flatten)]
        properties: AppProperties,
    },
    /// List applications.
    List {
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        app_id: Option<String>,
        #[arg(long)]
        identifier_uri: Option<String>,
        #[arg(long)]
        filter: Option<String>,
        /// Accepted for az compatibility: every page is always listed.
        #[arg(long)]
        all: bool,
    },
    /// Show an application by client id, identifier URI or object id.
    Show {
        #[arg(long)]
        id: String,
    },
    /// Change an application's display name, identifier URIs or sign-in audience.
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        properties: AppProperties,
    },
    /// Delete an application (its service principal and credentials go with it).
    Delete {
        #[arg(long)]
        id: String,
    },
    /// Manage an application's client secrets.
    #[command(subcommand)]
    Credential(AppCredentialCommand),
    /// Manage an application's federated identity credentials (workload identity federation).
    #[command(subcommand)]
    FederatedCredential(FederatedCredentialCommand),
}

#[derive(Subcommand)]
pub enum AppCredentialCommand {
    /// Add a client secret and print it; without --append, the other secrets are removed.
    Reset {
        #[arg(long)]
        id: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Years the secret is valid.
        #[arg(long, default_value_t = 1)]
        years: u32,
        /// Keep the existing secrets.
        #[arg(long)]
        append: bool,
    },
    /// List an application's secrets (without their values).
    List {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
pub enum FederatedCredentialCommand {
    /// Create a federated credential from a JSON body (`@file.json` or inline).
    Create {
        /// The application's client id or object id.
        #[arg(long)]
        id: String,
        /// {"name","issuer","subject","audiences",["description"]}, as JSON or @file.
        #[arg(long)]
        parameters: String,
    },
    List {
        #[arg(long)]
        id: String,
    },
    Show {
        #[arg(long)]
        id: String,
        /// The credential's id or name.
        #[arg(long)]
        federated_credential_id: String,
    },
    /// Change a federated credential (name and id stay).
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        federated_credential_id: String,
        #[arg(long)]
        parameters: String,
    },
    Delete {
        #[arg(long)]
        id: String,
        #[arg(long)]
        federated_credential_id: String,
    },
}

#[derive(Subcommand)]
pub enum SpCommand {
    /// Create the service principal of an application.
    Create {
        /// The application's client id, identifier URI or object id.
        #[arg(long)]
        id: String,
    },
    /// Show a service principal by any of its names (client id) or its object id.
    Show {
        #[arg(long)]
        id: String,
    },
    /// List service principals.
    List {
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        spn: Option<String>,
        #[arg(long)]
        filter: Option<String>,
        /// Accepted for az compatibility: every page is always listed.
        #[arg(long)]
        all: bool,
    },
    Delete {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
pub enum DirectoryRoleCommand {
    /// Manage assignments of directory roles.
    #[command(subcommand)]
    Assignment(DirectoryRoleAssignmentCommand),
}

#[derive(Subcommand)]
pub enum DirectoryRoleAssignmentCommand {
    /// Give a principal a directory role, tenant-wide (`directoryScopeId: "/"`).
    Create {
        /// Role name (e.g. "Directory Readers") or role template id.
        #[arg(long)]
        role: String,
        /// UPN, client id, service principal name or object id.
        #[arg(long)]
        assignee: String,
    },
    /// List directory role assignments, optionally of one principal.
    List {
        #[arg(long)]
        assignee: Option<String>,
    },
    /// Delete a directory role assignment by id.
    Delete {
        #[arg(long)]
        id: String,
    },
}

/// A directory role's template id (the same in every Entra tenant) from its display name, in
/// any case, among the roles wid gives a meaning to, or the id itself.
pub fn directory_role_id(role: &str) -> Result<String> {
    if wid_core::names::is_guid(role) {
        return Ok(role.to_ascii_lowercase());
    }
    DirectoryRole::ALL
        .into_iter()
        .find(|r| r.display_name().eq_ignore_ascii_case(role))
        .map(|r| r.template_id().to_owned())
        .ok_or_else(|| {
            let known: Vec<&str> = DirectoryRole::ALL
                .iter()
                .map(|r| r.display_name())
                .collect();
            anyhow!(
                "Directory role '{role}' doesn't exist in wid; known roles: {}",
                known.join(", ")
            )
        })
}

/// `--parameters` as az reads it: `@file` or inline JSON (or a Python literal), an object.
pub fn parameters(arg: &str) -> Result<Value> {
    let value = relaxed_json::parse(&relaxed_json::read_arg(arg)?)?;
    if !value.is_object() {
        bail!("--parameters must be a JSON object");
    }
    Ok(value)
}

/// `az ad user create`'s body.
pub fn user_create_body(
    display_name: &str,
    password: &str,
    upn: &str,
    mail_nickname: Option<&str>,
    force_change: Option<bool>,
) -> Value {
    let nickname = mail_nickname
        .map(str::to_owned)
        .unwrap_or_else(|| upn.split('@').next().unwrap_or(upn).to_owned());
    json!({
        "accountEnabled": true,
        "displayName": display_name,
        "mailNickname": nickname,
        "passwordProfile": {
            "forceChangePasswordNextSignIn": force_change.unwrap_or(false),
            "password": password,
        },
        "userPrincipalName": upn,
    })
}

/// The application properties of `create`/`update` that were given, as a Graph PATCH body.
fn app_body(display_name: Option<&str>, p: &AppProperties) -> Value {
    let mut body = Map::new();
    if let Some(n) = display_name {
        body.insert("displayName".into(), json!(n));
    }
    if let Some(uris) = &p.identifier_uris {
        body.insert("identifierUris".into(), json!(uris));
    }
    if let Some(a) = &p.sign_in_audience {
        body.insert("signInAudience".into(), json!(a));
    }
    Value::Object(body)
}

/// `az ad app credential reset`'s password credential: named, and valid for `years`.
pub fn add_password_body(display_name: Option<&str>, now: i64, years: u32) -> Value {
    let end = now + i64::from(years) * 365 * 24 * 3600;
    let mut cred = json!({ "endDateTime": wid_core::timefmt::rfc3339(end) });
    if let Some(n) = display_name {
        cred["displayName"] = json!(n);
    }
    json!({ "passwordCredential": cred })
}

/// A list flag's value and the filter it becomes.
type FlagFilter<'a> = (Option<&'a String>, fn(&str) -> String);

/// The filters of the list flags given, then `--filter`'s raw OData.
fn list_filters(pairs: &[FlagFilter<'_>], raw: Option<&String>) -> Vec<String> {
    let mut filters: Vec<String> = pairs.iter().filter_map(|(v, f)| v.map(|v| f(v))).collect();
    if let Some(raw) = raw {
        filters.push(raw.clone());
    }
    filters
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub async fn run(command: AdCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        AdCommand::SignedInUser(SignedInUserCommand::Show) => {
            Ok(Some(directory::signed_in_object(ctx).await?))
        }
        AdCommand::User(c) => user(c, ctx).await,
        AdCommand::App(c) => app(c, ctx).await,
        AdCommand::Sp(c) => sp(c, ctx).await,
        AdCommand::Role(DirectoryRoleCommand::Assignment(c)) => directory_role(c, ctx).await,
    }
}

async fn user(command: UserCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        UserCommand::Create {
            display_name,
            password,
            user_principal_name,
            mail_nickname,
            force_change_password_next_sign_in,
        } => {
            let body = user_create_body(
                &display_name,
                &password,
                &user_principal_name,
                mail_nickname.as_deref(),
                force_change_password_next_sign_in,
            );
            Ok(Some(
                ctx.graph_value(Method::POST, "/v1.0/users", Some(&body))
                    .await?,
            ))
        }
        UserCommand::List {
            upn,
            display_name,
            filter,
        } => {
            let filters = list_filters(
                &[
                    (upn.as_ref(), |v| eq_filter("userPrincipalName", v)),
                    (display_name.as_ref(), |v| {
                        startswith_filter("displayName", v)
                    }),
                ],
                filter.as_ref(),
            );
            Ok(Some(Value::Array(
                ctx.graph_list(&filtered("/v1.0/users", &filters)).await?,
            )))
        }
        UserCommand::Show { id } => Ok(Some(
            ctx.graph_value(Method::GET, &format!("/v1.0/users/{}", encode(&id)), None)
                .await?,
        )),
        UserCommand::Update {
            id,
            display_name,
            password,
            account_enabled,
            mail_nickname,
            force_change_password_next_sign_in,
        } => {
            let mut body = Map::new();
            if let Some(v) = account_enabled {
                body.insert("accountEnabled".into(), json!(v));
            }
            if let Some(v) = display_name {
                body.insert("displayName".into(), json!(v));
            }
            if let Some(v) = mail_nickname {
                body.insert("mailNickname".into(), json!(v));
            }
            if password.is_some() || force_change_password_next_sign_in.is_some() {
                let mut profile = Map::new();
                if let Some(p) = password {
                    profile.insert("password".into(), json!(p));
                }
                profile.insert(
                    "forceChangePasswordNextSignIn".into(),
                    json!(force_change_password_next_sign_in.unwrap_or(false)),
                );
                body.insert("passwordProfile".into(), Value::Object(profile));
            }
            ctx.graph(
                Method::PATCH,
                &format!("/v1.0/users/{}", encode(&id)),
                Some(&Value::Object(body)),
            )
            .await?;
            Ok(None)
        }
        UserCommand::Delete { id } => {
            ctx.graph(
                Method::DELETE,
                &format!("/v1.0/users/{}", encode(&id)),
                None,
            )
            .await?;
            Ok(None)
        }
    }
}

async fn show_application(ctx: &Context, id: &str) -> Result<Value> {
    directory::find_application(ctx, id)
        .await?
        .ok_or_else(|| anyhow!("Application '{id}' doesn't exist"))
}

fn object_id(object: &Value) -> Result<String> {
    object["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the directory object has no id"))
}

async fn app(command: AppCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        AppCommand::Create {
            display_name,
            properties,
        } => {
            // As az: an application of exactly this display name (and these identifier
            // URIs, when given) is patched rather than duplicated.
            let wanted_uris = properties.identifier_uris.clone().unwrap_or_default();
            let existing: Vec<Value> = ctx
                .graph_list(&filtered(
                    "/v1.0/applications",
                    &[eq_filter("displayName", &display_name)],
                ))
                .await?
                .into_iter()
                .filter(|a| a["displayName"].as_str() == Some(display_name.as_str()))
                .filter(|a| {
                    let have = a["identifierUris"].as_array().cloned().unwrap_or_default();
                    wanted_uris
                        .iter()
                        .all(|u| have.iter().any(|h| h.as_str() == Some(u)))
                })
                .collect();
            match existing.as_slice() {
                [] => {
                    let body = app_body(Some(&display_name), &properties);
                    Ok(Some(
                        ctx.graph_value(Method::POST, "/v1.0/applications", Some(&body))
                            .await?,
                    ))
                }
                [one] => {
                    let oid = object_id(one)?;
                    eprintln!(
                        "WARNING: Found an existing application instance: (id) {oid}. We will patch it."
                    );
                    let body = app_body(None, &properties);
                    let path = format!("/v1.0/applications/{oid}");
                    ctx.graph(Method::PATCH, &path, Some(&body)).await?;
                    Ok(Some(ctx.graph_value(Method::GET, &path, None).await?))
                }
                _ => bail!(
                    "More than one application have the same display name '{display_name}', please use the update command"
                ),
            }
        }
        AppCommand::List {
            display_name,
            app_id,
            identifier_uri,
            filter,
            all: _,
        } => {
            let filters = list_filters(
                &[
                    (display_name.as_ref(), |v| {
                        startswith_filter("displayName", v)
                    }),
                    (app_id.as_ref(), |v| eq_filter("appId", v)),
                    (identifier_uri.as_ref(), identifier_uri_filter),
                ],
                filter.as_ref(),
            );
            Ok(Some(Value::Array(
                ctx.graph_list(&filtered("/v1.0/applications", &filters))
                    .await?,
            )))
        }
        AppCommand::Show { id } => Ok(Some(show_application(ctx, &id).await?)),
        AppCommand::Update {
            id,
            display_name,
            properties,
        } => {
            let oid = directory::resolve_application(ctx, &id).await?;
            let body = app_body(display_name.as_deref(), &properties);
            ctx.graph(
                Method::PATCH,
                &format!("/v1.0/applications/{oid}"),
                Some(&body),
            )
            .await?;
            Ok(None)
        }
        AppCommand::Delete { id } => {
            let oid = directory::resolve_application(ctx, &id).await?;
            ctx.graph(Method::DELETE, &format!("/v1.0/applications/{oid}"), None)
                .await?;
            Ok(None)
        }
        AppCommand::Credential(AppCredentialCommand::Reset {
            id,
            display_name,
            years,
            append,
        }) => {
            let app = show_application(ctx, &id).await?;
            let oid = object_id(&app)?;
            let now = wid_core::clock::Clock::now_unix(&wid_core::clock::SystemClock);
            let added = ctx
                .graph_value(
                    Method::POST,
                    &format!("/v1.0/applications/{oid}/addPassword"),
                    Some(&add_password_body(display_name.as_deref(), now, years)),
                )
                .await?;
            if !append {
                // Only after the new secret exists, so a failure never leaves none.
                for old in app["passwordCredentials"].as_array().into_iter().flatten() {
                    if let Some(key) = old["keyId"].as_str() {
                        ctx.graph(
                            Method::POST,
                            &format!("/v1.0/applications/{oid}/removePassword"),
                            Some(&json!({ "keyId": key })),
                        )
                        .await?;
                    }
                }
            }
            Ok(Some(json!({
                "appId": app["appId"],
                "password": added["secretText"],
                "tenant": ctx.server.tenant_id,
            })))
        }
        AppCommand::Credential(AppCredentialCommand::List { id }) => {
            let app = show_application(ctx, &id).await?;
            Ok(Some(
                app["passwordCredentials"]
                    .as_array()
                    .cloned()
                    .map(Value::Array)
                    .unwrap_or_else(|| json!([])),
            ))
        }
        AppCommand::FederatedCredential(c) => federated_credential(c, ctx).await,
    }
}

async fn federated_credential(
    command: FederatedCredentialCommand,
    ctx: &Context,
) -> Result<Option<Value>> {
    let (id, fic) = match &command {
        FederatedCredentialCommand::Create { id, .. } | FederatedCredentialCommand::List { id } => {
            (id, None)
        }
        FederatedCredentialCommand::Show {
            id,
            federated_credential_id,
        }
        | FederatedCredentialCommand::Update {
            id,
            federated_credential_id,
            ..
        }
        | FederatedCredentialCommand::Delete {
            id,
            federated_credential_id,
        } => (id, Some(federated_credential_id)),
    };
    let oid = directory::resolve_application(ctx, id).await?;
    let collection = format!("/v1.0/applications/{oid}/federatedIdentityCredentials");
    let one = fic.map(|f| format!("{collection}/{}", encode(f)));
    match command {
        FederatedCredentialCommand::Create { parameters: p, .. } => Ok(Some(
            ctx.graph_value(Method::POST, &collection, Some(&parameters(&p)?))
                .await?,
        )),
        FederatedCredentialCommand::List { .. } => {
            Ok(Some(Value::Array(ctx.graph_list(&collection).await?)))
        }
        FederatedCredentialCommand::Show { .. } => Ok(Some(
            ctx.graph_value(Method::GET, one.as_deref().unwrap_or_default(), None)
                .await?,
        )),
        FederatedCredentialCommand::Update { parameters: p, .. } => {
            ctx.graph(
                Method::PATCH,
                one.as_deref().unwrap_or_default(),
                Some(&parameters(&p)?),
            )
            .await?;
            Ok(None)
        }
        FederatedCredentialCommand::Delete { .. } => {
            ctx.graph(Method::DELETE, one.as_deref().unwrap_or_default(), None)
                .await?;
            Ok(None)
        }
    }
}

/// `az ad sp create --id`: the application's client id from any of its names, then the
/// service principal for it.
pub async fn create_service_principal(ctx: &Context, id: &str) -> Result<Value> {
    let app = show_application(ctx, id).await?;
    let body = json!({ "appId": app["appId"] });
    ctx.graph_value(Method::POST, "/v1.0/servicePrincipals", Some(&body))
        .await
}

async fn sp(command: SpCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        SpCommand::Create { id } => Ok(Some(create_service_principal(ctx, &id).await?)),
        SpCommand::Show { id } => {
            let oid = directory::resolve_service_principal(ctx, &id).await?;
            Ok(Some(
                ctx.graph_value(Method::GET, &format!("/v1.0/servicePrincipals/{oid}"), None)
                    .await?,
            ))
        }
        SpCommand::List {
            display_name,
            spn,
            filter,
            all: _,
        } => {
            let filters = list_filters(
                &[
                    (display_name.as_ref(), |v| {
                        startswith_filter("displayName", v)
                    }),
                    (spn.as_ref(), spn_filter),
                ],
                filter.as_ref(),
            );
            Ok(Some(Value::Array(
                ctx.graph_list(&filtered("/v1.0/servicePrincipals", &filters))
                    .await?,
            )))
        }
        SpCommand::Delete { id } => {
            let oid = directory::resolve_service_principal(ctx, &id).await?;
            ctx.graph(
                Method::DELETE,
                &format!("/v1.0/servicePrincipals/{oid}"),
                None,
            )
            .await?;
            Ok(None)
        }
    }
}

const ROLE_ASSIGNMENTS: &str = "/v1.0/roleManagement/directory/roleAssignments";

async fn directory_role(
    command: DirectoryRoleAssignmentCommand,
    ctx: &Context,
) -> Result<Option<Value>> {
    match command {
        DirectoryRoleAssignmentCommand::Create { role, assignee } => {
            let body = json!({
                "principalId": directory::resolve_assignee(ctx, &assignee).await?,
                "roleDefinitionId": directory_role_id(&role)?,
                "directoryScopeId": "/",
            });
            Ok(Some(
                ctx.graph_value(Method::POST, ROLE_ASSIGNMENTS, Some(&body))
                    .await?,
            ))
        }
        DirectoryRoleAssignmentCommand::List { assignee } => {
            let filters = match assignee {
                Some(a) => vec![format!(
                    "principalId eq {}",
                    odata_string(&directory::resolve_assignee(ctx, &a).await?)
                )],
                None => vec![],
            };
            Ok(Some(Value::Array(
                ctx.graph_list(&filtered(ROLE_ASSIGNMENTS, &filters))
                    .await?,
            )))
        }
        DirectoryRoleAssignmentCommand::Delete { id } => {
            ctx.graph(
                Method::DELETE,
                &format!("{ROLE_ASSIGNMENTS}/{}", encode(&id)),
                None,
            )
            .await?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_roles_by_name_or_template_id() {
        assert_eq!(
            directory_role_id("Directory Readers").unwrap(),
            "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
        );
        assert_eq!(
            directory_role_id("application administrator").unwrap(),
            "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
        );
        assert_eq!(
            directory_role_id("88D8E3E3-8F55-4A1E-953A-9B9898B8876B").unwrap(),
            "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
        );
        assert!(directory_role_id("Directory Reader").is_err());
    }

    #[test]
    fn parameters_from_file_inline_or_python_literal() {
        let dir = std::env::temp_dir().join(format!("wid-cli-fic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("fic.json");
        std::fs::write(
            &file,
            r#"{"name":"n","issuer":"https://i/","subject":"s","audiences":["api://AzureADTokenExchange"]}"#,
        )
        .unwrap();
        let from_file = parameters(&format!("@{}", file.display())).unwrap();
        assert_eq!(from_file["issuer"], "https://i/");
        let literal = parameters("{'name': 'n', 'audiences': ['a']}").unwrap();
        assert_eq!(literal, json!({"name": "n", "audiences": ["a"]}));
        assert!(parameters("[1]").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn user_body_as_az_sends_it() {
        assert_eq!(
            user_create_body("Alice", "P@ssw0rd!x", "alice@wid.localhost", None, None),
            json!({
                "accountEnabled": true,
                "displayName": "Alice",
                "mailNickname": "alice",
                "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": "P@ssw0rd!x"},
                "userPrincipalName": "alice@wid.localhost",
            })
        );
    }

    #[test]
    fn password_credentials_end_after_the_years_given() {
        let body = add_password_body(Some("ci"), 0, 2);
        assert_eq!(
            body,
            json!({"passwordCredential": {"displayName": "ci", "endDateTime": wid_core::timefmt::rfc3339(2 * 365 * 86400)}})
        );
        assert!(add_password_body(None, 0, 1)["passwordCredential"]
            .get("displayName")
            .is_none());
    }

    #[test]
    fn list_filters_keep_given_ones_in_order() {
        let upn = "a@b".to_owned();
        let raw = "accountEnabled eq true".to_owned();
        assert_eq!(
            list_filters(
                &[
                    (Some(&upn), |v| eq_filter("userPrincipalName", v)),
                    (None, |v| startswith_filter("displayName", v)),
                ],
                Some(&raw)
            ),
            vec![
                "userPrincipalName eq 'a@b'".to_owned(),
                "accountEnabled eq true".to_owned()
            ]
        );
    }
}
