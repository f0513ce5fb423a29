//! A managed cluster's AKS properties: what a PUT body resolves to, with AKS's defaults for
//! what it leaves out and the rules AKS enforces on what it may change. Clients such as az
//! read the whole cluster, change one thing and PUT everything back, so resolving a body
//! against the stored spec must be idempotent: the stored spec, sent back, is itself.

use crate::model::ClusterSpec;
use aws_lc_rs::digest::{digest, SHA256};
use std::net::Ipv4Addr;
use thiserror::Error;
use wid_types::resources::{
    AgentPool, AgentPoolInput, ClusterIdentityInput, ClusterPropertiesInput, ClusterSkuInput,
    LinuxProfile, NetworkProfile, NetworkProfileInput,
};

/// The version a cluster gets when the body names none (az sends an empty string).
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.33";
pub const DEFAULT_VM_SIZE: &str = "Standard_DS2_v2";
/// az's `--node-count` default.
pub const DEFAULT_NODE_COUNT: i64 = 3;
pub const MAX_AGENT_POOLS: i64 = 100;

/// A rule the body broke. [`SpecError::code`] is the ARM error code AKS answers with.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("The value '{value}' of '{field}' is invalid: {rule}")]
    Invalid {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
    #[error("Changing property '{field}' is not allowed: it is '{current}' and cannot become '{requested}'.")]
    Immutable {
        field: &'static str,
        current: String,
        requested: String,
    },
    #[error("Kubernetes version {requested} is lower than the cluster's {current}; downgrades are not allowed.")]
    Downgrade { current: String, requested: String },
    #[error("A cluster needs at least one agent pool of mode 'System' running Linux with at least one node.")]
    NoSystemPool,
    #[error("The agent pool name '{0}' is used more than once.")]
    DuplicatePool(String),
    #[error(
        "wid's clusters have a system-assigned identity; identity type '{0}' is not supported."
    )]
    IdentityType(String),
}

impl SpecError {
    pub fn code(&self) -> &'static str {
        match self {
            SpecError::Immutable { .. } => "PropertyChangeNotAllowed",
            SpecError::Downgrade { .. } => "OperationNotAllowed",
            SpecError::IdentityType(_) => "BadRequest",
            _ => "InvalidParameter",
        }
    }
}

/// Where the cluster lives: what its defaults are made of.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub subscription_id: &'a str,
    pub resource_group: &'a str,
    pub name: &'a str,
    pub location: &'a str,
    /// The cluster's stable random id; identities derived from it stay the same on every
    /// GET and survive an upgrade of wid.
    pub issuer_id: &'a str,
}

/// What the body says besides `properties`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Envelope<'a> {
    pub sku: Option<&'a ClusterSkuInput>,
    pub identity: Option<&'a ClusterIdentityInput>,
}

/// The spec of a cluster whose body said nothing (and of clusters stored before wid kept
/// specs).
pub fn initial(at: &Placement<'_>) -> ClusterSpec {
    resolve(
        &ClusterPropertiesInput::default(),
        Envelope::default(),
        None,
        at,
    )
    .expect("the defaults satisfy every rule")
}

