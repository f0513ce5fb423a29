//! What `wid aks get-credentials` and `--generate-ssh-keys` do with files, as az does it:
//! merging a cluster's kubeconfig into an existing one, and an RSA key pair in OpenSSH's
//! public format. The decisions are plain functions; the commands do the IO.

use anyhow::{bail, Context as _, Result};
use serde_yaml_ng::{Mapping, Value};

const LISTS: [&str; 3] = ["clusters", "users", "contexts"];

fn parse(text: &str, what: &str) -> Result<Mapping> {
    match serde_yaml_ng::from_str::<Value>(text).with_context(|| format!("parsing {what}"))? {
        Value::Mapping(m) => Ok(m),
        Value::Null => Ok(Mapping::new()),
        _ => bail!("{what} is not a kubeconfig (a YAML mapping)"),
    }
}

fn name_of(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

/// A kubeconfig check before it is attached: YAML with at least one cluster and context.
pub fn validate(text: &str) -> Result<()> {
    let config = parse(text, "the kubeconfig")?;
    for key in ["clusters", "contexts"] {
        let entries = config.get(key).and_then(Value::as_sequence);
        if entries.is_none_or(|e| e.is_empty()) {
            bail!("the kubeconfig has no {key}");
        }
    }
    Ok(())
}

/// The members of a cluster and a user that name a file, and the member that holds the
/// file's content instead.
const FILE_MEMBERS: [(&str, &str, &str); 3] = [
    (
        "clusters",
        "certificate-authority",
        "certificate-authority-data",
    ),
    ("users", "client-certificate", "client-certificate-data"),
    ("users", "client-key", "client-key-data"),
];

/// The kubeconfig with the files it names (CA, client certificate and key) replaced by their
/// base64 content, read by `read` (which resolves a relative path as kubectl does, against
/// the kubeconfig's directory): an attached kubeconfig is handed out elsewhere, where those
/// paths mean nothing.
pub fn inline_files(text: &str, read: impl Fn(&str) -> Result<Vec<u8>>) -> Result<String> {
    use base64::Engine;
    let mut config = parse(text, "the kubeconfig")?;
    for (list, file_member, data_member) in FILE_MEMBERS {
        let inner = if list == "clusters" {
            "cluster"
        } else {
            "user"
        };
        let Some(Value::Sequence(entries)) = config.get_mut(list) else {
            continue;
        };
        for entry in entries {
            let Some(Value::Mapping(m)) = entry.get_mut(inner) else {
                continue;
            };
            if let Some(file) = m.remove(file_member) {
                let file = file
                    .as_str()
                    .with_context(|| format!("{file_member} is not a path"))?;
                let content =
                    read(file).with_context(|| format!("reading {file_member} {file}"))?;
                let data = base64::engine::general_purpose::STANDARD.encode(content);
                m.insert(data_member.into(), Value::String(data));
            }
        }
    }
    Ok(serde_yaml_ng::to_string(&config)?)
}

/// `addition` merged into `existing` (empty: none yet) as az merges it: clusters, users and
/// contexts by name, an entry of the same name replaced only when it is identical or
/// `overwrite` is set, a context whose user is `clusterAdmin…` renamed `…-admin`, and
/// `current-context` set to the addition's.
pub fn merge(existing: &str, addition: &str, overwrite: bool) -> Result<String> {
    let mut addition = parse(addition, "the cluster's kubeconfig")?;
    if let Some(Value::Sequence(contexts)) = addition.get_mut("contexts") {
        let admin = contexts.iter_mut().find_map(|ctx| {
            let user = ctx.get("context")?.get("user")?.as_str()?;
            if !user.starts_with("clusterAdmin") {
                return None;
            }
            let renamed = format!("{}-admin", name_of(ctx)?);
            ctx.as_mapping_mut()?
                .insert("name".into(), Value::String(renamed.clone()));
            Some(renamed)
        });
        if let Some(name) = admin {
            addition.insert("current-context".into(), Value::String(name));
        }
    }
    let mut merged = parse(existing, "the existing kubeconfig")?;
    if merged.is_empty() {
        merged = addition.clone();
    } else {
        for key in LISTS {
            let Some(Value::Sequence(new)) = addition.get(key).cloned() else {
                continue;
            };
            let slot = merged
                .entry(key.into())
                .or_insert_with(|| Value::Sequence(Vec::new()));
            if slot.is_null() {
                *slot = Value::Sequence(Vec::new());
            }
            let Some(list) = slot.as_sequence_mut() else {
                bail!("'{key}' in the existing kubeconfig is not a list");
            };
            for entry in new {
                if let Some(i) = list
                    .iter()
                    .position(|e| name_of(e).is_some() && name_of(e) == name_of(&entry))
                {
                    if list[i] != entry && !overwrite {
                        bail!(
                            "A different object named {} already exists in {key} in your kubeconfig file. Use --overwrite-existing to replace it.",
                            name_of(&entry).unwrap_or_default()
                        );
                    }
                    list.remove(i);
                }
                list.push(entry);
            }
        }
        if let Some(current) = addition.get("current-context") {
            merged.insert("current-context".into(), current.clone());
        }
    }
    Ok(serde_yaml_ng::to_string(&Value::Mapping(merged))?)
}

fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// An unsigned big-endian integer as SSH's `mpint`: a leading zero byte when the high bit
/// is set, so it does not read as negative.
fn ssh_mpint(out: &mut Vec<u8>, unsigned: &[u8]) {
    let trimmed: Vec<u8> = unsigned.iter().copied().skip_while(|b| *b == 0).collect();
    let mut bytes = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.push(0);
    }
    bytes.extend_from_slice(&trimmed);
    ssh_string(out, &bytes);
}

