//! `wid admin …`: operating a wid installation.

use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;
use wid_client::Method;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Make a new key-encryption key current and re-seal every private key and vault data
    /// key under it, while the server keeps serving. The old key moves to `kek.previous`;
    /// delete it once you no longer need backups made before the rotation.
    RotateKek {
        #[arg(long)]
        subscription: Option<String>,
    },
}

pub async fn run(command: AdminCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        AdminCommand::RotateKek { subscription } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let url = format!(
                "/subscriptions/{sub}/providers/Microsoft.Wid/rotateKeyEncryptionKey?api-version=2021-04-01"
            );
            Ok(Some(ctx.arm_value(Method::POST, &url, None).await?))
        }
    }
}