/// The spec a PUT body asks for: on creation (`current` is `None`) absent fields take AKS's
/// defaults, on update they keep their current values.
pub fn resolve(
    input: &ClusterPropertiesInput,
    envelope: Envelope<'_>,
    current: Option<&ClusterSpec>,
    at: &Placement<'_>,
) -> Result<ClusterSpec, SpecError> {
    if let Some(kind) = envelope.identity.and_then(|i| i.kind.as_deref()) {
        if !kind.eq_ignore_ascii_case("SystemAssigned") {
            return Err(SpecError::IdentityType(kind.to_owned()));
        }
    }
    let kubernetes_version = kubernetes_version(input.kubernetes_version.as_deref(), current)?;
    let dns_prefix = immutable(
        "dnsPrefix",
        non_empty(input.dns_prefix.as_deref()),
        current.map(|c| c.dns_prefix.as_str()),
        || default_dns_prefix(at),
    )?;
    check_dns_prefix(&dns_prefix)?;
    let node_resource_group = immutable(
        "nodeResourceGroup",
        non_empty(input.node_resource_group.as_deref()),
        current.map(|c| c.node_resource_group.as_str()),
        || default_node_resource_group(at),
    )?;
    let enable_rbac = match (input.enable_rbac, current) {
        (Some(requested), Some(c)) if requested != c.enable_rbac => {
            return Err(SpecError::Immutable {
                field: "enableRBAC",
                current: c.enable_rbac.to_string(),
                requested: requested.to_string(),
            })
        }
        (Some(v), _) => v,
        (None, Some(c)) => c.enable_rbac,
        (None, None) => true,
    };
    let agent_pools = match (&input.agent_pool_profiles, current) {
        (Some(pools), _) => agent_pools(pools, current, &kubernetes_version)?,
        (None, Some(c)) => c.agent_pools.clone(),
        (None, None) => agent_pools(&[AgentPoolInput::default()], None, &kubernetes_version)?,
    };
    let linux_profile = match (&input.linux_profile, current) {
        (Some(p), _) => Some(linux_profile(p)?),
        (None, Some(c)) => c.linux_profile.clone(),
        (None, None) => None,
    };
    let network = network(input.network_profile.as_ref(), current.map(|c| &c.network))?;
    let sku_tier = match envelope.sku.and_then(|s| s.tier.as_deref()) {
        Some(t) => one_of("sku.tier", t, &["Free", "Standard", "Premium"])?,
        None => current.map_or_else(|| "Free".to_owned(), |c| c.sku_tier.clone()),
    };
    if let Some(name) = envelope.sku.and_then(|s| s.name.as_deref()) {
        one_of("sku.name", name, &["Base"])?;
    }
    Ok(ClusterSpec {
        kubernetes_version,
        dns_prefix,
        node_resource_group,
        agent_pools,
        linux_profile,
        network,
        enable_rbac,
        disable_local_accounts: input
            .disable_local_accounts
            .or(current.map(|c| c.disable_local_accounts))
            .unwrap_or(false),
        sku_tier,
        principal_id: current.map_or_else(
            || derived_id(at.issuer_id, "cluster identity"),
            |c| c.principal_id.clone(),
        ),
        kubelet_client_id: current.map_or_else(
            || derived_id(at.issuer_id, "kubelet client"),
            |c| c.kubelet_client_id.clone(),
        ),
        kubelet_object_id: current.map_or_else(
            || derived_id(at.issuer_id, "kubelet object"),
            |c| c.kubelet_object_id.clone(),
        ),
    })
}

