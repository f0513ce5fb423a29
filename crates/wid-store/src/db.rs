use crate::{migrate, StoreError};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Executor, Transaction};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database behind wid. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    backend: Backend,
    /// Told of every committed change (see [`Store::on_change`]).
    listener: std::sync::OnceLock<ChangeListener>,
    /// SQLite allows one writer at a time. Queueing our writers here (first come, first
    /// served) rather than in SQLite's busy handler means a burst of writes waits its turn
    /// instead of failing with SQLITE_BUSY once busy_timeout runs out. Unused on PostgreSQL.
    sqlite_writer: Mutex<()>,
}

type ChangeListener = Box<dyn Fn(crate::Topic) + Send + Sync>;

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Set on every SQLite connection. WAL lets readers run beside the writer; synchronous=FULL
/// syncs the WAL on every commit, so an acknowledged write survives a crash or power loss.
/// Foreign keys are off by default in SQLite, and the cascades depend on them.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";
/// Mostly for readers: writers queue on `sqlite_writer`, so they hold one at a time.
const SQLITE_CONNECTIONS: u32 = 8;
/// Per replica: PostgreSQL's default limit of 100 connections leaves room for several.
const POSTGRES_CONNECTIONS: u32 = 16;
/// While the database is unreachable a request fails after this long instead of holding its
/// client (and a server task) for sqlx's default 30 s.
const POSTGRES_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Store {
    /// Opens `sqlite://PATH` (creating the file if missing) or `postgres://…`, and brings
    /// the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                let url = creating_if_missing(url);
                if let Some((path, create)) = sqlite_file(&url)? {
                    private_database_files(&path, create)?;
                }
                // A local file cannot drop the connection the way a network peer can, so the
                // ping sqlx would send before handing out each connection only adds a round
                // trip to the connection's worker thread.
                AnyPoolOptions::new()
                    .max_connections(SQLITE_CONNECTIONS)
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(drop) })
                    })
                    .connect_with(AnyConnectOptions::from_str(&url)?)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
                    .connect_with(AnyConnectOptions::from_str(url)?)
                    .await?
            }
        };
        migrate::run(&pool, backend).await?;
        let sqlite_writer = Mutex::new(());
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                backend,
                listener: std::sync::OnceLock::new(),
                sqlite_writer,
            }),
        })
    }

    /// Opens (creating if missing) the SQLite database at `path`, whatever characters the
    /// path contains.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let path = std::path::absolute(path)
            .map_err(|e| sqlx::Error::Configuration(format!("{}: {e}", path.display()).into()))?;
        let url = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .to_url_lossy();
        Store::connect(url.as_str()).await
    }

    /// Registers the one function told, in the committing task and right after the commit,
    /// of each topic a write changed. A server uses it to drop its own stale caches before
    /// the writer's caller hears back, whichever code path wrote; other processes learn of
    /// the change from the generations. Returns false if a listener was already set.
    pub fn on_change(&self, listener: impl Fn(crate::Topic) + Send + Sync + 'static) -> bool {
        self.inner.listener.set(Box::new(listener)).is_ok()
    }

    pub(crate) fn announce(&self, topics: &[crate::Topic]) {
        if let Some(listener) = self.inner.listener.get() {
            for topic in topics {
                listener(*topic);
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Open and idle connections of the pool.
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.inner.pool.size(), self.inner.pool.num_idle())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.pool().execute("SELECT 1").await?;
        Ok(())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// Starts a transaction that will write. On SQLite it waits for the in-process writer
    /// slot and then takes the database's write lock up front (`BEGIN IMMEDIATE`), so a
    /// transaction that reads before it writes cannot fail on a stale snapshot.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        Ok(match self.inner.backend {
            Backend::Sqlite => {
                let serial = self.inner.sqlite_writer.lock().await;
                let tx = self.inner.pool.begin_with("BEGIN IMMEDIATE").await?;
                WriteTx {
                    tx,
                    store: self,
                    _serial: Some(serial),
                }
            }
            Backend::Postgres => WriteTx {
                tx: self.inner.pool.begin().await?,
                store: self,
                _serial: None,
            },
        })
    }
}

/// A write transaction. Dropping it rolls back; the SQLite writer slot is released after the
/// transaction (fields drop in order).
pub(crate) struct WriteTx<'a> {
    tx: Transaction<'static, Any>,
    pub(crate) store: &'a Store,
    _serial: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        let msg =
            format!("unsupported database URL scheme {scheme:?}: use sqlite:// or postgres://");
        Err(sqlx::Error::Configuration(msg.into()).into())
    }
}

