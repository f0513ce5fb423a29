//! `wid up`: start the server in the foreground and tell the user what to do next.

use anyhow::Result;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use wid_core::key_rotation::RotationPolicy;
use wid_server::config::{IpNet, Limits, ServerConfig, DEFAULT_DNS_SUFFIX, DEFAULT_LISTEN};

#[derive(Args)]
pub struct UpArgs {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// URL clients use to reach this server (default: derived from --listen).
    #[arg(long)]
    public_url: Option<String>,
    /// Extra host name the serving certificate must cover (repeatable).
    #[arg(long = "hostname")]
    hostnames: Vec<String>,
    /// Parent domain of service host names (vaults are {name}.vault.{suffix}).
    #[arg(long, default_value = DEFAULT_DNS_SUFFIX)]
    dns_suffix: String,
    /// PostgreSQL URL for shared deployments (default: SQLite in the data directory).
    #[arg(long, env = "WID_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Serving certificate chain (PEM) provided by the operator, instead of the local CA.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted when fetching OIDC issuers' discovery documents
    /// and keys, besides the system's roots and wid's own CA (repeatable).
    #[arg(long = "issuer-ca-file")]
    issuer_ca_files: Vec<PathBuf>,
    /// A network (CIDR, or one address) that OIDC issuer fetches may connect to although it
    /// is not public; loopback, private, link-local and other special addresses are refused
    /// otherwise, except wid's own URL (repeatable).
    #[arg(long = "issuer-allow-address", value_name = "CIDR", value_parser = wid_server::sts::destinations::parse_network)]
    issuer_allowed_networks: Vec<IpNet>,
    /// How often jobs (purging expired soft-deleted items, signing-key rotation) run; one
    /// replica at a time runs each.
    #[arg(long, default_value = "60s", value_parser = seconds)]
    job_interval: i64,
    /// Age at which the tenant's token-signing key is replaced by a new one.
    #[arg(long, default_value = "720h", value_parser = seconds)]
    signing_key_rotation: i64,
    /// How long a new token-signing key is published before it signs, so that relying
    /// parties and every replica know it first.
    #[arg(long, default_value = "24h", value_parser = seconds)]
    signing_key_activation: i64,
    /// Open connections at most (including TLS handshakes); at the cap the longest-idle
    /// connection is closed for a new one. Lowered to fit the file descriptor limit.
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// From a request's headers to its response, reading its body included (then 408).
    #[arg(long, default_value = "30s", value_parser = seconds)]
    request_timeout: i64,
    /// From accepting a connection to the end of its TLS handshake.
    #[arg(long, default_value = "10s", value_parser = seconds)]
    tls_handshake_timeout: i64,
    /// From the TLS handshake to the first request's headers.
    #[arg(long, default_value = "10s", value_parser = seconds)]
    first_request_timeout: i64,
    /// HTTP/1.1: for a request's headers, counted from the previous response, so it also
    /// closes idle keep-alive connections.
    #[arg(long, default_value = "15s", value_parser = seconds)]
    header_read_timeout: i64,
    /// A connection with no request in progress (HTTP/2: no open stream) is closed after this.
    #[arg(long, default_value = "60s", value_parser = seconds)]
    idle_timeout: i64,
    /// HTTP/2: PING a peer silent for this long...
    #[arg(long, default_value = "20s", value_parser = seconds)]
    http2_keep_alive_interval: i64,
    /// ...and close the connection if the PING is not acknowledged within this.
    #[arg(long, default_value = "20s", value_parser = seconds)]
    http2_keep_alive_timeout: i64,
    /// Time a response may take to reach a client after --request-timeout, and a closing
    /// connection to say goodbye, before the connection is dropped.
    #[arg(long, default_value = "10s", value_parser = seconds)]
    send_timeout: i64,
    /// A resource the token service issues tokens for, besides wid's own planes and the
    /// well-known Microsoft first-party resources: an identifier URI or application id
    /// (repeatable). Tokens carry it as `aud`, as requested.
    #[arg(long = "resource", value_name = "URI")]
    resources: Vec<String>,
    /// Record every token request in the sign-in log (`wid monitor sign-ins`, Graph's
    /// `auditLogs/signIns`).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    sign_in_log: Switch,
    /// Sign-in records older than this are pruned.
    #[arg(long, default_value = "720h", value_parser = seconds)]
    sign_in_log_retention: i64,
    /// At most this many sign-in records are kept; the oldest are pruned first.
    #[arg(long, default_value_t = 1_000_000)]
    sign_in_log_max_entries: u64,
    /// Record every Key Vault data-plane request as an audit event (`wid monitor
    /// key-vault-events`, the vault's `auditEvents`).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    vault_audit_log: Switch,
    /// Vault audit events older than this are pruned.
    #[arg(long, default_value = "720h", value_parser = seconds)]
    vault_audit_log_retention: i64,
    /// At most this many vault audit events are kept; the oldest are pruned first.
    #[arg(long, default_value_t = 1_000_000)]
    vault_audit_log_max_entries: u64,
    /// Log format.
    #[arg(long, value_enum, default_value_t = crate::logging::LogFormat::Text)]
    log_format: crate::logging::LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Switch {
    On,
    Off,
}

/// Durations as `wid aks create-token --duration` takes them: `90s`, `15m`, `720h`.
pub(super) fn seconds(text: &str) -> Result<i64, String> {
    wid_core::cluster::parse_duration(text).map_err(|e| e.to_string())
}

fn duration(seconds: i64) -> Duration {
    Duration::from_secs(seconds.max(1) as u64)
}

impl UpArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections.max(1),
            request_timeout: duration(self.request_timeout),
            tls_handshake_timeout: duration(self.tls_handshake_timeout),
            first_request_timeout: duration(self.first_request_timeout),
            header_read_timeout: duration(self.header_read_timeout),
            idle_timeout: duration(self.idle_timeout),
            http2_keep_alive_interval: duration(self.http2_keep_alive_interval),
            http2_keep_alive_timeout: duration(self.http2_keep_alive_timeout),
            send_timeout: duration(self.send_timeout),
            ..Limits::default()
        }
    }
}