/// A GUID that is a function of the cluster's random id: stable without being stored.
fn derived_id(issuer_id: &str, purpose: &str) -> String {
    let hash = digest(&SHA256, format!("{purpose}\n{issuer_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// az sends empty strings for options the user did not give.
fn non_empty(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

fn immutable(
    field: &'static str,
    requested: Option<&str>,
    current: Option<&str>,
    default: impl FnOnce() -> String,
) -> Result<String, SpecError> {
    match (requested, current) {
        (Some(r), Some(c)) if !r.eq_ignore_ascii_case(c) => Err(SpecError::Immutable {
            field,
            current: c.to_owned(),
            requested: r.to_owned(),
        }),
        (_, Some(c)) => Ok(c.to_owned()),
        (Some(r), None) => Ok(r.to_owned()),
        (None, None) => Ok(default()),
    }
}

fn one_of(field: &'static str, value: &str, allowed: &[&str]) -> Result<String, SpecError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .map(|a| (*a).to_owned())
        .ok_or_else(|| SpecError::Invalid {
            field,
            value: value.to_owned(),
            rule: "it is not one of the values AKS accepts",
        })
}

/// az's default: the name's first 10 characters, the group's first 16, the subscription's
/// first 6, each cut down to letters, digits and hyphens.
pub fn default_dns_prefix(at: &Placement<'_>) -> String {
    let clean = |s: &str, n: usize| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(n)
            .collect()
    };
    let mut name = clean(at.name, 10);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name = format!("a{}", name.chars().take(9).collect::<String>());
    }
    let prefix = format!(
        "{name}-{}-{}",
        clean(at.resource_group, 16),
        clean(at.subscription_id, 6)
    );
    prefix.trim_end_matches('-').to_owned()
}

fn check_dns_prefix(prefix: &str) -> Result<(), SpecError> {
    let ok = (1..=54).contains(&prefix.len())
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && prefix.starts_with(|c: char| c.is_ascii_alphanumeric())
        && prefix.ends_with(|c: char| c.is_ascii_alphanumeric());
    ok.then_some(()).ok_or_else(|| SpecError::Invalid {
        field: "dnsPrefix",
        value: prefix.to_owned(),
        rule: "1-54 letters, digits and hyphens, starting and ending with a letter or digit",
    })
}

/// `MC_{group}_{name}_{location}`, at most 80 characters as resource group names are.
pub fn default_node_resource_group(at: &Placement<'_>) -> String {
    format!("MC_{}_{}_{}", at.resource_group, at.name, at.location)
        .chars()
        .take(80)
        .collect()
}

/// `major.minor` or `major.minor.patch`, compared numerically.
fn parse_version(v: &str) -> Option<Vec<u64>> {
    let parts: Vec<u64> = v
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (2..=3).contains(&parts.len()).then_some(parts)
}

fn kubernetes_version(
    requested: Option<&str>,
    current: Option<&ClusterSpec>,
) -> Result<String, SpecError> {
    let Some(requested) = non_empty(requested) else {
        return Ok(current.map_or_else(
            || DEFAULT_KUBERNETES_VERSION.to_owned(),
            |c| c.kubernetes_version.clone(),
        ));
    };
    let parsed = parse_version(requested).ok_or_else(|| SpecError::Invalid {
        field: "kubernetesVersion",
        value: requested.to_owned(),
        rule: "a version such as 1.33 or 1.33.2 is required",
    })?;
    if let Some(c) = current {
        let now = parse_version(&c.kubernetes_version).unwrap_or_default();
        if parsed[..2] < now[..2.min(now.len())] {
            return Err(SpecError::Downgrade {
                current: c.kubernetes_version.clone(),
                requested: requested.to_owned(),
            });
        }
    }
    Ok(requested.to_owned())
}

/// The full version a `major.minor` request runs as.
pub fn current_version(version: &str) -> String {
    match parse_version(version) {
        Some(parts) if parts.len() == 2 => format!("{version}.0"),
        _ => version.to_owned(),
    }
}

fn is_pool_name(name: &str) -> bool {
    (1..=12).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn agent_pools(
    inputs: &[AgentPoolInput],
    current: Option<&ClusterSpec>,
    kubernetes_version: &str,
) -> Result<Vec<AgentPool>, SpecError> {
    let mut pools: Vec<AgentPool> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let name = non_empty(input.name.as_deref())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if i == 0 {
                    "nodepool1".to_owned()
                } else {
                    format!("nodepool{}", i + 1)
                }
            });
        if !is_pool_name(&name) {
            return Err(SpecError::Invalid {
                field: "agentPoolProfiles.name",
                value: name,
                rule: "1-12 lower-case letters and digits, starting with a letter",
            });
        }
        if pools.iter().any(|p| p.name == name) {
            return Err(SpecError::DuplicatePool(name));
        }
        let existing = current.and_then(|c| c.agent_pools.iter().find(|p| p.name == name));
        pools.push(agent_pool(name, input, existing, kubernetes_version)?);
    }
    if !pools
        .iter()
        .any(|p| p.mode == "System" && p.os_type == "Linux" && p.count >= 1)
    {
        return Err(SpecError::NoSystemPool);
    }
    Ok(pools)
}

