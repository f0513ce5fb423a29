//! How `wid up` is configured. Everything has a default that works on one machine; real
//! deployments override the public URL, DNS suffix, TLS material and database.

pub use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
pub const DEFAULT_DNS_SUFFIX: &str = "wid.localhost";

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `https://host:port` clients use; derived from `listen` when not given.
    pub public_url: Option<String>,
    /// Extra host names the serving certificate must cover.
    pub hostnames: Vec<String>,
    pub dns_suffix: String,
    /// `postgres://…` for shared deployments; SQLite in the data directory otherwise.
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// CA certificates trusted, besides the system's, when fetching OIDC issuers' keys.
    pub issuer_ca_files: Vec<PathBuf>,
    /// Networks issuer fetches may reach although they are not public (loopback, private,
    /// link-local, …); wid's own public URL is always reachable. See `sts::destinations`.
    pub issuer_allowed_networks: Vec<IpNet>,
    /// How often periodic jobs (purging expired soft-deleted items, rotating the tenant's
    /// signing keys) run.
    pub job_interval: Duration,
    pub signing_key_rotation: wid_core::key_rotation::RotationPolicy,
    pub limits: Limits,
    /// Resources the token service issues tokens for besides wid's own planes and the
    /// well-known first-party ones (`wid up --resource`): identifier URIs or application ids.
    pub resources: Vec<String>,
    pub sign_in_log: crate::activity::LogConfig,
    pub vault_audit_log: crate::activity::LogConfig,
}

/// Bounds on what one client can make the server hold or wait for. Each connection is closed
/// when the bound of the state it is in runs out, so no client can keep a descriptor (or the
/// memory of a connection) without sending requests, and a server at `max_connections`
/// still takes new clients by closing the longest-idle connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// From a request's headers to its response: the handler, including reading the body,
    /// so a body that trickles gets 408.
    pub request_timeout: Duration,
    /// From accept to the end of the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// From the end of the handshake to the first request's headers (either protocol).
    pub first_request_timeout: Duration,
    /// HTTP/1.1: for reading a request's headers, counted from when the connection is ready
    /// for that request (hyper starts it when the previous response is done), so it also
    /// bounds an idle keep-alive connection.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress (HTTP/2: no open stream) is closed after
    /// this, gracefully (GOAWAY).
    pub idle_timeout: Duration,
    /// HTTP/2: a PING is sent after this long without frames from the peer...
    pub http2_keep_alive_interval: Duration,
    /// ...and the connection is closed when its acknowledgement takes longer than this.
    pub http2_keep_alive_timeout: Duration,
    /// How long a response may take to reach a client that stopped reading (counted after
    /// `request_timeout`), and a closing connection to say goodbye, before it is dropped.
    pub send_timeout: Duration,
    /// Open connections at most, including those in their TLS handshake; lowered to fit
    /// under the process's `RLIMIT_NOFILE` with descriptors to spare for the database.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            first_request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            http2_keep_alive_interval: Duration::from_secs(20),
            http2_keep_alive_timeout: Duration::from_secs(20),
            send_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf, listen: SocketAddr) -> Self {
        Self {
            data_dir,
            listen,
            public_url: None,
            hostnames: Vec::new(),
            dns_suffix: DEFAULT_DNS_SUFFIX.to_owned(),
            database_url: None,
            tls_cert: None,
            tls_key: None,
            issuer_ca_files: Vec::new(),
            issuer_allowed_networks: Vec::new(),
            job_interval: Duration::from_secs(60),
            signing_key_rotation: Default::default(),
            limits: Limits::default(),
            resources: Vec::new(),
            sign_in_log: Default::default(),
            vault_audit_log: Default::default(),
        }
    }

    /// The URL clients use. Loopback and unspecified addresses become `localhost`, which the
    /// certificate covers and which Python's and Rust's TLS stacks accept by name.
    pub fn effective_public_url(&self) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let ip = self.listen.ip();
        let host = if ip.is_loopback() || ip.is_unspecified() {
            self.hostnames
                .first()
                .cloned()
                .unwrap_or_else(|| "localhost".to_owned())
        } else if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        match self.listen.port() {
            443 => format!("https://{host}"),
            port => format!("https://{host}:{port}"),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join(crate::datadir::DATABASE).display()
            )
        })
    }
}
