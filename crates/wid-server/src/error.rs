//! Why `wid up` could not start or keep serving. Request-level failures never get here; each
//! plane answers those in its own wire shape.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("storage: {0}")]
    Store(#[from] wid_store::StoreError),
    #[error("key-encryption key: {0}")]
    Seal(#[from] wid_core::seal::SealError),
    #[error("signing key: {0}")]
    Jose(#[from] wid_jose::JoseError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("configuration: {0}")]
    Config(String),
}

impl ServerError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
