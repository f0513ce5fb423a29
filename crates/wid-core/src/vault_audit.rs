//! Key Vault's `AuditEvent` diagnostics: one record per data-plane request, allowed or
//! refused, saying who (the token's object and application ids, the client's address) did
//! what (`SecretGet`, `KeySign`, ...) to which item, and whether RBAC or an access policy let
//! them. Like the sign-in log it never holds a credential or a value: no token, no secret.

use crate::graph_filter::{Clause, Comparison, GraphFilter, GraphFilterError, Shape};
use crate::vault_access::{CertificateOp, KeyOp, SecretOp, VaultOp};
use serde::{Deserialize, Serialize};

/// How the request was authorized, which Key Vault reports as `isRbacAuthorized` or
/// `isAccessPolicyMatch`; absent when the request was refused before (no valid token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", content = "allowed", rename_all = "camelCase")]
pub enum Decision {
    Rbac(bool),
    AccessPolicy(bool),
}

/// One data-plane request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub tenant_id: String,
    /// The vault's ARM id, as the record's `resourceId`.
    pub vault_id: String,
    pub operation_name: String,
    /// The api-version the client asked for.
    pub operation_version: String,
    pub http_status: u16,
    /// The refusal's message, when there was one.
    pub result_description: Option<String>,
    pub duration_ms: u64,
    pub caller_ip: String,
    /// The client's `x-ms-client-request-id`, else wid's own request id.
    pub correlation_id: String,
    /// The token's `oid` and `appid`, once a token verified.
    pub object_id: Option<String>,
    pub app_id: Option<String>,
    /// Path and query; Key Vault's queries carry no secret (api-version, paging).
    pub request_uri: String,
    /// The item's identifier (`https://{vault}/secrets/{name}[/{version}]`), when the
    /// request named one.
    pub item_id: Option<String>,
    pub decision: Option<Decision>,
    /// The caller's `User-Agent`, cut at [`MAX_CLIENT_INFO`] bytes.
    pub client_info: String,
    pub replica: String,
}

/// A client's `User-Agent` is kept to this many bytes.
pub const MAX_CLIENT_INFO: usize = 256;

impl AuditEvent {
    pub fn succeeded(&self) -> bool {
        self.http_status < 400
    }

    /// `resultType`: Key Vault writes Success or Failure.
    pub fn result_type(&self) -> &'static str {
        if self.succeeded() {
            "Success"
        } else {
            "Failure"
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The `operationName` Key Vault logs for `op` arriving with `method`; `names_object` says
/// whether the route captured an item's name (a list of versions, one issuer).
pub fn operation_name(op: VaultOp, method: &str, names_object: bool) -> &'static str {
    match op {
        VaultOp::Secret(op) => match op {
            SecretOp::Get => "SecretGet",
            SecretOp::List if names_object => "SecretListVersions",
            SecretOp::List => "SecretList",
            SecretOp::Set => "SecretSet",
            SecretOp::Update => "SecretUpdate",
            SecretOp::Delete => "SecretDelete",
            SecretOp::Backup => "SecretBackup",
            SecretOp::Restore => "SecretRestore",
            SecretOp::Recover => "SecretRecover",
            SecretOp::Purge => "SecretPurge",
            SecretOp::GetDeleted => "SecretGetDeleted",
            SecretOp::ListDeleted => "SecretListDeleted",
        },
        VaultOp::Key(op) => match op {
            KeyOp::Get => "KeyGet",
            KeyOp::List if names_object => "KeyListVersions",
            KeyOp::List => "KeyList",
            KeyOp::Create => "KeyCreate",
            KeyOp::Import => "KeyImport",
            KeyOp::Update => "KeyUpdate",
            KeyOp::Delete => "KeyDelete",
            KeyOp::Backup => "KeyBackup",
            KeyOp::Restore => "KeyRestore",
            KeyOp::Recover => "KeyRecover",
            KeyOp::Purge => "KeyPurge",
            KeyOp::GetDeleted => "KeyGetDeleted",
            KeyOp::ListDeleted => "KeyListDeleted",
            KeyOp::Sign => "KeySign",
            KeyOp::Verify => "KeyVerify",
            KeyOp::Encrypt => "KeyEncrypt",
            KeyOp::Decrypt => "KeyDecrypt",
            KeyOp::WrapKey => "KeyWrap",
            KeyOp::UnwrapKey => "KeyUnwrap",
            KeyOp::Rotate => "KeyRotate",
            KeyOp::GetRotationPolicy => "KeyRotationPolicyGet",
            KeyOp::SetRotationPolicy => "KeyRotationPolicySet",
        },
        VaultOp::Certificate(op) => match op {
            CertificateOp::Get => "CertificateGet",
            CertificateOp::List if names_object => "CertificateListVersions",
            CertificateOp::List => "CertificateList",
            CertificateOp::Create => "CertificateCreate",
            CertificateOp::Import => "CertificateImport",
            CertificateOp::Update => "CertificateUpdate",
            CertificateOp::Delete => "CertificateDelete",
            CertificateOp::Backup => "CertificateBackup",
            CertificateOp::Restore => "CertificateRestore",
            CertificateOp::Recover => "CertificateRecover",
            CertificateOp::Purge => "CertificatePurge",
            CertificateOp::GetDeleted => "CertificateGetDeleted",
            CertificateOp::ListDeleted => "CertificateListDeleted",
            CertificateOp::GetOperation => "CertificatePendingGet",
            CertificateOp::UpdateOperation => "CertificatePendingUpdate",
            CertificateOp::DeleteOperation => "CertificatePendingDelete",
            CertificateOp::ManageContacts => match method {
                "GET" => "CertificateContactsGet",
                "DELETE" => "CertificateContactsDelete",
                _ => "CertificateContactsSet",
            },
            CertificateOp::GetIssuers if names_object => "CertificateIssuerGet",
            CertificateOp::GetIssuers => "CertificateIssuersList",
            CertificateOp::ManageIssuers => match method {
                "PUT" => "CertificateIssuerCreate",
                "DELETE" => "CertificateIssuerDelete",
                _ => "CertificateIssuerUpdate",
            },
        },
    }
}

/// The properties a vault event `$filter` may name, in the record's spelling.
pub const FILTERABLE: &[(&str, Shape)] = &[
    ("time", Shape::Ordered),
    ("httpStatusCode", Shape::Ordered),
    ("operationName", Shape::Single),
    ("appId", Shape::Single),
    ("objectId", Shape::Single),
    ("correlationId", Shape::Single),
    ("callerIpAddress", Shape::Single),
];

/// A string property a query compares for equality (without regard to case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    OperationName,
    AppId,
    ObjectId,
    CorrelationId,
    CallerIp,
}

