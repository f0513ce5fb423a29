//! Certificates of key vaults, IO-free: the certificate policy as Key Vault's REST API shapes
//! it (with Key Vault's defaults and refusals), self-signed issuance, the value of the
//! backing secret (PEM or PKCS#12 with the private key), and import of PEM and PFX.
//!
//! Private keys live in [`Zeroizing`] buffers and are never formatted: [`KeyMaterial`]
//! has no `Debug`.

use base64::Engine;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, OtherNameValue, SanType, SerialNumber, SignatureAlgorithm,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use zeroize::Zeroizing;

pub const PKCS12: &str = "application/x-pkcs12";
pub const PEM: &str = "application/x-pem-file";

/// Key Vault's bound on an imported certificate (its secret's value limit).
pub const MAX_IMPORT_BYTES: usize = 25 * 1024;

const EKU_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
/// The user principal name other-name (Microsoft's `szOID_NT_PRINCIPAL_NAME`).
const UPN_OID: [u64; 10] = [1, 3, 6, 1, 4, 1, 311, 20, 2, 3];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("The certificate policy is invalid: {0}")]
    Policy(String),
    #[error("Property x509_props.subject has invalid value '{0}': expected comma-separated attributes such as CN=name, O=organization.")]
    Subject(String),
    #[error("Issuer '{0}' is not supported: wid issues self-signed certificates (issuer Self) and imports certificates issued elsewhere.")]
    Issuer(String),
    #[error("The specified certificate content is invalid: {0}")]
    Import(String),
    #[error("The private key does not match the certificate's public key.")]
    KeyMismatch,
    #[error("the certificate could not be issued: {0}")]
    Issue(String),
}

type Result<T> = std::result::Result<T, CertificateError>;

fn policy_err(m: impl Into<String>) -> CertificateError {
    CertificateError::Policy(m.into())
}

/// `key_props` as a request sends it; absent fields take Key Vault's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyPropsIn {
    pub exportable: Option<bool>,
    pub kty: Option<String>,
    pub key_size: Option<u32>,
    pub crv: Option<String>,
    pub reuse_key: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecretPropsIn {
    #[serde(rename = "contentType")]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Sans {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upns: Vec<String>,
}