/// The file an SQLite URL names, and whether it may be created; `None` for an in-memory
/// database.
fn sqlite_file(url: &str) -> Result<Option<(PathBuf, bool)>, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?;
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let mode = |m: &str| query.split('&').any(|p| p == format!("mode={m}"));
    let path = options.get_filename();
    if mode("memory") || path.to_string_lossy().starts_with("file:sqlx-in-memory-") {
        return Ok(None);
    }
    Ok(Some((path.to_path_buf(), mode("rwc"))))
}

/// The database holds sealed keys and hashed secrets, and SQLite creates it 0644 (less the
/// umask), its `-wal` and `-shm` files then taking the database's mode. So the file is created
/// 0600 before SQLite opens it, and files an earlier wid left readable by others are
/// tightened, with a warning.
fn private_database_files(path: &Path, create: bool) -> Result<(), StoreError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::File { path, source }
    };
    if create {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failed(path)(e)),
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        let mode = match std::fs::metadata(&file) {
            Ok(meta) => meta.permissions().mode() & 0o777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(failed(&file)(e)),
        };
        if mode & 0o077 != 0 {
            tracing::warn!(file = %file.display(), mode = format!("{mode:o}"), "database file readable by others; restricting it to its owner (0600)");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(failed(&file))?;
        }
    }
    Ok(())
}

/// A fresh installation starts with no database file; sqlx opens read-write only by default.
fn creating_if_missing(url: &str) -> String {
    match url.split_once('?') {
        Some((_, query)) if query.split('&').any(|p| p.starts_with("mode=")) => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    #[test]
    fn the_file_of_an_sqlite_url_and_whether_it_may_be_created() {
        let file = |url: &str| sqlite_file(url).unwrap();
        assert_eq!(
            file("sqlite:///d/w.db?mode=rwc"),
            Some((PathBuf::from("/d/w.db"), true))
        );
        assert_eq!(
            file("sqlite:///d/w.db?mode=rw"),
            Some((PathBuf::from("/d/w.db"), false))
        );
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("sqlite:///d/w.db?mode=memory"), None);
    }

    #[tokio::test]
    async fn a_new_database_and_its_wal_are_private_to_their_owner() {
        let dir = std::env::temp_dir().join(format!("wid-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.db");
        let store = Store::open_sqlite(&path).await.unwrap();
        store.put_setting_if_absent("k", "v").await.unwrap();
        for name in ["w.db", "w.db-wal", "w.db-shm"] {
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sqlite_urls_create_unless_told_otherwise() {
        assert_eq!(
            creating_if_missing("sqlite:///d/w.db"),
            "sqlite:///d/w.db?mode=rwc"
        );
        assert_eq!(
            creating_if_missing("sqlite://w.db?cache=shared"),
            "sqlite://w.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            creating_if_missing("sqlite://w.db?mode=ro"),
            "sqlite://w.db?mode=ro"
        );
        assert!(backend_of("mysql://x").is_err());
        assert_eq!(backend_of("postgresql://h/d").ok(), Some(Backend::Postgres));
    }

    /// Durability rests on these settings holding on every pooled connection, not just the
    /// first one. The file name checks that odd characters survive the trip through a URL.
    #[tokio::test]
    async fn every_sqlite_connection_is_durable() {
        let dir = std::env::temp_dir().join(format!("wid-store-pragmas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("w ?#%.db");
        let store = Store::open_sqlite(&path).await.expect("open");
        assert!(path.exists());
        let mut conns = Vec::new();
        for _ in 0..3 {
            let mut conn = store.pool().acquire().await.expect("acquire");
            for (pragma, expected) in [
                ("journal_mode", "wal"),
                ("synchronous", "2"),
                ("foreign_keys", "1"),
                ("busy_timeout", "5000"),
            ] {
                let row = conn
                    .fetch_one(format!("PRAGMA {pragma}").as_str())
                    .await
                    .expect(pragma);
                let value = row
                    .try_get::<String, _>(0)
                    .or_else(|_| row.try_get::<i64, _>(0).map(|v| v.to_string()))
                    .expect(pragma);
                assert_eq!(value, expected, "PRAGMA {pragma}");
            }
            conns.push(conn);
        }
        drop(conns);
        drop(store);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