pub async fn run(args: UpArgs, data_dir: PathBuf) -> Result<()> {
    let _logging = crate::logging::init(args.log_format);
    let mut config = ServerConfig::new(data_dir.clone(), args.listen);
    config.limits = args.limits();
    config.public_url = args.public_url;
    config.hostnames = args.hostnames;
    config.dns_suffix = args.dns_suffix;
    config.database_url = args.database_url;
    config.tls_cert = args.tls_cert;
    config.tls_key = args.tls_key;
    config.issuer_ca_files = args.issuer_ca_files;
    config.issuer_allowed_networks = args.issuer_allowed_networks;
    config.resources = args.resources;
    config.job_interval = duration(args.job_interval);
    config.sign_in_log = log_config(
        args.sign_in_log,
        args.sign_in_log_retention,
        args.sign_in_log_max_entries,
    );
    config.vault_audit_log = log_config(
        args.vault_audit_log,
        args.vault_audit_log_retention,
        args.vault_audit_log_max_entries,
    );
    config.signing_key_rotation = RotationPolicy {
        period: args.signing_key_rotation,
        activation: args.signing_key_activation,
    };
    let server = wid_server::start(config).await?;
    print_banner(&server, &data_dir);
    wait_for_signal().await?;
    eprintln!("wid: shutting down, finishing in-flight requests");
    server.shutdown().await;
    Ok(())
}

pub async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(())
}

