//! Gets a token with the Rust `azure_identity` crate's `WorkloadIdentityCredential`,
//! configured from the environment only (as in a pod, or under `wid run`), and prints it.
//! The end-to-end tests check its claims; nothing here knows about wid.

use azure_core::credentials::TokenCredential;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scope = std::env::args()
        .nth(1)
        .ok_or("usage: e2e-azure-identity SCOPE")?;
    let credential = azure_identity::WorkloadIdentityCredential::new(None)?;
    let token = credential.get_token(&[&scope], None).await?;
    println!("{}", token.token.secret());
    Ok(())
}