fn agent_pool(
    name: String,
    input: &AgentPoolInput,
    existing: Option<&AgentPool>,
    kubernetes_version: &str,
) -> Result<AgentPool, SpecError> {
    let text = |v: &Option<String>, old: Option<&String>, default: &str| -> String {
        non_empty(v.as_deref())
            .map(str::to_owned)
            .or_else(|| old.cloned())
            .unwrap_or_else(|| default.to_owned())
    };
    let count = input
        .count
        .or(existing.map(|p| p.count))
        .unwrap_or(DEFAULT_NODE_COUNT);
    if !(0..=1000).contains(&count) {
        return Err(SpecError::Invalid {
            field: "agentPoolProfiles.count",
            value: count.to_string(),
            rule: "between 0 and 1000 nodes",
        });
    }
    let max_pods = input
        .max_pods
        .or(existing.map(|p| p.max_pods))
        .unwrap_or(250);
    if !(10..=250).contains(&max_pods) {
        return Err(SpecError::Invalid {
            field: "agentPoolProfiles.maxPods",
            value: max_pods.to_string(),
            rule: "between 10 and 250",
        });
    }
    let os_disk_size_gb = input
        .os_disk_size_gb
        .filter(|n| *n != 0)
        .or(existing.map(|p| p.os_disk_size_gb))
        .unwrap_or(128);
    if !(30..=2048).contains(&os_disk_size_gb) {
        return Err(SpecError::Invalid {
            field: "agentPoolProfiles.osDiskSizeGB",
            value: os_disk_size_gb.to_string(),
            rule: "between 30 and 2048",
        });
    }
    let mode = one_of(
        "agentPoolProfiles.mode",
        &text(&input.mode, existing.map(|p| &p.mode), "System"),
        &["System", "User", "Gateway"],
    )?;
    let os_type = one_of(
        "agentPoolProfiles.osType",
        &text(&input.os_type, existing.map(|p| &p.os_type), "Linux"),
        &["Linux", "Windows"],
    )?;
    let orchestrator_version = text(
        &input.orchestrator_version,
        existing.map(|p| &p.orchestrator_version),
        kubernetes_version,
    );
    if parse_version(&orchestrator_version).is_none() {
        return Err(SpecError::Invalid {
            field: "agentPoolProfiles.orchestratorVersion",
            value: orchestrator_version,
            rule: "a version such as 1.33 or 1.33.2 is required",
        });
    }
    let enable_auto_scaling = input
        .enable_auto_scaling
        .or(existing.map(|p| p.enable_auto_scaling))
        .unwrap_or(false);
    let (min_count, max_count) = if enable_auto_scaling {
        let min = input.min_count.or(existing.and_then(|p| p.min_count));
        let max = input.max_count.or(existing.and_then(|p| p.max_count));
        match (min, max) {
            (Some(min), Some(max)) if 0 <= min && min <= count && count <= max && max <= 1000 => {
                (Some(min), Some(max))
            }
            _ => {
                return Err(SpecError::Invalid {
                    field: "agentPoolProfiles.minCount",
                    value: format!("{min:?}..{max:?}"),
                    rule: "autoscaling needs minCount <= count <= maxCount",
                })
            }
        }
    } else {
        (None, None)
    };
    Ok(AgentPool {
        count,
        vm_size: text(
            &input.vm_size,
            existing.map(|p| &p.vm_size),
            DEFAULT_VM_SIZE,
        ),
        os_disk_size_gb,
        os_disk_type: one_of(
            "agentPoolProfiles.osDiskType",
            &text(
                &input.os_disk_type,
                existing.map(|p| &p.os_disk_type),
                "Managed",
            ),
            &["Managed", "Ephemeral"],
        )?,
        kubelet_disk_type: one_of(
            "agentPoolProfiles.kubeletDiskType",
            &text(
                &input.kubelet_disk_type,
                existing.map(|p| &p.kubelet_disk_type),
                "OS",
            ),
            &["OS", "Temporary"],
        )?,
        max_pods,
        kind: one_of(
            "agentPoolProfiles.type",
            &text(
                &input.kind,
                existing.map(|p| &p.kind),
                "VirtualMachineScaleSets",
            ),
            &[
                "VirtualMachineScaleSets",
                "AvailabilitySet",
                "VirtualMachines",
            ],
        )?,
        os_sku: text(
            &input.os_sku,
            existing.map(|p| &p.os_sku),
            if os_type == "Windows" {
                "Windows2022"
            } else {
                "Ubuntu"
            },
        ),
        mode,
        os_type,
        orchestrator_version,
        enable_auto_scaling,
        min_count,
        max_count,
        enable_node_public_ip: input
            .enable_node_public_ip
            .or(existing.map(|p| p.enable_node_public_ip))
            .unwrap_or(false),
        node_labels: input
            .node_labels
            .clone()
            .or(existing.map(|p| p.node_labels.clone()))
            .unwrap_or_default(),
        node_taints: input
            .node_taints
            .clone()
            .or(existing.map(|p| p.node_taints.clone()))
            .unwrap_or_default(),
        availability_zones: input
            .availability_zones
            .clone()
            .or(existing.map(|p| p.availability_zones.clone()))
            .unwrap_or_default(),
        tags: input
            .tags
            .clone()
            .or(existing.map(|p| p.tags.clone()))
            .unwrap_or_default(),
        name,
    })
}

