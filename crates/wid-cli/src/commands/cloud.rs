//! `wid cloud show` (az cloud show): the endpoints of this installation; `wid cloud
//! register-az`: the same cloud registered in the user's own Azure CLI, which then talks to
//! wid unchanged.

use crate::context::Context;
use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use wid_core::cloud::CLOUD_NAME;

#[derive(Subcommand)]
pub enum CloudCommand {
    /// Show the endpoints of this wid installation.
    Show {
        /// Accepted for az compatibility; there is one cloud.
        #[arg(short = 'n', long)]
        name: Option<String>,
    },
    /// Register this wid as a cloud in the Azure CLI (az), make it active, turn off MSAL's
    /// instance discovery and log in as the installation's admin.
    RegisterAz(RegisterAzArgs),
}

#[derive(Args)]
pub struct RegisterAzArgs {
    /// Name of the cloud in az; an existing registration of that name is updated.
    #[arg(short = 'n', long, default_value = CLOUD_NAME)]
    name: String,
    /// The az to run (default: `az` on PATH).
    #[arg(long, value_name = "PATH")]
    az: Option<PathBuf>,
    /// Only print the commands, to run them yourself.
    #[arg(long)]
    print: bool,
}

pub fn run(command: CloudCommand, ctx: &Context) -> Result<Option<Value>> {
    match command {
        CloudCommand::Show { name: _ } => Ok(Some(serde_json::to_value(ctx.cloud().az_cloud())?)),
        CloudCommand::RegisterAz(args) => register_az(args, ctx).map(|()| None),
    }
}

/// Clouds az ships with: updating one of them would send the user's real Azure work to wid.
const AZ_CLOUDS: &[&str] = &[
    "AzureCloud",
    "AzureChinaCloud",
    "AzureUSGovernment",
    "AzureGermanCloud",
    "AzureBleuCloud",
];

/// The az commands that register a wid as a cloud and log in to it as the admin, for
/// `wid cloud register-az` to run and for `--print` and `wid up` to show.
pub struct AzSetup {
    pub name: String,
    /// The ARM endpoint with its trailing slash, as `az cloud show` prints it.
    pub resource_manager: String,
    pub ca_bundle: Option<PathBuf>,
    pub client_id: String,
    pub tenant_id: String,
    /// `credentials.json`, where the admin's secret is.
    pub credentials: PathBuf,
}

impl AzSetup {
    pub fn new(
        name: &str,
        cloud: &wid_core::cloud::Cloud,
        ca_bundle: Option<&Path>,
        client_id: &str,
        tenant_id: &str,
        data_dir: &Path,
    ) -> Self {
        Self {
            name: name.to_owned(),
            resource_manager: cloud.resource_manager(),
            ca_bundle: ca_bundle.map(Path::to_owned),
            client_id: client_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            credentials: data_dir.join(wid_server::datadir::CREDENTIALS),
        }
    }

    /// `az cloud register` (`verb` "register") or `az cloud update` ("update"): either fetches
    /// every endpoint from wid's `/metadata/endpoints`.
    fn register(&self, verb: &str) -> Vec<String> {
        strings(&[
            "cloud",
            verb,
            "-n",
            &self.name,
            "--endpoint-resource-manager",
            &self.resource_manager,
        ])
    }

    fn activate(&self) -> Vec<String> {
        strings(&["cloud", "set", "-n", &self.name])
    }

    /// MSAL otherwise asks login.microsoftonline.com to vouch for wid's authority, and fails.
    fn no_instance_discovery() -> Vec<String> {
        strings(&["config", "set", "core.instance_discovery=false"])
    }

    /// The secret comes on stdin (`@-` is az's "read this value from stdin"), so it is never
    /// in a command line that `ps` shows. It is one `--password=@-` word: az substitutes the
    /// value before parsing, and a secret that starts with `-` (one in 64) would otherwise
    /// read as an option and fail the login.
    fn login(&self) -> Vec<String> {
        strings(&[
            "login",
            "--service-principal",
            "-u",
            &self.client_id,
            "--tenant",
            &self.tenant_id,
            "--password=@-",
        ])
    }

