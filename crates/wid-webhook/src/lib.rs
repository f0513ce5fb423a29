//! The mutating admission webhook that prepares pods for workload identity, as the
//! azure-workload-identity webhook (v1.6) does: environment, a projected service-account
//! token volume, and on request the IMDS proxy. Pods are handled as JSON, not as typed
//! objects, so fields this crate does not know survive the round trip untouched.

pub mod certs;
pub mod cloud;
pub mod endpoints;
pub mod kube;
pub mod metrics;
pub mod mutate;
pub mod review;
pub mod token_endpoint;

pub use mutate::{mutate, Config, MutationError};
pub use review::{handle_review, handle_review_value, review_target, ServiceAccountLookup};