/// An OpenSSH public key line (`ssh-rsa AAAA… comment`) of a type AKS accepts.
pub fn is_ssh_public_key(line: &str) -> bool {
    use base64::Engine;
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return false;
    };
    let known = [
        "ssh-rsa",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
    ];
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(blob) else {
        return false;
    };
    // The blob starts with its own type name, length-prefixed.
    known.contains(&kind)
        && bytes.len() > 4 + kind.len()
        && bytes[..4] == u32::try_from(kind.len()).unwrap_or(0).to_be_bytes()
        && &bytes[4..4 + kind.len()] == kind.as_bytes()
}

fn linux_profile(p: &LinuxProfile) -> Result<LinuxProfile, SpecError> {
    let user_ok = (1..=32).contains(&p.admin_username.len())
        && p.admin_username
            .starts_with(|c: char| c.is_ascii_alphabetic())
        && p.admin_username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !user_ok {
        return Err(SpecError::Invalid {
            field: "linuxProfile.adminUsername",
            value: p.admin_username.clone(),
            rule: "1-32 letters, digits, '-' and '_', starting with a letter",
        });
    }
    if p.ssh.public_keys.is_empty() {
        return Err(SpecError::Invalid {
            field: "linuxProfile.ssh.publicKeys",
            value: "[]".to_owned(),
            rule: "at least one SSH public key is required",
        });
    }
    for key in &p.ssh.public_keys {
        if !is_ssh_public_key(&key.key_data) {
            return Err(SpecError::Invalid {
                field: "linuxProfile.ssh.publicKeys.keyData",
                value: key.key_data.chars().take(40).collect(),
                rule: "an OpenSSH public key (ssh-rsa, ssh-ed25519 or ecdsa-sha2-*) is required",
            });
        }
    }
    Ok(p.clone())
}

