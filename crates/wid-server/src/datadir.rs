//! Files wid keeps in its data directory. The directory is the one thing a user (and the CLI)
//! needs to find a running wid: `server.json` says where it listens and which CA to trust,
//! `credentials.json` holds the bootstrap admin's secret. Private files are written 0600,
//! atomically, so a crash never leaves half a key behind.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const SERVER_INFO: &str = "server.json";
pub const CREDENTIALS: &str = "credentials.json";
/// The bootstrap admin user's sign-in (`az login -u … -p …`).
pub const ADMIN_USER: &str = "admin-user.json";
pub const KEK_FILE: &str = "kek";
/// The embedded default database.
pub const DATABASE: &str = "wid.db";
pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key.sealed";
pub const TLS_CERT: &str = "tls.pem";
pub const TLS_KEY: &str = "tls.key.sealed";

/// What `wid up` publishes for clients in `server.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub url: String,
    pub ca_bundle: Option<PathBuf>,
    pub tenant_id: String,
    pub subscription_id: String,
    pub management_resource: String,
    pub dns_suffix: String,
    pub pid: u32,
}

/// The bootstrap admin's client credentials, as `credentials.json`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminCredentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub object_id: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// The bootstrap admin user's name and password, as `admin-user.json` (0600).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminUser {
    pub tenant_id: String,
    pub user_principal_name: String,
    pub password: String,
    pub object_id: String,
}

impl std::fmt::Debug for AdminUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUser")
            .field("tenant_id", &self.tenant_id)
            .field("user_principal_name", &self.user_principal_name)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The default data directory: `$XDG_DATA_HOME/wid`, else `~/.local/share/wid`.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("wid");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/wid")
}

/// Creates the directory private to its owner (0700), born so rather than restricted after
/// creation; an existing one is restricted too, with a warning, since it holds the KEK, the
/// admin's secret and the database. Parents are created with the usual mode: they are not wid's.
pub fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data directory open to others; restricting it to its owner (0700)");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a file atomically (temp file, fsync, rename) with the given mode.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(directory_of(path))?.sync_all()?;
    Ok(())
}

/// The directory whose entry a rename into `path` changes: a bare file name's parent is empty,
/// which names no directory to open, so it is the current one.
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, bytes, 0o600)
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> std::io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn write_json<T: Serialize>(path: &Path, value: &T, mode: u32) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_of_a_bare_file_name_is_the_current_one() {
        for (path, directory) in [
            ("c1.pem", "."),
            ("./c1.pem", "."),
            ("out/c1.pem", "out"),
            ("/tmp/c1.pem", "/tmp"),
            ("/c1.pem", "/"),
        ] {
            assert_eq!(
                directory_of(Path::new(path)),
                Path::new(directory),
                "{path}"
            );
        }
    }
}