impl Sans {
    fn is_empty(&self) -> bool {
        self.dns_names.is_empty() && self.emails.is_empty() && self.upns.is_empty()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct X509In {
    pub subject: Option<String>,
    pub sans: Option<Sans>,
    pub ekus: Option<Vec<String>>,
    pub key_usage: Option<Vec<String>>,
    pub validity_months: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Issuer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_transparency: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Trigger {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_percentage: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_before_expiry: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Action {
    pub action_type: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct LifetimeAction {
    pub trigger: Trigger,
    pub action: Action,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PolicyAttributesIn {
    pub enabled: Option<bool>,
}

/// A certificate policy as a create, import or policy update sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PolicyIn {
    pub key_props: Option<KeyPropsIn>,
    pub secret_props: Option<SecretPropsIn>,
    pub x509_props: Option<X509In>,
    pub lifetime_actions: Option<Vec<LifetimeAction>>,
    pub issuer: Option<Issuer>,
    pub attributes: Option<PolicyAttributesIn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Curve {
    #[serde(rename = "P-256")]
    P256,
    #[serde(rename = "P-384")]
    P384,
    #[serde(rename = "P-521")]
    P521,
}

impl Curve {
    fn bits(self) -> u32 {
        match self {
            Curve::P256 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }
}

/// The key a certificate is issued for: RSA of a size Key Vault offers, or EC on a NIST curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    Rsa(u32),
    Ec(Curve),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyProps {
    pub exportable: bool,
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<Curve>,
    pub reuse_key: bool,
}

impl KeyProps {
    pub fn spec(&self) -> KeySpec {
        match self.crv {
            Some(c) => KeySpec::Ec(c),
            None => KeySpec::Rsa(self.key_size.unwrap_or(2048)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretProps {
    #[serde(rename = "contentType")]
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct X509Props {
    pub subject: String,
    #[serde(default, skip_serializing_if = "Sans::is_empty")]
    pub sans: Sans,
    pub ekus: Vec<String>,
    pub key_usage: Vec<String>,
    pub validity_months: i64,
    pub basic_constraints: BasicConstraints,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicConstraints {
    pub ca: bool,
}

/// A resolved policy: every field Key Vault fills in is filled in. Serialized, it is the
/// REST shape (without the `id` and `attributes` its reader adds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub key_props: KeyProps,
    pub secret_props: SecretProps,
    pub x509_props: X509Props,
    pub lifetime_actions: Vec<LifetimeAction>,
    pub issuer: Issuer,
    pub enabled: bool,
}

const KEY_USAGES: [(&str, KeyUsagePurpose); 9] = [
    ("digitalSignature", KeyUsagePurpose::DigitalSignature),
    ("nonRepudiation", KeyUsagePurpose::ContentCommitment),
    ("keyEncipherment", KeyUsagePurpose::KeyEncipherment),
    ("dataEncipherment", KeyUsagePurpose::DataEncipherment),
    ("keyAgreement", KeyUsagePurpose::KeyAgreement),
    ("keyCertSign", KeyUsagePurpose::KeyCertSign),
    ("cRLSign", KeyUsagePurpose::CrlSign),
    ("encipherOnly", KeyUsagePurpose::EncipherOnly),
    ("decipherOnly", KeyUsagePurpose::DecipherOnly),
];

fn key_props(k: KeyPropsIn, base: Option<&KeyProps>) -> Result<KeyProps> {
    let kty = k
        .kty
        .or_else(|| base.map(|b| b.kty.clone()))
        .unwrap_or_else(|| "RSA".to_owned());
    let exportable = k.exportable.or(base.map(|b| b.exportable)).unwrap_or(true);
    if !exportable {
        return Err(policy_err(
            "non-exportable certificates are not supported: wid keeps a certificate's private key in its backing secret.",
        ));
    }
    let reuse_key = k.reuse_key.or(base.map(|b| b.reuse_key)).unwrap_or(false);
    match kty.as_str() {
        "RSA" => {
            let size = k.key_size.or(base.and_then(|b| b.key_size)).unwrap_or(2048);
            if !matches!(size, 2048 | 3072 | 4096) {
                return Err(policy_err(format!(
                    "key_props.key_size {size} is not supported for RSA: use 2048, 3072 or 4096."
                )));
            }
            if k.crv.is_some() {
                return Err(policy_err("key_props.crv is only valid for EC keys."));
            }
            Ok(KeyProps {
                exportable,
                kty,
                key_size: Some(size),
                crv: None,
                reuse_key,
            })
        }
        "EC" => {
            let crv = match k.crv.as_deref() {
                None => base.and_then(|b| b.crv).unwrap_or(Curve::P256),
                Some("P-256") => Curve::P256,
                Some("P-384") => Curve::P384,
                Some("P-521") => Curve::P521,
                Some(other) => {
                    return Err(policy_err(format!(
                        "key_props.crv '{other}' is not supported: use P-256, P-384 or P-521."
                    )))
                }
            };
            if let Some(size) = k.key_size.filter(|s| *s != crv.bits()) {
                return Err(policy_err(format!(
                    "key_props.key_size {size} does not match curve {}.",
                    crv.bits()
                )));
            }
            Ok(KeyProps {
                exportable,
                kty,
                key_size: Some(crv.bits()),
                crv: Some(crv),
                reuse_key,
            })
        }
        "RSA-HSM" | "EC-HSM" => Err(policy_err(format!(
            "key_props.kty {kty} needs a hardware security module, which wid does not have."
        ))),
        other => Err(policy_err(format!(
            "key_props.kty '{other}' is not supported: use RSA or EC."
        ))),
    }
}

fn content_type(s: Option<String>, base: Option<&str>) -> Result<String> {
    let ct = s
        .or_else(|| base.map(str::to_owned))
        .unwrap_or_else(|| PKCS12.to_owned());
    match ct.to_ascii_lowercase().as_str() {
        PKCS12 => Ok(PKCS12.to_owned()),
        PEM => Ok(PEM.to_owned()),
        _ => Err(policy_err(format!(
            "secret_props.contentType '{ct}' is not supported: use {PKCS12} or {PEM}."
        ))),
    }
}

fn x509_props(x: X509In, base: Option<&X509Props>, spec: KeySpec) -> Result<X509Props> {
    let subject = x
        .subject
        .or_else(|| base.map(|b| b.subject.clone()))
        .unwrap_or_default();
    let sans = x
        .sans
        .or_else(|| base.map(|b| b.sans.clone()))
        .unwrap_or_default();
    if subject.trim().is_empty() && sans.is_empty() {
        return Err(policy_err(
            "x509_props needs a subject or subject alternative names.",
        ));
    }
    if !subject.trim().is_empty() {
        distinguished_name(&subject)?;
    }
    for dns in &sans.dns_names {
        if dns.is_empty() || dns.len() > 253 || !dns.is_ascii() {
            return Err(policy_err(format!(
                "x509_props.sans.dns_names: '{dns}' is not a DNS name."
            )));
        }
    }
    for e in sans.emails.iter().chain(&sans.upns) {
        if !e.contains('@') || e.len() > 254 {
            return Err(policy_err(format!(
                "x509_props.sans: '{e}' is not an address."
            )));
        }
    }
    let ekus = x
        .ekus
        .or_else(|| base.map(|b| b.ekus.clone()))
        .unwrap_or_else(|| vec![EKU_SERVER_AUTH.to_owned(), EKU_CLIENT_AUTH.to_owned()]);
    for eku in &ekus {
        oid(eku).ok_or_else(|| policy_err(format!("x509_props.ekus: '{eku}' is not an OID.")))?;
    }
    let default_usage: &[&str] = match spec {
        KeySpec::Rsa(_) => &["digitalSignature", "keyEncipherment"],
        KeySpec::Ec(_) => &["digitalSignature"],
    };
    let key_usage = x
        .key_usage
        .or_else(|| base.map(|b| b.key_usage.clone()))
        .unwrap_or_else(|| default_usage.iter().map(|s| (*s).to_owned()).collect());
    for u in &key_usage {
        if !KEY_USAGES.iter().any(|(name, _)| name == u) {
            return Err(policy_err(format!(
                "x509_props.key_usage: '{u}' is not a key usage."
            )));
        }
    }
    let validity_months = x
        .validity_months
        .or(base.map(|b| b.validity_months))
        .unwrap_or(12);
    if !(1..=1200).contains(&validity_months) {
        return Err(policy_err(format!(
            "x509_props.validity_months {validity_months} is out of range: use 1 to 1200."
        )));
    }
    Ok(X509Props {
        subject,
        sans,
        ekus,
        key_usage,
        validity_months,
        basic_constraints: BasicConstraints { ca: false },
    })
}

fn lifetime_actions(actions: Vec<LifetimeAction>) -> Result<Vec<LifetimeAction>> {
    if actions.len() > 1 {
        return Err(policy_err("lifetime_actions holds at most one action."));
    }
    for a in &actions {
        match (a.trigger.lifetime_percentage, a.trigger.days_before_expiry) {
            (Some(p), None) if (1..=99).contains(&p) => {}
            (None, Some(d)) if d >= 1 => {}
            _ => {
                return Err(policy_err(
                    "a lifetime action's trigger is either lifetime_percentage (1 to 99) or days_before_expiry (at least 1).",
                ))
            }
        }
        if !matches!(a.action.action_type.as_str(), "AutoRenew" | "EmailContacts") {
            return Err(policy_err(format!(
                "action_type '{}' is not AutoRenew or EmailContacts.",
                a.action.action_type
            )));
        }
    }
    Ok(actions)
}

impl Policy {
    /// The policy a create or import stores: the request over Key Vault's defaults.
    pub fn resolve(p: PolicyIn) -> Result<Policy> {
        Self::merge(p, None)
    }

    /// A policy update: what the request names replaces, the rest stays.
    pub fn update(&self, p: PolicyIn) -> Result<Policy> {
        Self::merge(p, Some(self))
    }

    fn merge(p: PolicyIn, base: Option<&Policy>) -> Result<Policy> {
        let key_props = key_props(p.key_props.unwrap_or_default(), base.map(|b| &b.key_props))?;
        let content_type = content_type(
            p.secret_props.and_then(|s| s.content_type),
            base.map(|b| b.secret_props.content_type.as_str()),
        )?;
        let x509_props = x509_props(
            p.x509_props.unwrap_or_default(),
            base.map(|b| &b.x509_props),
            key_props.spec(),
        )?;
        let lifetime_actions = lifetime_actions(
            p.lifetime_actions
                .or_else(|| base.map(|b| b.lifetime_actions.clone()))
                .unwrap_or_else(|| {
                    vec![LifetimeAction {
                        trigger: Trigger {
                            lifetime_percentage: Some(80),
                            days_before_expiry: None,
                        },
                        action: Action {
                            action_type: "AutoRenew".to_owned(),
                        },
                    }]
                }),
        )?;
        let mut issuer = p
            .issuer
            .or_else(|| base.map(|b| b.issuer.clone()))
            .unwrap_or_else(|| Issuer {
                name: "Self".to_owned(),
                ..Issuer::default()
            });
        if issuer.name.eq_ignore_ascii_case("self") {
            issuer.name = "Self".to_owned();
        } else if issuer.name.eq_ignore_ascii_case("unknown") {
            issuer.name = "Unknown".to_owned();
        } else {
            return Err(CertificateError::Issuer(issuer.name));
        }
        let enabled = p
            .attributes
            .and_then(|a| a.enabled)
            .or(base.map(|b| b.enabled))
            .unwrap_or(true);
        Ok(Policy {
            key_props,
            secret_props: SecretProps { content_type },
            x509_props,
            lifetime_actions,
            issuer,
            enabled,
        })
    }

    /// Whether wid can issue under this policy itself; `Unknown` waits for a merge of a
    /// certificate signed elsewhere, which wid does not offer.
    pub fn self_issued(&self) -> Result<()> {
        if self.issuer.name == "Self" {
            Ok(())
        } else {
            Err(CertificateError::Issuer(self.issuer.name.clone()))
        }
    }
}

fn oid(s: &str) -> Option<Vec<u64>> {
    let arcs: Option<Vec<u64>> = s.split('.').map(|a| a.parse().ok()).collect();
    arcs.filter(|a| a.len() >= 2)
}

/// Splits `CN=a, O=b` at unquoted commas (or semicolons) into typed attributes.
fn distinguished_name(subject: &str) -> Result<DistinguishedName> {
    let bad = || CertificateError::Subject(subject.to_owned());
    let mut parts = Vec::new();
    let (mut current, mut quoted) = (String::new(), false);
    for c in subject.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' | ';' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    if quoted {
        return Err(bad());
    }
    parts.push(current);
    let mut dn = DistinguishedName::new();
    for part in parts {
        let (k, v) = part.split_once('=').ok_or_else(bad)?;
        let (k, v) = (k.trim(), v.trim());
        if v.is_empty() || v.len() > 256 {
            return Err(bad());
        }
        let ty = match k.to_ascii_uppercase().as_str() {
            "CN" => DnType::CommonName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "L" => DnType::LocalityName,
            "S" | "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            "E" | "EMAIL" => DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            "DC" => DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
            _ => return Err(bad()),
        };
        dn.push(ty, v);
    }
    Ok(dn)
}

/// A certificate with its private key (PKCS#8 DER).
pub struct KeyMaterial {
    pub der: Vec<u8>,
    pub pkcs8: Zeroizing<Vec<u8>>,
}

fn signature_algorithm(spec: KeySpec) -> &'static SignatureAlgorithm {
    match spec {
        KeySpec::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
        KeySpec::Ec(Curve::P256) => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeySpec::Ec(Curve::P384) => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeySpec::Ec(Curve::P521) => &rcgen::PKCS_ECDSA_P521_SHA512,
    }
}

fn issue_err(e: impl std::fmt::Display) -> CertificateError {
    CertificateError::Issue(e.to_string())
}

/// `now` plus `months` calendar months (the day clamped to the target month's length).
fn add_months(now: i64, months: i64) -> Result<time::OffsetDateTime> {
    let start = time::OffsetDateTime::from_unix_timestamp(now).map_err(issue_err)?;
    let total = i64::from(start.year()) * 12 + i64::from(u8::from(start.month())) - 1 + months;
    let year = i32::try_from(total.div_euclid(12)).map_err(issue_err)?;
    let month = time::Month::try_from(u8::try_from(total.rem_euclid(12) + 1).map_err(issue_err)?)
        .map_err(issue_err)?;
    let day = start.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).map_err(issue_err)?;
    Ok(start.replace_date(date))
}

/// A fresh key (or `reuse`, the previous version's, when the policy reuses keys) and a
/// self-signed certificate for it, valid from `now` for the policy's months.
pub fn issue_self_signed(
    policy: &Policy,
    reuse: Option<&KeyMaterial>,
    now: i64,
) -> Result<KeyMaterial> {
    policy.self_issued()?;
    let spec = policy.key_props.spec();
    let alg = signature_algorithm(spec);
    let key = match reuse.filter(|_| policy.key_props.reuse_key) {
        Some(previous) => {
            let der = rustls_pki_types::PrivatePkcs8KeyDer::from(previous.pkcs8.as_slice());
            KeyPair::from_pkcs8_der_and_sign_algo(&der, alg).map_err(issue_err)?
        }
        None => match spec {
            KeySpec::Rsa(bits) => {
                let size = match bits {
                    3072 => rcgen::RsaKeySize::_3072,
                    4096 => rcgen::RsaKeySize::_4096,
                    _ => rcgen::RsaKeySize::_2048,
                };
                KeyPair::generate_rsa_for(alg, size).map_err(issue_err)?
            }
            KeySpec::Ec(_) => KeyPair::generate_for(alg).map_err(issue_err)?,
        },
    };
    let x = &policy.x509_props;
    let mut params = CertificateParams::default();
    params.distinguished_name = if x.subject.trim().is_empty() {
        DistinguishedName::new()
    } else {
        distinguished_name(&x.subject)?
    };
    let ia5 = |s: &str| s.to_owned().try_into().map_err(issue_err);
    let mut sans = Vec::new();
    for d in &x.sans.dns_names {
        sans.push(SanType::DnsName(ia5(d)?));
    }
    for e in &x.sans.emails {
        sans.push(SanType::Rfc822Name(ia5(e)?));
    }
    for u in &x.sans.upns {
        sans.push(SanType::OtherName((
            UPN_OID.to_vec(),
            OtherNameValue::Utf8String(u.clone()),
        )));
    }
    params.subject_alt_names = sans;
    params.key_usages = x
        .key_usage
        .iter()
        .filter_map(|u| KEY_USAGES.iter().find(|(n, _)| n == u).map(|(_, p)| *p))
        .collect();
    params.extended_key_usages = x
        .ekus
        .iter()
        .filter_map(|e| oid(e))
        .map(|arcs| match arcs.as_slice() {
            [1, 3, 6, 1, 5, 5, 7, 3, 1] => ExtendedKeyUsagePurpose::ServerAuth,
            [1, 3, 6, 1, 5, 5, 7, 3, 2] => ExtendedKeyUsagePurpose::ClientAuth,
            _ => ExtendedKeyUsagePurpose::Other(arcs),
        })
        .collect();
    params.not_before = time::OffsetDateTime::from_unix_timestamp(now).map_err(issue_err)?;
    params.not_after = add_months(now, x.validity_months)?;
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(issue_err)?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key).map_err(issue_err)?;
    Ok(KeyMaterial {
        der: cert.der().to_vec(),
        pkcs8: Zeroizing::new(key.serialize_der()),
    })
}

/// The certificate's `x5t`: its SHA-1 thumbprint, base64url without padding.
pub fn thumbprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn pem_block(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// The backing secret's value: the private key and certificate as PEM, or an unencrypted
/// (empty-password) PKCS#12 in base64, as Key Vault serves it.
pub fn secret_value(content_type: &str, m: &KeyMaterial) -> Result<Zeroizing<String>> {
    if content_type == PEM {
        let mut out = Zeroizing::new(pem_block("PRIVATE KEY", &m.pkcs8));
        out.push_str(&pem_block("CERTIFICATE", &m.der));
        return Ok(out);
    }
    let cert = p12_keystore::Certificate::from_der(&m.der).map_err(issue_err)?;
    let key = p12_keystore::PrivateKey::from_der(&m.pkcs8).map_err(issue_err)?;
    let mut id = [0u8; 20];
    id.copy_from_slice(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &m.der).as_ref(),
    );
    let chain = p12_keystore::PrivateKeyChain::new(id.to_vec(), key, [cert]);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "certificate",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    let pfx = Zeroizing::new(store.writer("").write().map_err(issue_err)?);
    Ok(Zeroizing::new(
        base64::engine::general_purpose::STANDARD.encode(pfx.as_slice()),
    ))
}

/// What a certificate says of itself, for its bundle and the policy of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub subject: String,
    pub sans: Sans,
    pub not_before: i64,
    pub not_after: i64,
    pub spec: KeySpec,
}

fn import_err(m: impl std::fmt::Display) -> CertificateError {
    CertificateError::Import(m.to_string())
}

/// Parses a DER certificate for what wid shows of it.
pub fn facts(der: &[u8]) -> Result<CertificateFacts> {
    let (_, cert) = X509Certificate::from_der(der).map_err(import_err)?;
    let mut sans = Sans::default();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.dns_names.push((*d).to_owned()),
                GeneralName::RFC822Name(e) => sans.emails.push((*e).to_owned()),
                _ => {}
            }
        }
    }
    let spki = cert.public_key();
    let spec = match spki.parsed().map_err(import_err)? {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let bits = rsa.modulus.iter().skip_while(|b| **b == 0).count() * 8;
            KeySpec::Rsa(u32::try_from(bits).map_err(import_err)?)
        }
        x509_parser::public_key::PublicKey::EC(point) => KeySpec::Ec(match point.key_size() {
            256 => Curve::P256,
            384 => Curve::P384,
            528 | 521 => Curve::P521,
            n => {
                return Err(import_err(format!(
                    "an EC key of {n} bits is not supported"
                )))
            }
        }),
        _ => return Err(import_err("only RSA and EC keys are supported")),
    };
    Ok(CertificateFacts {
        subject: cert.subject().to_string(),
        sans,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        spec,
    })
}

/// The private key's public half must be the certificate's.
fn check_pair(der: &[u8], key: &rustls_pki_types::PrivateKeyDer<'_>) -> Result<Zeroizing<Vec<u8>>> {
    let (_, cert) = X509Certificate::from_der(der).map_err(import_err)?;
    let pair = KeyPair::try_from(key).map_err(|_| import_err("the private key does not parse"))?;
    if pair.public_key_raw() != cert.public_key().subject_public_key.data.as_ref() {
        return Err(CertificateError::KeyMismatch);
    }
    to_pkcs8(key)
}

/// PKCS#1 and SEC1 keys become PKCS#8, the form the backing secret holds.
fn to_pkcs8(key: &rustls_pki_types::PrivateKeyDer<'_>) -> Result<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::encoding::AsDer;
    use rustls_pki_types::PrivateKeyDer;
    let bad = |_| import_err("the private key does not parse");
    Ok(Zeroizing::new(match key {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        PrivateKeyDer::Pkcs1(k) => aws_lc_rs::rsa::KeyPair::from_der(k.secret_pkcs1_der())
            .map_err(|_| import_err("the RSA key does not parse"))?
            .as_der()
            .map_err(bad)?
            .as_ref()
            .to_vec(),
        PrivateKeyDer::Sec1(k) => {
            let der = k.secret_sec1_der();
            [
                &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                &aws_lc_rs::signature::ECDSA_P521_SHA512_ASN1_SIGNING,
            ]
            .into_iter()
            .find_map(|alg| aws_lc_rs::signature::EcdsaKeyPair::from_private_key_der(alg, der).ok())
            .ok_or_else(|| import_err("the EC key does not parse"))?
            .to_pkcs8v1()
            .map_err(bad)?
            .as_ref()
            .to_vec()
        }
        _ => return Err(import_err("the private key's format is not supported")),
    }))
}

/// An imported certificate, with the content type its value came in.
pub struct Imported {
    pub material: KeyMaterial,
    pub content_type: &'static str,
}

/// Reads an import's `value`: PEM text (the certificate and its PKCS#8, PKCS#1 or SEC1
/// key), or base64 of PEM text or of a PFX opened with `password`. A certificate wid cannot
/// describe (validity, subject) is refused here, so that nothing accepted fails later.
pub fn import(value: &str, password: Option<&str>) -> Result<Imported> {
    let imported = read_import(value, password)?;
    facts(&imported.material.der)?;
    Ok(imported)
}

fn read_import(value: &str, password: Option<&str>) -> Result<Imported> {
    if value.len() > MAX_IMPORT_BYTES * 2 {
        return Err(import_err("the certificate is too large"));
    }
    let text = value.trim();
    if text.starts_with("-----BEGIN") {
        return import_pem(text.as_bytes());
    }
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = Zeroizing::new(
        lenient
            .decode(text)
            .map_err(|_| import_err("the value is neither PEM nor base64"))?,
    );
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(import_err("the certificate is too large"));
    }
    if bytes.starts_with(b"-----BEGIN") {
        return import_pem(&bytes);
    }
    import_pfx(&bytes, password.unwrap_or(""))
}

fn import_pem(text: &[u8]) -> Result<Imported> {
    let mut certs = Vec::new();
    let mut key = None;
    for item in rustls_pemfile::read_all(&mut &text[..]) {
        match item.map_err(|_| import_err("the PEM does not parse"))? {
            rustls_pemfile::Item::X509Certificate(c) => certs.push(c.to_vec()),
            rustls_pemfile::Item::Pkcs8Key(k) if key.is_none() => key = Some(k.into()),
            rustls_pemfile::Item::Pkcs1Key(k) if key.is_none() => key = Some(k.into()),
            rustls_pemfile::Item::Sec1Key(k) if key.is_none() => key = Some(k.into()),
            _ => {
                return Err(import_err(
                    "the PEM holds more than one key, or an unsupported block",
                ))
            }
        }
    }
    let key: rustls_pki_types::PrivateKeyDer<'static> =
        key.ok_or_else(|| import_err("the PEM has no private key"))?;
    let der = certs
        .into_iter()
        .next()
        .ok_or_else(|| import_err("the PEM has no certificate"))?;
    let pkcs8 = check_pair(&der, &key)?;
    Ok(Imported {
        material: KeyMaterial { der, pkcs8 },
        content_type: PEM,
    })
}

fn import_pfx(bytes: &[u8], password: &str) -> Result<Imported> {
    let store = p12_keystore::KeyStore::from_pkcs12(
        bytes,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|e| import_err(format!("the PFX does not open with this password ({e})")))?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| import_err("the PFX holds no private key with its certificate"))?;
    let der = chain
        .certs()
        .first()
        .ok_or_else(|| import_err("the PFX holds no certificate"))?
        .as_der()
        .to_vec();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into());
    let pkcs8 = check_pair(&der, &key)?;
    Ok(Imported {
        material: KeyMaterial { der, pkcs8 },
        content_type: PKCS12,
    })
}

