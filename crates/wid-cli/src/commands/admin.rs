//! `wid admin …`: operating a wid installation.

use crate::context::Context;
use anyhow::{Context as _, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
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
    /// Write a consistent snapshot of the database to a file (JSON lines, mode 0600). Private
    /// keys and secret values stay sealed under the key-encryption key: keep the KEK (the
    /// data directory's `kek` file or WID_KEK) with the backup, apart from it. Safe while
    /// wid serves.
    Backup {
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Load a backup into an empty database (a new data directory's SQLite, or a new
    /// PostgreSQL database): in one transaction, refused if the database holds data. Works
    /// across backends, e.g. to move from SQLite to PostgreSQL. Start wid on it with the KEK
    /// of the installation the backup came from.
    Restore {
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Show the bootstrap admin user and its password (from the data directory's
    /// admin-user.json), for `az login -u … -p …` and the device-code sign-in page.
    ShowUser,
}

#[derive(clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL (default: the SQLite database of the data directory).
    #[arg(long, env = "WID_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl AdminCommand {
    /// Whether the command works on the database directly, without a running server.
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            AdminCommand::Backup { .. } | AdminCommand::Restore { .. } | AdminCommand::ShowUser
        )
    }
}

async fn open_store(database: DatabaseArgs, data_dir: &Path) -> Result<wid_store::Store> {
    let store = match database.database_url {
        Some(url) => wid_store::Store::connect(&url).await,
        None => {
            wid_server::datadir::ensure_dir(data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            wid_store::Store::open_sqlite(&data_dir.join(wid_server::datadir::DATABASE)).await
        }
    };
    store.context("opening the database")
}

pub async fn run_offline(command: AdminCommand, data_dir: &Path) -> Result<Option<Value>> {
    match command {
        AdminCommand::Backup { file, database } => {
            let store = open_store(database, data_dir).await?;
            let tmp = file.with_extension("partial");
            let partial = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            // The mode above applies only to a new file; a partial file left by an earlier
            // attempt keeps its own, and the backup holds sealed keys and hashed secrets.
            partial
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("restricting {}", tmp.display()))?;
            let mut out = std::io::BufWriter::new(partial);
            let summary = store.backup(&mut out).await?;
            out.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &file)
                .with_context(|| format!("renaming {} to {}", tmp.display(), file.display()))?;
            Ok(Some(json!({
                "file": file,
                "rows": summary.rows,
                "schemaVersion": summary.schema_version,
            })))
        }
        AdminCommand::Restore { file, database } => {
            let input = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let store = open_store(database, data_dir).await?;
            let summary = store.restore(&mut std::io::BufReader::new(input)).await?;
            Ok(Some(json!({
                "file": file,
                "rows": summary.rows,
                "schemaVersion": summary.schema_version,
            })))
        }
        AdminCommand::ShowUser => {
            let path = data_dir.join(wid_server::datadir::ADMIN_USER);
            let user: wid_server::datadir::AdminUser = wid_server::datadir::read_json(&path)
                .with_context(|| format!("reading {}", path.display()))?
                .with_context(|| {
                    format!(
                        "{} does not exist: start wid with `wid up` first",
                        path.display()
                    )
                })?;
            Ok(Some(json!({
                "userPrincipalName": user.user_principal_name,
                "password": user.password,
                "objectId": user.object_id,
                "tenantId": user.tenant_id,
            })))
        }
        AdminCommand::RotateKek { .. } => unreachable!("needs a running server"),
    }
}

pub async fn run(command: AdminCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        AdminCommand::Backup { .. } | AdminCommand::Restore { .. } | AdminCommand::ShowUser => {
            unreachable!("run before a context is loaded")
        }
        AdminCommand::RotateKek { subscription } => {
            let sub = ctx.subscription(subscription.as_deref())?;
            let url = format!(
                "/subscriptions/{sub}/providers/Microsoft.Wid/rotateKeyEncryptionKey?api-version=2021-04-01"
            );
            Ok(Some(ctx.arm_value(Method::POST, &url, None).await?))
        }
    }
}