/// `ssh-rsa AAAA… comment` for the RSA key with modulus `n` and exponent `e`.
pub fn ssh_rsa_public_key(n: &[u8], e: &[u8], comment: &str) -> String {
    use base64::Engine;
    let mut blob = Vec::new();
    ssh_string(&mut blob, b"ssh-rsa");
    ssh_mpint(&mut blob, e);
    ssh_mpint(&mut blob, n);
    format!(
        "ssh-rsa {} {comment}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDITION: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster: {server: 'https://a:6443'}\nusers:\n- name: clusterUser_rg_aks\n  user: {token: t}\ncontexts:\n- name: aks\n  context: {cluster: aks, user: clusterUser_rg_aks}\ncurrent-context: aks\n";

    fn doc(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn files_a_kubeconfig_names_are_inlined() {
        let text = "apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: 'https://a:6443', certificate-authority: pki/ca.crt}\n- name: d\n  cluster: {server: 'https://b', certificate-authority-data: QUJD}\nusers:\n- name: u\n  user: {client-certificate: pki/admin.crt, client-key: /abs/admin.key}\n- name: t\n  user: {token: x}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n";
        let read = |path: &str| -> Result<Vec<u8>> {
            match path {
                "pki/ca.crt" => Ok(b"CA".to_vec()),
                "pki/admin.crt" => Ok(b"CERT".to_vec()),
                "/abs/admin.key" => Ok(b"KEY".to_vec()),
                other => bail!("no {other}"),
            }
        };
        let out = doc(&inline_files(text, read).unwrap());
        let cluster = &out["clusters"][0]["cluster"];
        assert_eq!(cluster["certificate-authority-data"], "Q0E=");
        assert!(cluster.get("certificate-authority").is_none());
        assert_eq!(
            out["clusters"][1]["cluster"]["certificate-authority-data"],
            "QUJD"
        );
        let user = &out["users"][0]["user"];
        assert_eq!(
            (&user["client-certificate-data"], &user["client-key-data"]),
            (&Value::from("Q0VSVA=="), &Value::from("S0VZ"))
        );
        assert!(user.get("client-key").is_none() && user.get("client-certificate").is_none());
        assert_eq!(out["users"][1]["user"]["token"], "x");
        let missing = "clusters:\n- name: c\n  cluster: {certificate-authority: gone.crt}\n";
        let e = inline_files(missing, read).unwrap_err();
        assert!(format!("{e:#}").contains("gone.crt"), "{e:#}");
    }

    #[test]
    fn into_nothing_the_addition_is_the_file() {
        assert_eq!(doc(&merge("", ADDITION, false).unwrap()), doc(ADDITION));
    }

    #[test]
    fn merging_keeps_others_and_replaces_only_when_allowed() {
        let existing = "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: 'https://o'}\nusers: []\ncontexts:\n- name: other\n  context: {cluster: other, user: u}\ncurrent-context: other\n";
        let merged = doc(&merge(existing, ADDITION, false).unwrap());
        let names = |key: &str| -> Vec<String> {
            merged[key]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|e| name_of(e).unwrap().to_owned())
                .collect()
        };
        assert_eq!(names("clusters"), ["other", "aks"]);
        assert_eq!(names("contexts"), ["other", "aks"]);
        assert_eq!(names("users"), ["clusterUser_rg_aks"]);
        assert_eq!(merged["current-context"], "aks");
        // The same again merges cleanly; a different cluster of the same name needs
        // --overwrite-existing.
        let twice = merge(&merge(existing, ADDITION, false).unwrap(), ADDITION, false).unwrap();
        assert_eq!(doc(&twice), merged);
        let changed = ADDITION.replace("https://a:6443", "https://b:6443");
        let refused = merge(&twice, &changed, false).unwrap_err().to_string();
        assert!(
            refused.contains("A different object named aks"),
            "{refused}"
        );
        let replaced = doc(&merge(&twice, &changed, true).unwrap());
        assert_eq!(
            replaced["clusters"][1]["cluster"]["server"],
            "https://b:6443"
        );
        assert_eq!(replaced["clusters"].as_sequence().unwrap().len(), 2);
    }

    #[test]
    fn an_admin_context_gets_its_own_name() {
        let admin = ADDITION.replace("clusterUser_rg_aks", "clusterAdmin_rg_aks");
        let merged = doc(&merge("", &admin, false).unwrap());
        assert_eq!(merged["contexts"][0]["name"], "aks-admin");
        assert_eq!(merged["current-context"], "aks-admin");
    }

    #[test]
    fn kubeconfigs_are_checked_before_they_are_attached() {
        assert!(validate(ADDITION).is_ok());
        for bad in ["", "- a list", "kind: Config\nclusters: []\n", "{"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ssh_rsa_public_keys_are_what_aks_accepts() {
        let (key, _) = wid_jose::SigningKey::generate_rsa().unwrap();
        let jwk = key.verifying_key().to_jwk();
        let b64 = |s: Option<String>| wid_jose::b64::decode(&s.unwrap()).unwrap();
        let line = ssh_rsa_public_key(&b64(jwk.n), &b64(jwk.e), "azureuser@wid");
        assert!(line.starts_with("ssh-rsa AAAAB3NzaC1yc2E"), "{line}");
        assert!(line.ends_with(" azureuser@wid"));
        assert!(wid_core::cluster_spec::is_ssh_public_key(&line));
        let mut blob = Vec::new();
        ssh_mpint(&mut blob, &[0x00, 0x80]);
        assert_eq!(blob, [0, 0, 0, 2, 0, 0x80]);
    }
}
