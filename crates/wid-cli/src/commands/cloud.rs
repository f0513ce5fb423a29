//! `wid cloud show` (az cloud show): the endpoints of this installation.

use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;

#[derive(Subcommand)]
pub enum CloudCommand {
    /// Show the endpoints of this wid installation.
    Show {
        /// Accepted for az compatibility; there is one cloud.
        #[arg(short = 'n', long)]
        name: Option<String>,
    },
}

pub fn run(command: CloudCommand, ctx: &Context) -> Result<Option<Value>> {
    let CloudCommand::Show { name: _ } = command;
    Ok(Some(serde_json::to_value(ctx.cloud().az_cloud())?))
}
