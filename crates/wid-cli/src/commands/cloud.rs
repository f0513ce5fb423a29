//! `wid cloud show` (az cloud show): the endpoints of this installation.

use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;
use serde_json::{json, Value};
use wid_core::cloud::Cloud;

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
    let cloud = Cloud {
        public_url: ctx.server.url.clone(),
        dns_suffix: ctx.server.dns_suffix.clone(),
    };
    Ok(Some(json!({
        "endpoints": {
            "activeDirectory": cloud.authority(),
            "activeDirectoryResourceId": cloud.management_resource(),
            "management": cloud.management_resource(),
            "resourceManager": cloud.resource_manager(),
            "activeDirectoryGraphResourceId": null,
            "microsoftGraphResourceId": null,
            "gallery": null,
            "sqlManagement": null,
            "vmImageAliasDoc": null,
            "batchResourceId": null,
            "activeDirectoryDataLakeResourceId": null,
            "appInsightsResourceId": null,
            "appInsightsTelemetryChannelResourceId": null,
            "attestationResourceId": null,
            "logAnalyticsResourceId": null,
            "mediaResourceId": null,
            "ossrdbmsResourceId": null,
            "portal": null,
            "synapseAnalyticsResourceId": null,
        },
        "isActive": true,
        "name": "wid",
        "profile": "latest",
        "suffixes": {
            "keyvaultDns": format!(".{}", cloud.keyvault_dns_suffix()),
            "keyvaultResource": cloud.keyvault_resource(),
            "acrLoginServerEndpoint": null,
            "attestationEndpoint": null,
            "azureDatalakeAnalyticsCatalogAndJobEndpoint": null,
            "azureDatalakeStoreFileSystemEndpoint": null,
            "mhsmDns": null,
            "mysqlServerEndpoint": null,
            "postgresqlServerEndpoint": null,
            "sqlServerHostname": null,
            "storageEndpoint": null,
            "storageSyncEndpoint": null,
            "synapseAnalyticsEndpoint": null,
        },
    })))
}