/// The policy Key Vault gives an imported certificate: its subject, names and key, with
/// the content type it came in unless the request set one.
pub fn imported_policy(
    p: Option<PolicyIn>,
    f: &CertificateFacts,
    content_type: &str,
) -> Result<Policy> {
    let mut p = p.unwrap_or_default();
    let (kty, key_size, crv) = match f.spec {
        KeySpec::Rsa(bits) => ("RSA", Some(bits), None),
        KeySpec::Ec(c) => (
            "EC",
            None,
            Some(match c {
                Curve::P256 => "P-256",
                Curve::P384 => "P-384",
                Curve::P521 => "P-521",
            }),
        ),
    };
    let mut k = p.key_props.take().unwrap_or_default();
    k.kty = Some(kty.to_owned());
    k.key_size = key_size.filter(|b| matches!(b, 2048 | 3072 | 4096));
    k.crv = crv.map(str::to_owned);
    p.key_props = Some(k);
    let mut s = p.secret_props.take().unwrap_or_default();
    s.content_type = s.content_type.or_else(|| Some(content_type.to_owned()));
    p.secret_props = Some(s);
    let mut x = p.x509_props.take().unwrap_or_default();
    x.subject = Some(f.subject.clone());
    x.sans = Some(f.sans.clone());
    let months = ((f.not_after - f.not_before) / (30 * 86_400)).clamp(1, 1200);
    x.validity_months = Some(months);
    p.x509_props = Some(x);
    p.issuer = Some(p.issuer.unwrap_or(Issuer {
        name: "Unknown".to_owned(),
        ..Issuer::default()
    }));
    let mut policy = Policy::resolve(p)?;
    if let KeySpec::Rsa(bits) = f.spec {
        policy.key_props.key_size = Some(bits);
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(r: Result<Imported>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(_) => panic!("the import was accepted"),
        }
    }

    fn policy(v: serde_json::Value) -> Result<Policy> {
        Policy::resolve(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn an_empty_policy_with_a_subject_takes_key_vaults_defaults() {
        let p = policy(json!({"x509_props": {"subject": "CN=a"}})).unwrap();
        assert_eq!(p.key_props.spec(), KeySpec::Rsa(2048));
        assert!(p.key_props.exportable && !p.key_props.reuse_key);
        assert_eq!(p.secret_props.content_type, PKCS12);
        assert_eq!(p.x509_props.validity_months, 12);
        assert_eq!(p.x509_props.ekus, [EKU_SERVER_AUTH, EKU_CLIENT_AUTH]);
        assert_eq!(
            p.x509_props.key_usage,
            ["digitalSignature", "keyEncipherment"]
        );
        assert_eq!(p.issuer.name, "Self");
        assert_eq!(p.lifetime_actions[0].trigger.lifetime_percentage, Some(80));
        let ec = policy(
            json!({"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=a"},
            "issuer": {"name": "self"}}),
        )
        .unwrap();
        assert_eq!(ec.key_props.spec(), KeySpec::Ec(Curve::P256));
        assert_eq!(ec.key_props.key_size, Some(256));
        assert_eq!(ec.issuer.name, "Self");
    }

    #[test]
    fn invalid_policies_are_refused_with_what_is_wrong() {
        let subject = json!({"subject": "CN=a"});
        for (p, needle) in [
            (
                json!({"key_props": {"key_size": 1024}, "x509_props": subject}),
                "key_size 1024",
            ),
            (
                json!({"key_props": {"kty": "oct"}, "x509_props": subject}),
                "kty 'oct'",
            ),
            (
                json!({"key_props": {"kty": "RSA-HSM"}, "x509_props": subject}),
                "hardware",
            ),
            (
                json!({"key_props": {"kty": "EC", "crv": "P-256K"}, "x509_props": subject}),
                "P-256K",
            ),
            (
                json!({"key_props": {"kty": "EC", "crv": "P-384", "key_size": 256}, "x509_props": subject}),
                "does not match",
            ),
            (
                json!({"key_props": {"exportable": false}, "x509_props": subject}),
                "non-exportable",
            ),
            (
                json!({"x509_props": {"subject": "CN=a", "validity_months": 0}}),
                "validity_months 0",
            ),
            (
                json!({"x509_props": {"subject": "CN=a", "key_usage": ["sign"]}}),
                "'sign'",
            ),
            (
                json!({"x509_props": {"subject": "CN=a", "ekus": ["serverAuth"]}}),
                "'serverAuth'",
            ),
            (json!({"x509_props": {}}), "subject or subject alternative"),
            (
                json!({"x509_props": {"subject": "nonsense"}}),
                "x509_props.subject",
            ),
            (
                json!({"x509_props": {"subject": "XX=a"}}),
                "x509_props.subject",
            ),
            (
                json!({"x509_props": subject, "secret_props": {"contentType": "text/plain"}}),
                "text/plain",
            ),
            (
                json!({"x509_props": subject, "issuer": {"name": "DigiCert"}}),
                "DigiCert",
            ),
            (
                json!({"x509_props": subject, "lifetime_actions": [{"trigger": {"lifetime_percentage": 100},
                "action": {"action_type": "AutoRenew"}}]}),
                "trigger",
            ),
        ] {
            let e = policy(p.clone()).expect_err(&p.to_string()).to_string();
            assert!(e.contains(needle), "{p}: {e}");
        }
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let p = policy(json!({"key_props": {"kty": "EC", "crv": "P-384"},
            "x509_props": {"subject": "CN=a", "sans": {"dns_names": ["a.example"]}}}))
        .unwrap();
        let q = p
            .update(
                serde_json::from_value(json!({"x509_props": {"validity_months": 3},
            "secret_props": {"contentType": PEM}}))
                .unwrap(),
            )
            .unwrap();
        assert_eq!(q.key_props, p.key_props);
        assert_eq!(q.x509_props.sans.dns_names, ["a.example"]);
        assert_eq!(
            (
                q.x509_props.validity_months,
                q.secret_props.content_type.as_str()
            ),
            (3, PEM)
        );
    }

    #[test]
    fn unknown_issuers_are_stored_but_not_issued() {
        let p = policy(json!({"x509_props": {"subject": "CN=a"}, "issuer": {"name": "Unknown"}}))
            .unwrap();
        assert!(matches!(
            issue_self_signed(&p, None, 0),
            Err(CertificateError::Issuer(_))
        ));
    }

    #[test]
    fn months_are_calendar_months() {
        let jan31 = 1_706_659_200; // 2024-01-31T00:00:00Z
        assert_eq!(
            add_months(jan31, 1).unwrap().unix_timestamp(),
            1_709_164_800
        ); // 02-29
        assert_eq!(
            add_months(jan31, 12).unwrap().unix_timestamp(),
            1_738_281_600
        ); // 2025-01-31
    }

    const NOW: i64 = 1_750_000_000;

    #[test]
    fn self_signed_certificates_carry_the_policy() {
        for (kp, spec) in [
            (json!({"kty": "RSA", "key_size": 3072}), KeySpec::Rsa(3072)),
            (
                json!({"kty": "EC", "crv": "P-256"}),
                KeySpec::Ec(Curve::P256),
            ),
            (
                json!({"kty": "EC", "crv": "P-384"}),
                KeySpec::Ec(Curve::P384),
            ),
            (
                json!({"kty": "EC", "crv": "P-521"}),
                KeySpec::Ec(Curve::P521),
            ),
        ] {
            let p = policy(
                json!({"key_props": kp, "x509_props": {"subject": "CN=web, O=\"Contoso, Ltd\"",
                "sans": {"dns_names": ["a.example", "b.example"], "emails": ["x@example.com"],
                "upns": ["u@example.com"]}, "validity_months": 2}}),
            )
            .unwrap();
            let m = issue_self_signed(&p, None, NOW).unwrap();
            let f = facts(&m.der).unwrap();
            assert_eq!(f.spec, spec);
            assert_eq!(f.subject, "CN=web, O=Contoso, Ltd");
            assert_eq!(f.sans.dns_names, ["a.example", "b.example"]);
            assert_eq!(f.sans.emails, ["x@example.com"]);
            assert_eq!(f.not_before, NOW);
            assert!((59..=62).contains(&((f.not_after - NOW) / 86_400)));
            assert_eq!(thumbprint(&m.der).len(), 27);
        }
    }

    #[test]
    fn a_reused_key_is_kept_only_when_the_policy_says_so() {
        let mut p =
            policy(json!({"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=a"}})).unwrap();
        let first = issue_self_signed(&p, None, NOW).unwrap();
        let fresh = issue_self_signed(&p, Some(&first), NOW).unwrap();
        assert_ne!(*fresh.pkcs8, *first.pkcs8);
        p.key_props.reuse_key = true;
        let reused = issue_self_signed(&p, Some(&first), NOW).unwrap();
        assert_eq!(*reused.pkcs8, *first.pkcs8);
        assert_ne!(reused.der, first.der);
    }

    #[test]
    fn secret_values_import_back_to_the_same_key_and_certificate() {
        let p = policy(json!({"x509_props": {"subject": "CN=a"}})).unwrap();
        let m = issue_self_signed(&p, None, NOW).unwrap();
        let pem = secret_value(PEM, &m).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = import(&pem, None).unwrap();
        assert_eq!(
            (back.content_type, &back.material.der, &*back.material.pkcs8),
            (PEM, &m.der, &*m.pkcs8)
        );
        let pfx = secret_value(PKCS12, &m).unwrap();
        let back = import(&pfx, None).unwrap();
        assert_eq!(
            (back.content_type, &back.material.der, &*back.material.pkcs8),
            (PKCS12, &m.der, &*m.pkcs8)
        );
        let b64_pem = base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());
        assert_eq!(import(&b64_pem, None).unwrap().material.der, m.der);
    }

    #[test]
    fn imports_that_do_not_hold_together_are_refused() {
        let p =
            policy(json!({"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=a"}})).unwrap();
        let a = issue_self_signed(&p, None, NOW).unwrap();
        let b = issue_self_signed(&p, None, NOW).unwrap();
        let crossed = pem_block("PRIVATE KEY", &b.pkcs8) + &pem_block("CERTIFICATE", &a.der);
        assert!(matches!(
            import(&crossed, None),
            Err(CertificateError::KeyMismatch)
        ));
        let only_cert = pem_block("CERTIFICATE", &a.der);
        assert!(refusal(import(&only_cert, None)).contains("no private key"));
        assert!(refusal(import("!!!", None)).contains("neither PEM nor base64"));
        let pfx = secret_value(PKCS12, &a).unwrap();
        assert!(refusal(import(&pfx, Some("wrong"))).contains("password"));
    }

    #[test]
    fn an_imported_certificates_policy_describes_it() {
        let p = policy(json!({"key_props": {"kty": "EC", "crv": "P-384"},
            "x509_props": {"subject": "CN=imp", "sans": {"dns_names": ["i.example"]}}}))
        .unwrap();
        let m = issue_self_signed(&p, None, NOW).unwrap();
        let f = facts(&m.der).unwrap();
        let got = imported_policy(None, &f, PEM).unwrap();
        assert_eq!(got.key_props.spec(), KeySpec::Ec(Curve::P384));
        assert_eq!(got.x509_props.subject, "CN=imp");
        assert_eq!(got.x509_props.sans.dns_names, ["i.example"]);
        assert_eq!(got.secret_props.content_type, PEM);
        assert_eq!(got.issuer.name, "Unknown");
    }
}
