//! wid's domain, free of IO: what a resource is, which names and values are valid, and the
//! rules the planes enforce. Handlers and stores call into this crate; it never calls out.

pub mod api_version;
pub mod clock;
pub mod cloud;
pub mod cluster;
pub mod cluster_spec;
pub mod directory;
pub mod federation;
pub mod filter;
pub mod graph_filter;
pub mod ids;
pub mod key_rotation;
pub mod model;
pub mod names;
pub mod password;
pub mod rbac;
pub mod resource_id;
pub mod resources;
pub mod retention;
pub mod seal;
pub mod secret;
pub mod session;
pub mod sign_in;
pub mod timefmt;
pub mod token;
pub mod vault_access;
pub mod vault_audit;
pub mod vault_certificate;
pub mod vault_key;
pub mod vault_secret;
