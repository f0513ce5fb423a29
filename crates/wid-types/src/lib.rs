//! Wire types of wid's planes, serde only. They mirror what Azure's services send and
//! accept, so the planes (and tests) can't drift from the contracts in `docs/contracts.md`.
//! Request bodies ignore unknown members, as ARM does; field types are strict, so a wrong
//! type is a clear `InvalidRequestContent` rather than a silently dropped value.

pub mod arm;
pub mod cloud;
pub mod keyvault;
pub mod oauth;
pub mod oidc;
pub mod prometheus;
pub mod resources;
