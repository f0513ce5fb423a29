//! `wid hosts`: the /etc/hosts lines that make Graph's and the vaults' hosts resolve. Vault
//! URLs are `https://{vault}.vault.{suffix}:{port}/` because Key Vault clients insist the vault
//! host is a subdomain of the challenge resource; Graph is `https://graph.{suffix}:{port}/`
//! because az uses one string for its token audience and base URL; and `*.localhost` names
//! do not resolve through glibc. wid's own CLI pins those names itself; other clients need
//! these lines.

use crate::context::Context;
use anyhow::{Context as _, Result};
use serde_json::Value;

const HOSTS: &str = "/etc/hosts";
const BEGIN: &str = "# BEGIN wid vault hosts";
const END: &str = "# END wid vault hosts";

#[derive(clap::Args)]
pub struct HostsArgs {
    /// Write the lines into /etc/hosts (replacing the block wid wrote before); needs root.
    #[arg(long)]
    write: bool,
    #[arg(long)]
    subscription: Option<String>,
}

/// The server's address as a hosts-file entry.
fn server_ip(ctx: &Context) -> Result<String> {
    let url = url::Url::parse(&ctx.server.url)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = url.host_str().unwrap_or("localhost");
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))?
        .find(std::net::SocketAddr::is_ipv4)
        .with_context(|| format!("cannot resolve {host}"))?;
    Ok(addr.ip().to_string())
}

/// Replaces wid's block in a hosts file's text, keeping everything else as it was.
fn with_block(current: &str, lines: &[String]) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in current.lines() {
        match line.trim() {
            BEGIN => inside = true,
            END => inside = false,
            _ if !inside => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    out.push_str(BEGIN);
    out.push('\n');
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    out
}

pub async fn run(args: HostsArgs, ctx: &Context) -> Result<Option<Value>> {
    let sub = ctx.subscription(args.subscription.as_deref())?;
    let url =
        format!("/subscriptions/{sub}/providers/Microsoft.KeyVault/vaults?api-version=2024-11-01");
    let ip = server_ip(ctx)?;
    let suffix = ctx.cloud().keyvault_dns_suffix();
    let mut vaults: Vec<String> = ctx
        .arm_list(&url)
        .await?
        .iter()
        .filter_map(|v| v["name"].as_str())
        .map(|name| format!("{ip} {}.{suffix}", name.to_ascii_lowercase()))
        .collect();
    vaults.sort();
    let vault_count = vaults.len();
    let mut lines = vec![format!("{ip} {}", ctx.cloud().graph_host())];
    lines.extend(vaults);
    if !args.write {
        for line in &lines {
            println!("{line}");
        }
        return Ok(None);
    }
    let current = std::fs::read_to_string(HOSTS).with_context(|| format!("reading {HOSTS}"))?;
    let updated = with_block(&current, &lines);
    if updated != current {
        std::fs::write(HOSTS, updated).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                anyhow::anyhow!("writing {HOSTS} needs root: run `sudo wid hosts --write`, or add the lines `wid hosts` prints")
            } else {
                anyhow::Error::from(e)
            }
        })?;
    }
    eprintln!("{HOSTS}: Graph's host and {vault_count} vault host(s) resolve to {ip}");
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_replaced_and_nothing_else_changes() {
        let base = "127.0.0.1 localhost\n::1 localhost\n";
        let once = with_block(base, &["127.0.0.1 a.vault.wid.localhost".into()]);
        assert_eq!(
            once,
            format!("{base}{BEGIN}\n127.0.0.1 a.vault.wid.localhost\n{END}\n")
        );
        let twice = with_block(&once, &["127.0.0.1 b.vault.wid.localhost".into()]);
        assert_eq!(
            twice,
            format!("{base}{BEGIN}\n127.0.0.1 b.vault.wid.localhost\n{END}\n")
        );
        assert_eq!(
            with_block(&twice, &["127.0.0.1 b.vault.wid.localhost".into()]),
            twice
        );
    }
}