    /// The commands as a user would type them, one per line.
    pub fn script(&self) -> Vec<String> {
        let az = |args: &[String]| {
            std::iter::once("az".to_owned())
                .chain(args.iter().map(|a| shell_quote(a)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut lines = Vec::new();
        if let Some(ca) = &self.ca_bundle {
            lines.push(format!(
                "export REQUESTS_CA_BUNDLE={}",
                shell_quote(&ca.display().to_string())
            ));
        }
        lines.push(format!(
            "{} || {}",
            az(&self.register("register")),
            az(&self.register("update"))
        ));
        lines.push(az(&self.activate()));
        lines.push(az(&Self::no_instance_discovery()));
        lines.push(format!(
            "jq -r .clientSecret {} | {}",
            shell_quote(&self.credentials.display().to_string()),
            az(&self.login())
        ));
        lines
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A word as a POSIX shell reads it back unchanged.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn register_az(args: RegisterAzArgs, ctx: &Context) -> Result<()> {
    if AZ_CLOUDS.iter().any(|c| c.eq_ignore_ascii_case(&args.name)) {
        bail!(
            "'{}' is one of az's own clouds; register wid under another name (default: {CLOUD_NAME})",
            args.name
        );
    }
    let setup = AzSetup::new(
        &args.name,
        &ctx.cloud(),
        ctx.server.ca_bundle.as_deref(),
        &ctx.credentials.client_id,
        &ctx.credentials.tenant_id,
        &ctx.data_dir,
    );
    if args.print {
        for line in setup.script() {
            println!("{line}");
        }
        return Ok(());
    }
    let az = match args.az {
        Some(path) => path,
        None => find_on_path("az").ok_or_else(|| {
            anyhow!("az not found on PATH: install the Azure CLI (`pip install azure-cli`) or give --az PATH")
        })?,
    };
    // az fetches the metadata and logs in with Python's requests, which trusts only
    // REQUESTS_CA_BUNDLE when it is set: a user's own setting wins, else wid's CA.
    let ca_env = match (&setup.ca_bundle, std::env::var_os("REQUESTS_CA_BUNDLE")) {
        (Some(ca), None) => Some(ca.clone()),
        _ => None,
    };
    let runner = Az {
        path: &az,
        ca: ca_env.as_deref(),
    };
    let registered = runner.succeeds(&strings(&["cloud", "show", "-n", &setup.name]))?;
    let verb = if registered { "update" } else { "register" };
    runner.run(&setup.register(verb), None).map_err(|e| {
        match (&setup.ca_bundle, std::env::var_os("REQUESTS_CA_BUNDLE")) {
            (Some(ca), Some(own)) if ca_env.is_none() => e.context(format!(
            "REQUESTS_CA_BUNDLE is {}: az trusts only the CAs in it, which must include wid's ({})",
            PathBuf::from(own).display(),
            ca.display()
        )),
            _ => e,
        }
    })?;
    runner.run(&setup.activate(), None)?;
    runner.run(&AzSetup::no_instance_discovery(), None)?;
    runner.run(&setup.login(), Some(&ctx.credentials.client_secret))?;
    println!(
        "{} wid ({}) as the cloud '{}' in {}, made it active and logged in as the admin ({}).",
        if registered { "Updated" } else { "Registered" },
        setup.resource_manager,
        setup.name,
        az.display(),
        setup.client_id
    );
    if let Some(ca) = &setup.ca_bundle {
        let current = std::env::var_os("REQUESTS_CA_BUNDLE").map(PathBuf::from);
        if current.as_deref() != Some(ca.as_path()) {
            println!("az trusts wid's CA through REQUESTS_CA_BUNDLE; in each shell that runs az:");
            println!(
                "  export REQUESTS_CA_BUNDLE={}",
                shell_quote(&ca.display().to_string())
            );
            println!("It replaces az's own CA list: to reach Azure from the same shell, point it at a file with both.");
        }
    }
    Ok(())
}

/// One az executable, run with the CA it needs.
struct Az<'a> {
    path: &'a Path,
    ca: Option<&'a Path>,
}

impl Az<'_> {
    fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(self.path);
        command
            .args(args)
            .args(["--only-show-errors", "-o", "none"]);
        if let Some(ca) = self.ca {
            command.env("REQUESTS_CA_BUNDLE", ca);
        }
        command
    }

    fn succeeds(&self, args: &[String]) -> Result<bool> {
        let status = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("running {}", self.path.display()))?;
        Ok(status.success())
    }

    /// Runs `az ARGS`, with `stdin` written to its standard input when given; az's own
    /// errors reach the user's terminal.
    fn run(&self, args: &[String], stdin: Option<&str>) -> Result<()> {
        let mut child = self
            .command(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .spawn()
            .with_context(|| format!("running {}", self.path.display()))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .context("writing to az's standard input")?;
        }
        let status = child.wait().context("waiting for az")?;
        if !status.success() {
            bail!(
                "`az {}` failed ({status})",
                args.iter()
                    .map(|a| shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        Ok(())
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_commands() {
        let cloud = wid_core::cloud::Cloud {
            public_url: "https://localhost:8443".into(),
            dns_suffix: "wid.localhost".into(),
        };
        let setup = AzSetup::new(
            "wid",
            &cloud,
            Some(Path::new("/home/u/my data/ca.pem")),
            "11111111-2222-3333-4444-555555555555",
            "tttttttt-2222-3333-4444-555555555555",
            Path::new("/home/u/my data"),
        );
        assert_eq!(
            setup.script(),
            [
                "export REQUESTS_CA_BUNDLE='/home/u/my data/ca.pem'",
                "az cloud register -n wid --endpoint-resource-manager https://localhost:8443/ || az cloud update -n wid --endpoint-resource-manager https://localhost:8443/",
                "az cloud set -n wid",
                "az config set core.instance_discovery=false",
                "jq -r .clientSecret '/home/u/my data/credentials.json' | az login --service-principal -u 11111111-2222-3333-4444-555555555555 --tenant tttttttt-2222-3333-4444-555555555555 --password=@-",
            ]
        );
    }

    #[test]
    fn quoting() {
        for (word, quoted) in [
            ("plain-word_1.2", "plain-word_1.2"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", r"'it'\''s'"),
            ("$HOME", "'$HOME'"),
        ] {
            assert_eq!(shell_quote(word), quoted);
        }
    }
}
