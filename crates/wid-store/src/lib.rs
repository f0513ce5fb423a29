//! wid's storage seam: one [`Store`] over SQLite (the embedded default) and PostgreSQL (for
//! several replicas), with the same SQL on both and one migrations tree per backend.
//!
//! Every write that must check before it changes something (a credential's uniqueness and
//! count, an upsert that keeps parts of the stored record) runs in one transaction that is
//! serialized with its rivals, so the rules of `wid_core` hold even under concurrent requests
//! and across replicas.

mod activity;
mod applications;
mod backup;
mod certificates;
mod changes;
mod clusters;
mod codec;
mod credentials;
mod db;
mod error;
mod groups;
mod identities;
mod jobs;
mod keys;
mod migrate;
mod operations;
mod principals;
mod roles;
mod sealed;
mod secrets;
mod sessions;
mod settings;
mod sign_ins;
mod soft_delete;
mod tenancy;
mod users;
mod vault_events;
mod vault_keys;
mod vaults;

pub use activity::LogCursor;
pub use applications::{AppCredentialChanges, ApplicationChanges};
pub use backup::BackupSummary;
pub use changes::Topic;
pub use db::{Backend, Store};
pub use error::StoreError;
pub use jobs::Purged;
pub use sealed::SealedValue;
pub use sessions::Rotation;
pub use users::UserChanges;