fn parse_cidr(field: &'static str, cidr: &str) -> Result<(u32, u32), SpecError> {
    let invalid = || SpecError::Invalid {
        field,
        value: cidr.to_owned(),
        rule: "an IPv4 CIDR such as 10.0.0.0/16 is required",
    };
    let (addr, len) = cidr.split_once('/').ok_or_else(invalid)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
    let len: u32 = len.parse().map_err(|_| invalid())?;
    if len > 32 {
        return Err(invalid());
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok((u32::from(addr) & mask, mask))
}

fn network(
    input: Option<&NetworkProfileInput>,
    current: Option<&NetworkProfile>,
) -> Result<NetworkProfile, SpecError> {
    let empty = NetworkProfileInput::default();
    let input = input.unwrap_or(&empty);
    let text = |v: &Option<String>, old: Option<&String>, default: &str| -> String {
        non_empty(v.as_deref())
            .map(str::to_owned)
            .or_else(|| old.cloned())
            .unwrap_or_else(|| default.to_owned())
    };
    let keep = |field: &'static str,
                requested: &Option<String>,
                old: Option<&String>,
                default: &str|
     -> Result<String, SpecError> {
        immutable(
            field,
            non_empty(requested.as_deref()),
            old.map(String::as_str),
            || default.to_owned(),
        )
    };
    let plugin = one_of(
        "networkProfile.networkPlugin",
        &keep(
            "networkProfile.networkPlugin",
            &input.network_plugin,
            current.map(|c| &c.network_plugin),
            "azure",
        )?,
        &["azure", "kubenet", "none"],
    )?;
    let plugin_mode = match non_empty(input.network_plugin_mode.as_deref()) {
        Some(m) => Some(one_of("networkProfile.networkPluginMode", m, &["overlay"])?),
        None => match current {
            Some(c) => c.network_plugin_mode.clone(),
            None => (plugin == "azure").then(|| "overlay".to_owned()),
        },
    };
    let service_cidr = keep(
        "networkProfile.serviceCidr",
        &input.service_cidr,
        current.map(|c| &c.service_cidr),
        "10.0.0.0/16",
    )?;
    let dns_service_ip = keep(
        "networkProfile.dnsServiceIP",
        &input.dns_service_ip,
        current.map(|c| &c.dns_service_ip),
        "10.0.0.10",
    )?;
    let (net, mask) = parse_cidr("networkProfile.serviceCidr", &service_cidr)?;
    let ip: Ipv4Addr = dns_service_ip.parse().map_err(|_| SpecError::Invalid {
        field: "networkProfile.dnsServiceIP",
        value: dns_service_ip.clone(),
        rule: "an IPv4 address is required",
    })?;
    if u32::from(ip) & mask != net {
        return Err(SpecError::Invalid {
            field: "networkProfile.dnsServiceIP",
            value: dns_service_ip,
            rule: "it must lie within serviceCidr",
        });
    }
    let overlay_or_kubenet = plugin == "kubenet" || plugin_mode.is_some();
    let pod_cidr = match non_empty(input.pod_cidr.as_deref()) {
        Some(p) => Some(p.to_owned()),
        None => current
            .and_then(|c| c.pod_cidr.clone())
            .or_else(|| overlay_or_kubenet.then(|| "10.244.0.0/16".to_owned())),
    };
    if let Some(p) = &pod_cidr {
        parse_cidr("networkProfile.podCidr", p)?;
    }
    Ok(NetworkProfile {
        network_policy: one_of(
            "networkProfile.networkPolicy",
            &text(
                &input.network_policy,
                current.map(|c| &c.network_policy),
                "none",
            ),
            &["none", "calico", "azure", "cilium"],
        )?,
        network_dataplane: non_empty(input.network_dataplane.as_deref())
            .map(str::to_owned)
            .or_else(|| current.and_then(|c| c.network_dataplane.clone()))
            .or_else(|| (plugin == "azure").then(|| "azure".to_owned())),
        outbound_type: one_of(
            "networkProfile.outboundType",
            &text(
                &input.outbound_type,
                current.map(|c| &c.outbound_type),
                "loadBalancer",
            ),
            &[
                "loadBalancer",
                "userDefinedRouting",
                "managedNATGateway",
                "userAssignedNATGateway",
                "none",
                "block",
            ],
        )?,
        load_balancer_sku: one_of(
            "networkProfile.loadBalancerSku",
            &text(
                &input.load_balancer_sku,
                current.map(|c| &c.load_balancer_sku),
                "standard",
            ),
            &["standard", "basic"],
        )?,
        pod_cidrs: input
            .pod_cidrs
            .clone()
            .or_else(|| current.map(|c| c.pod_cidrs.clone()))
            .unwrap_or_else(|| pod_cidr.iter().cloned().collect()),
        service_cidrs: input
            .service_cidrs
            .clone()
            .or_else(|| current.map(|c| c.service_cidrs.clone()))
            .unwrap_or_else(|| vec![service_cidr.clone()]),
        ip_families: input
            .ip_families
            .clone()
            .or_else(|| current.map(|c| c.ip_families.clone()))
            .unwrap_or_else(|| vec!["IPv4".to_owned()]),
        network_plugin: plugin,
        network_plugin_mode: plugin_mode,
        pod_cidr,
        service_cidr,
        dns_service_ip: ip.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AT: Placement<'static> = Placement {
        subscription_id: "8c2a0d3e-0000-4000-8000-000000000001",
        resource_group: "myResourceGroup",
        name: "myAKSCluster",
        location: "eastus",
        issuer_id: "5e9f0c1a-1111-4000-8000-000000000000",
    };
    const RSA_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host";

    fn input(v: serde_json::Value) -> ClusterPropertiesInput {
        serde_json::from_value(v).unwrap()
    }

    fn create(v: serde_json::Value) -> Result<ClusterSpec, SpecError> {
        resolve(&input(v), Envelope::default(), None, &AT)
    }

    #[test]
    fn an_empty_body_gets_aks_defaults() {
        let spec = initial(&AT);
        assert_eq!(spec.kubernetes_version, DEFAULT_KUBERNETES_VERSION);
        assert_eq!(spec.dns_prefix, "myAKSClust-myResourceGroup-8c2a0d");
        assert_eq!(
            spec.node_resource_group,
            "MC_myResourceGroup_myAKSCluster_eastus"
        );
        let pool = &spec.agent_pools[0];
        assert_eq!(
            (
                pool.name.as_str(),
                pool.count,
                pool.vm_size.as_str(),
                pool.mode.as_str()
            ),
            ("nodepool1", 3, DEFAULT_VM_SIZE, "System")
        );
        assert_eq!(pool.orchestrator_version, DEFAULT_KUBERNETES_VERSION);
        assert_eq!(spec.network.network_plugin, "azure");
        assert_eq!(spec.network.network_plugin_mode.as_deref(), Some("overlay"));
        assert_eq!(spec.network.pod_cidr.as_deref(), Some("10.244.0.0/16"));
        assert_eq!(spec.network.dns_service_ip, "10.0.0.10");
        assert!(spec.enable_rbac && !spec.disable_local_accounts);
        assert_eq!(spec.sku_tier, "Free");
        assert_eq!(spec, initial(&AT), "identities are stable");
        assert_ne!(spec.principal_id, spec.kubelet_object_id);
    }

    #[test]
    fn what_az_create_sends_is_kept() {
        let spec = create(json!({
            "kubernetesVersion": "",
            "dnsPrefix": "myaks-dns",
            "agentPoolProfiles": [{"name": "nodepool1", "count": 1, "vmSize": "",
                "osType": "Linux", "mode": "System", "type": "VirtualMachineScaleSets"}],
            "linuxProfile": {"adminUsername": "azureuser", "ssh": {"publicKeys": [{"keyData": RSA_KEY}]}},
            "networkProfile": {"networkPlugin": "kubenet"},
        }))
        .unwrap();
        assert_eq!(spec.dns_prefix, "myaks-dns");
        assert_eq!(spec.agent_pools[0].count, 1);
        assert_eq!(spec.agent_pools[0].vm_size, DEFAULT_VM_SIZE);
        assert_eq!(
            spec.linux_profile.unwrap().ssh.public_keys[0].key_data,
            RSA_KEY
        );
        assert_eq!(spec.network.network_plugin, "kubenet");
        assert_eq!(spec.network.network_plugin_mode, None);
        assert_eq!(spec.network.pod_cidr.as_deref(), Some("10.244.0.0/16"));
    }

    #[test]
    fn the_stored_spec_sent_back_is_itself() {
        let spec = create(
            json!({"agentPoolProfiles": [{"count": 2}, {"name": "user1", "mode": "User",
            "enableAutoScaling": true, "minCount": 1, "maxCount": 5}]}),
        )
        .unwrap();
        let wire = json!({
            "kubernetesVersion": spec.kubernetes_version,
            "dnsPrefix": spec.dns_prefix,
            "nodeResourceGroup": spec.node_resource_group,
            "agentPoolProfiles": spec.agent_pools,
            "networkProfile": spec.network,
            "enableRBAC": spec.enable_rbac,
        });
        let again = resolve(&input(wire), Envelope::default(), Some(&spec), &AT).unwrap();
        assert_eq!(again, spec);
        let empty = resolve(&input(json!({})), Envelope::default(), Some(&spec), &AT).unwrap();
        assert_eq!(empty, spec, "absent fields keep their values");
    }

    #[test]
    fn rules_aks_enforces() {
        let current = initial(&AT);
        let update = |v| resolve(&input(v), Envelope::default(), Some(&current), &AT);
        let cases: Vec<(Result<ClusterSpec, SpecError>, &str)> = vec![
            (
                update(json!({"dnsPrefix": "other"})),
                "PropertyChangeNotAllowed",
            ),
            (
                update(json!({"nodeResourceGroup": "MC_else"})),
                "PropertyChangeNotAllowed",
            ),
            (
                update(json!({"enableRBAC": false})),
                "PropertyChangeNotAllowed",
            ),
            (
                update(json!({"networkProfile": {"serviceCidr": "10.1.0.0/16"}})),
                "PropertyChangeNotAllowed",
            ),
            (
                update(json!({"kubernetesVersion": "1.30"})),
                "OperationNotAllowed",
            ),
            (
                create(json!({"kubernetesVersion": "latest"})),
                "InvalidParameter",
            ),
            (create(json!({"agentPoolProfiles": []})), "InvalidParameter"),
            (
                create(json!({"agentPoolProfiles": [{"mode": "User"}]})),
                "InvalidParameter",
            ),
            (
                create(json!({"agentPoolProfiles": [{"name": "Pool_1"}]})),
                "InvalidParameter",
            ),
            (
                create(
                    json!({"agentPoolProfiles": [{"name": "a"}, {"name": "a", "mode": "User"}]}),
                ),
                "InvalidParameter",
            ),
            (
                create(json!({"agentPoolProfiles": [{"count": 1001}]})),
                "InvalidParameter",
            ),
            (
                create(json!({"agentPoolProfiles": [{"count": 0}]})),
                "InvalidParameter",
            ),
            (
                create(json!({"agentPoolProfiles": [{"enableAutoScaling": true}]})),
                "InvalidParameter",
            ),
            (
                create(json!({"linuxProfile": {"adminUsername": "azureuser",
                    "ssh": {"publicKeys": [{"keyData": "not a key"}]}}})),
                "InvalidParameter",
            ),
            (
                create(json!({"linuxProfile": {"adminUsername": "1root",
                    "ssh": {"publicKeys": [{"keyData": RSA_KEY}]}}})),
                "InvalidParameter",
            ),
            (
                create(
                    json!({"networkProfile": {"serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.1.0.10"}}),
                ),
                "InvalidParameter",
            ),
            (
                create(json!({"networkProfile": {"networkPlugin": "flannel"}})),
                "InvalidParameter",
            ),
            (create(json!({"dnsPrefix": "-bad"})), "InvalidParameter"),
        ];
        for (i, (result, code)) in cases.into_iter().enumerate() {
            assert_eq!(result.map_err(|e| e.code()), Err(code), "case {i}");
        }
        // Upgrades and same-minor patches are allowed.
        assert_eq!(
            update(json!({"kubernetesVersion": "1.34"}))
                .unwrap()
                .kubernetes_version,
            "1.34"
        );
        assert!(update(json!({"kubernetesVersion": "1.33.4"})).is_ok());
    }

    #[test]
    fn only_a_system_assigned_identity() {
        let ua = ClusterIdentityInput {
            kind: Some("UserAssigned".into()),
        };
        let sa = ClusterIdentityInput {
            kind: Some("systemassigned".into()),
        };
        let env = |i| Envelope {
            sku: None,
            identity: Some(i),
        };
        let empty = ClusterPropertiesInput::default();
        assert_eq!(
            resolve(&empty, env(&ua), None, &AT).map_err(|e| e.code()),
            Err("BadRequest")
        );
        assert!(resolve(&empty, env(&sa), None, &AT).is_ok());
    }

    #[test]
    fn ssh_keys() {
        assert!(is_ssh_public_key(RSA_KEY));
        assert!(is_ssh_public_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7x x"
        ));
        for bad in [
            "",
            "ssh-rsa",
            "ssh-rsa !!!",
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
            // An ed25519 blob labelled as RSA.
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIB7x",
        ] {
            assert!(!is_ssh_public_key(bad), "{bad}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(current_version("1.33"), "1.33.0");
        assert_eq!(current_version("1.33.2"), "1.33.2");
    }
}
