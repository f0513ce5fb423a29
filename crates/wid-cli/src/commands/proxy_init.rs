//! `wid proxy-init`: what the proxy's init container does. NAT rules send TCP to the
//! metadata endpoint to the proxy's port, for every user but the proxy's own (its
//! requests to the real IMDS must get through). Idempotent: chains and rules are added only
//! when missing, and nothing else is touched.

use anyhow::{bail, Context as _, Result};
use std::process::Command;

const OUTPUT_CHAIN: &str = "AZWI_PROXY_OUTPUT";
const REDIRECT_CHAIN: &str = "AZWI_PROXY_REDIRECT";

#[derive(clap::Args)]
pub struct ProxyInitArgs {
    #[arg(long = "proxy-port", env = "PROXY_PORT", default_value_t = 8000)]
    port: u16,
    /// The user the proxy runs as; its traffic is not redirected.
    #[arg(long, env = "PROXY_UID", default_value_t = 1501)]
    proxy_uid: u32,
    #[arg(long, env = "METADATA_IP", default_value = "169.254.169.254")]
    metadata_ip: String,
    #[arg(long, env = "METADATA_PORT", default_value_t = 80)]
    metadata_port: u16,
    /// The iptables command (either back end: iptables-nft or iptables-legacy).
    #[arg(long, default_value = "iptables")]
    iptables: String,
}

/// The rules, in order, as `iptables -t nat` arguments after `-A`/`-C`.
fn rules(a: &ProxyInitArgs) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    vec![
        s(&[
            REDIRECT_CHAIN,
            "-p",
            "tcp",
            "-j",
            "REDIRECT",
            "--to-ports",
            &a.port.to_string(),
        ]),
        s(&[
            "OUTPUT",
            "-p",
            "tcp",
            "-d",
            &a.metadata_ip,
            "--dport",
            &a.metadata_port.to_string(),
            "-j",
            OUTPUT_CHAIN,
        ]),
        s(&[
            OUTPUT_CHAIN,
            "-m",
            "owner",
            "--uid-owner",
            &a.proxy_uid.to_string(),
            "-j",
            "ACCEPT",
        ]),
        s(&[OUTPUT_CHAIN, "-j", REDIRECT_CHAIN]),
    ]
}

fn iptables(binary: &str, args: &[&str]) -> Result<bool> {
    let status = Command::new(binary)
        .args(["-w", "-t", "nat"])
        .args(args)
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("running {binary}"))?;
    Ok(status.success())
}

pub fn run(args: ProxyInitArgs) -> Result<()> {
    for chain in [OUTPUT_CHAIN, REDIRECT_CHAIN] {
        if !iptables(&args.iptables, &["-L", chain, "-n"])?
            && !iptables(&args.iptables, &["-N", chain])?
        {
            bail!("cannot create the nat chain {chain} (is this running with NET_ADMIN?)");
        }
    }
    for rule in rules(&args) {
        let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
        let present = iptables(&args.iptables, &[&["-C"], rule.as_slice()].concat())?;
        if !present && !iptables(&args.iptables, &[&["-A"], rule.as_slice()].concat())? {
            bail!("cannot add the nat rule {}", rule.join(" "));
        }
    }
    eprintln!(
        "wid proxy-init: TCP to {}:{} goes to port {} except for uid {}",
        args.metadata_ip, args.metadata_port, args.port, args.proxy_uid
    );
    Ok(())
}
