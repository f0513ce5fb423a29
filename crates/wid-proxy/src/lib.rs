//! The instance metadata service's managed-identity endpoint, answered with workload
//! identity (contracts.md §5): apps that ask IMDS for tokens get them from the federated
//! exchange, with IMDS's request rules, response shape and errors. Tokens are cached per
//! (client id, resource) and refreshed before they expire, one exchange in flight per key.

pub mod imds;
pub mod server;
pub mod tokens;

pub use server::{router, Proxy, ProxyConfig};
