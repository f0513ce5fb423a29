//! `wid jwks`: the JSON Web Key Set of a self-managed cluster's service-account keys, as
//! `azwi jwks` writes it, for publishing next to the issuer's discovery document.

use anyhow::{Context as _, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct JwksArgs {
    /// PEM public or private keys (RSA, or EC P-256); repeatable.
    #[arg(long = "public-keys", required = true, num_args = 1..)]
    public_keys: Vec<PathBuf>,
    /// Write the JWKS here (mode 0600) instead of printing it.
    #[arg(long)]
    output_file: Option<PathBuf>,
}

pub fn run(args: JwksArgs) -> Result<()> {
    let keys = args
        .public_keys
        .iter()
        .map(|path| {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let key = wid_jose::VerifyingKey::from_pem(&pem)
                .with_context(|| format!("{} holds no usable RSA or P-256 key", path.display()))?;
            Ok(key.to_jwk())
        })
        .collect::<Result<Vec<_>>>()?;
    let text = serde_json::to_string_pretty(&wid_jose::Jwks { keys })?;
    match args.output_file {
        Some(path) => {
            wid_server::datadir::write_atomic(&path, format!("{text}\n").as_bytes(), 0o600)
                .with_context(|| format!("writing {}", path.display()))?
        }
        None => println!("{text}"),
    }
    Ok(())
}