fn print_banner(server: &wid_server::RunningServer, data_dir: &std::path::Path) {
    let info = &server.info;
    let default_dir = data_dir == wid_server::datadir::default_data_dir();
    println!(
        "wid is up on {} (listening on {})",
        info.url, server.local_addr
    );
    println!();
    println!(
        "  identity plane    {}/{}/oauth2/v2.0/token",
        info.url, info.tenant_id
    );
    println!(
        "  OIDC discovery    {}/{}/v2.0/.well-known/openid-configuration",
        info.url, info.tenant_id
    );
    println!(
        "  management plane  {}/  (token scope {}.default)",
        info.url, info.management_resource
    );
    println!("  tenant            {}", info.tenant_id);
    println!("  subscription      {}", info.subscription_id);
    println!(
        "  admin client id   {}  (secret in {})",
        server.admin_client_id,
        data_dir.join("credentials.json").display()
    );
    println!(
        "  admin user        {}  (password in {})",
        server.admin_upn,
        data_dir.join(wid_server::datadir::ADMIN_USER).display()
    );
    println!("  data directory    {}", data_dir.display());
    println!("  database          {}", server.database);
    if let Some(ca) = &info.ca_bundle {
        println!("  CA bundle         {}", ca.display());
        println!();
        println!("Trust wid's CA in SDK clients (Python requests, OpenSSL):");
        println!(
            "  export REQUESTS_CA_BUNDLE={} SSL_CERT_FILE={}",
            ca.display(),
            ca.display()
        );
    }
    println!();
    let cloud = wid_core::cloud::Cloud {
        public_url: info.url.clone(),
        dns_suffix: info.dns_suffix.clone(),
    };
    let az = super::cloud::AzSetup::new(
        wid_core::cloud::CLOUD_NAME,
        &cloud,
        info.ca_bundle.as_deref(),
        &server.admin_client_id,
        &info.tenant_id,
        data_dir,
    );
    println!(
        "Next, in another terminal, with the Azure CLI (az): `wid cloud register-az` runs these:"
    );
    if !default_dir {
        println!("  export WID_DATA_DIR={}", data_dir.display());
    }
    for line in az.script() {
        println!("  {line}");
    }
    println!("  az group create --name myResourceGroup --location eastus");
    println!("Or sign in to az as the admin user:");
    println!(
        "  az login -u {} -p \"$(wid admin show-user --query password -o tsv)\"",
        server.admin_upn
    );
    // MSAL asks `https://{host}/common/userrealm/…` before a password grant, without the
    // authority's port; elsewhere than on 443 only the device-code sign-in reaches wid.
    let public_port = info
        .url
        .rsplit_once(':')
        .and_then(|(_, p)| p.trim_end_matches('/').parse::<u16>().ok());
    if public_port.is_some_and(|p| p != 443) {
        println!("  (the password sign-in needs wid on port 443; on this port use `az login --use-device-code`)");
    }
    println!();
    println!("Or with wid's own CLI:");
    println!("  wid account show");
    println!("  wid group create --name myResourceGroup --location eastus");
    println!("  wid identity create --name myIdentity --resource-group myResourceGroup");
    println!("  wid aks create -g myResourceGroup -n myCluster --enable-oidc-issuer --enable-workload-identity");
    println!("  wid identity federated-credential create --name myFedIdentity --identity-name myIdentity \\");
    println!("      --resource-group myResourceGroup \\");
    println!("      --issuer \"$(wid aks show -n myCluster -g myResourceGroup --query oidcIssuerProfile.issuerUrl -o tsv)\" \\");
    println!("      --subject system:serviceaccount:default:workload-identity-sa");
    println!("  wid run --cluster myCluster -g myResourceGroup --service-account workload-identity-sa \\");
    println!("      --client-id \"$(wid identity show -n myIdentity -g myResourceGroup --query clientId -o tsv)\" -- YOUR COMMAND");
    println!();
    println!("Stop with Ctrl-C.");
}

fn log_config(switch: Switch, retention: i64, max_entries: u64) -> wid_server::activity::LogConfig {
    wid_server::activity::LogConfig {
        enabled: switch == Switch::On,
        retention: wid_core::retention::Retention {
            max_age_secs: retention.max(1),
            max_entries,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Up {
        #[command(flatten)]
        args: UpArgs,
    }

    /// The flags' defaults are written out for `--help`; they must be the library's.
    #[test]
    fn flag_defaults_are_the_servers_limits() {
        let up = Up::try_parse_from(["wid"]).unwrap();
        assert_eq!(up.args.limits(), Limits::default());
    }

    #[test]
    fn flags_set_the_limits() {
        let up = Up::try_parse_from([
            "wid",
            "--max-connections",
            "7",
            "--idle-timeout",
            "2m",
            "--first-request-timeout",
            "3s",
        ])
        .unwrap();
        let limits = up.args.limits();
        assert_eq!(limits.max_connections, 7);
        assert_eq!(limits.idle_timeout, Duration::from_secs(120));
        assert_eq!(limits.first_request_timeout, Duration::from_secs(3));
    }
}