/// One condition of a query; a query is all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Created(Comparison, i64),
    HttpStatus(Comparison, i64),
    Is(Field, String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub all_of: Vec<Condition>,
}

impl Query {
    /// The conditions of a `$filter` over [`FILTERABLE`], in Graph's filter syntax.
    pub fn from_filter(text: &str) -> Result<Self, GraphFilterError> {
        let filter = GraphFilter::parse(text, FILTERABLE)?;
        let all_of = filter
            .all_of
            .into_iter()
            .map(|clause| match clause {
                Clause::Compare {
                    property,
                    comparison,
                    value,
                } if property == "time" => {
                    let (comparison, ms) = crate::sign_in::time_bound(comparison, value.value());
                    Ok(Condition::Created(comparison, ms))
                }
                Clause::Compare {
                    comparison, value, ..
                } => Ok(Condition::HttpStatus(comparison, value.value())),
                Clause::Eq { property, value } => {
                    let field = match property.as_str() {
                        "operationName" => Field::OperationName,
                        "appId" => Field::AppId,
                        "objectId" => Field::ObjectId,
                        "correlationId" => Field::CorrelationId,
                        _ => Field::CallerIp,
                    };
                    Ok(Condition::Is(field, value.to_lowercase()))
                }
                Clause::AnyEq { collection, .. }
                | Clause::StartsWith {
                    property: collection,
                    ..
                } => Err(GraphFilterError {
                    reason: format!("'{collection}' cannot be filtered this way"),
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { all_of })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_as_key_vault_logs_them() {
        let cases = [
            (VaultOp::from(SecretOp::Get), "GET", true, "SecretGet"),
            (SecretOp::List.into(), "GET", false, "SecretList"),
            (SecretOp::List.into(), "GET", true, "SecretListVersions"),
            (SecretOp::Set.into(), "PUT", true, "SecretSet"),
            (KeyOp::Sign.into(), "POST", true, "KeySign"),
            (KeyOp::UnwrapKey.into(), "POST", true, "KeyUnwrap"),
            (KeyOp::List.into(), "GET", true, "KeyListVersions"),
            (
                CertificateOp::GetOperation.into(),
                "GET",
                true,
                "CertificatePendingGet",
            ),
            (
                CertificateOp::ManageContacts.into(),
                "GET",
                false,
                "CertificateContactsGet",
            ),
            (
                CertificateOp::ManageContacts.into(),
                "PUT",
                false,
                "CertificateContactsSet",
            ),
            (
                CertificateOp::GetIssuers.into(),
                "GET",
                false,
                "CertificateIssuersList",
            ),
            (
                CertificateOp::ManageIssuers.into(),
                "PUT",
                true,
                "CertificateIssuerCreate",
            ),
        ];
        for (op, method, named, want) in cases {
            assert_eq!(operation_name(op, method, named), want, "{op:?} {method}");
        }
    }

    #[test]
    fn filters_become_typed_conditions() {
        use Comparison::*;
        let t = 1_796_083_200;
        let q = Query::from_filter(
            "time ge 2026-12-01T00:00:00Z and httpStatusCode ge 400 and operationName eq 'SecretGet' and appId eq 'A'",
        )
        .unwrap();
        assert_eq!(
            q.all_of,
            vec![
                Condition::Created(Ge, t * 1000),
                Condition::HttpStatus(Ge, 400),
                Condition::Is(Field::OperationName, "secretget".into()),
                Condition::Is(Field::AppId, "a".into()),
            ]
        );
        for text in [
            "resultType eq 'Failure'",
            "startswith(appId,'a')",
            "time ge 'yesterday'",
            "httpStatusCode ge 400 or httpStatusCode lt 300",
        ] {
            assert!(Query::from_filter(text).is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn client_info_is_cut_on_a_character_boundary() {
        assert_eq!(truncate("abcdef", 4), "abcd");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("ab", 10), "ab");
    }
}
