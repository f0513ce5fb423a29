//! Key Vault's error answers (contracts.md §4.5): `{"error":{"code","message","innererror"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct VaultError {
    pub status: StatusCode,
    pub code: &'static str,
    pub inner: Option<&'static str>,
    pub message: String,
    /// The `WWW-Authenticate` challenge a 401 carries.
    pub challenge: Option<String>,
}

impl VaultError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            inner: None,
            message: message.into(),
            challenge: None,
        }
    }

    fn inner(mut self, inner: &'static str) -> Self {
        self.inner = Some(inner);
        self
    }

    pub fn unauthorized(challenge: String, message: impl Into<String>) -> Self {
        Self {
            challenge: Some(challenge),
            ..Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
        }
    }

    pub fn forbidden(inner: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message).inner(inner)
    }

    pub fn secret_not_found(name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "SecretNotFound", format!("A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"))
    }

    pub fn deleted_secret_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            format!("Deleted Secret not found: {name}"),
        )
    }

    pub fn certificate_not_found(name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "CertificateNotFound", format!("A certificate with (name/id) {name} was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"))
    }

    pub fn deleted_certificate_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "CertificateNotFound",
            format!("Deleted Certificate not found: {name}"),
        )
    }

    pub fn pending_certificate_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "PendingCertificateNotFound",
            format!("Pending certificate not found: {name}"),
        )
    }

    /// An operation Key Vault has that wid does not offer.
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "NotSupported", message)
    }

    /// A client's write, update or delete of a secret that backs a certificate.
    pub fn secret_managed(operation: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("Operation \"{operation}\" is not allowed as this object's lifetime is managed by Key Vault."),
        )
        .inner("SecretManagedByKeyVault")
    }

    /// `kind` is the object as Key Vault names it in the message: `Secret`, `Certificate`.
    pub fn deleted_but_recoverable(kind: &str, name: &str) -> Self {
        let lower = kind.to_ascii_lowercase();
        Self::new(StatusCode::CONFLICT, "Conflict", format!("{kind} {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the {lower} can only be recovered or purged.")).inner("ObjectIsDeletedButRecoverable")
    }

    pub fn key_not_found(name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "KeyNotFound", format!("A key with (name/id) {name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"))
    }

    pub fn deleted_key_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "KeyNotFound",
            format!("Deleted Key not found: {name}"),
        )
    }

    pub fn key_deleted_but_recoverable(name: &str) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", format!("Key {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.")).inner("ObjectIsDeletedButRecoverable")
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    pub fn bad_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadParameter", message)
    }

    pub fn vault_not_found(host: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            format!("The vault '{host}' was not found."),
        )
    }

    pub fn not_found_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The requested resource was not found.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "The service encountered an internal error.",
        )
    }
}

impl From<wid_store::StoreError> for VaultError {
    fn from(e: wid_store::StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        Self::internal()
    }
}

impl IntoResponse for VaultError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(inner) = self.inner {
            error["innererror"] = json!({"code": inner});
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}
