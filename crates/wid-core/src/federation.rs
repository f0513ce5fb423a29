//! Entra's rules for federated identity credentials on a user-assigned identity
//! (contracts.md §2.1-2.2). Values are compared exactly and case-sensitively, because that is
//! how the token exchange matches them; a rule relaxed here would be a credential that can
//! never match, or worse, one that matches more than the user meant.

use crate::model::FederatedCredential;
use thiserror::Error;

/// Entra's limit on credentials per identity.
pub const MAX_CREDENTIALS_PER_IDENTITY: usize = 20;
/// Entra's limit on each of issuer, subject and audience.
pub const MAX_FIELD_LEN: usize = 600;
/// The audience Entra expects, and the default of `az identity federated-credential create`.
pub const DEFAULT_AUDIENCE: &str = "api://AzureADTokenExchange";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("Federated identity credentials must have exactly one audience.")]
    AudienceCount,
    #[error("The federated identity credential is missing the required property '{0}'.")]
    Missing(&'static str),
    #[error("The federated identity credential property '{field}' exceeds the maximum length of {max} characters.")]
    TooLong { field: &'static str, max: usize },
    #[error("The issuer '{0}' is invalid. The issuer must be an absolute https URL without query or fragment.")]
    IssuerNotHttps(String),
    #[error("Issuer and subject combination already exists for this Managed Identity.")]
    DuplicateIssuerSubject,
    #[error("Too many Federated Identity Credentials. A managed identity can have at most {MAX_CREDENTIALS_PER_IDENTITY} federated identity credentials.")]
    TooMany,
}

/// Checks a credential on its own: the rules that hold whatever else the identity has.
pub fn validate(issuer: &str, subject: &str, audiences: &[String]) -> Result<(), CredentialError> {
    for (field, value) in [("issuer", issuer), ("subject", subject)] {
        if value.is_empty() {
            return Err(CredentialError::Missing(field));
        }
        if value.chars().count() > MAX_FIELD_LEN {
            return Err(CredentialError::TooLong {
                field,
                max: MAX_FIELD_LEN,
            });
        }
    }
    if audiences.len() != 1 {
        return Err(CredentialError::AudienceCount);
    }
    if audiences[0].is_empty() {
        return Err(CredentialError::Missing("audiences"));
    }
    if audiences[0].chars().count() > MAX_FIELD_LEN {
        return Err(CredentialError::TooLong {
            field: "audiences",
            max: MAX_FIELD_LEN,
        });
    }
    if !is_https_issuer(issuer) {
        return Err(CredentialError::IssuerNotHttps(issuer.to_owned()));
    }
    Ok(())
}

/// An OIDC issuer must be fetchable over https (kube-apiserver and Entra both refuse
/// anything else), and carries no query or fragment.
fn is_https_issuer(issuer: &str) -> bool {
    let Some(rest) = issuer.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    !host.is_empty()
        && !issuer.contains(['?', '#'])
        && !issuer.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks a credential against the identity's other credentials. `existing` excludes the
/// credential being replaced, if this write replaces one.
pub fn check_against_existing(
    existing: &[FederatedCredential],
    issuer: &str,
    subject: &str,
) -> Result<(), CredentialError> {
    if existing
        .iter()
        .any(|c| c.issuer == issuer && c.subject == subject)
    {
        return Err(CredentialError::DuplicateIssuerSubject);
    }
    if existing.len() >= MAX_CREDENTIALS_PER_IDENTITY {
        return Err(CredentialError::TooMany);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Audit;

    fn aud() -> Vec<String> {
        vec![DEFAULT_AUDIENCE.to_owned()]
    }

    fn fic(i: usize, issuer: &str, subject: &str) -> FederatedCredential {
        FederatedCredential {
            name: format!("fic{i}"),
            issuer: issuer.into(),
            subject: subject.into(),
            audiences: aud(),
            audit: Audit {
                created_by: "x".into(),
                created_at: 0,
                modified_by: "x".into(),
                modified_at: 0,
            },
        }
    }

    #[test]
    fn single_credential_rules() {
        let iss = "https://localhost:8443/t/c/";
        assert_eq!(validate(iss, "system:serviceaccount:ns:sa", &aud()), Ok(()));
        assert_eq!(validate(iss, "s", &[]), Err(CredentialError::AudienceCount));
        assert_eq!(
            validate(iss, "s", &["a".into(), "b".into()]),
            Err(CredentialError::AudienceCount)
        );
        assert_eq!(
            validate("", "s", &aud()),
            Err(CredentialError::Missing("issuer"))
        );
        assert_eq!(
            validate(iss, "", &aud()),
            Err(CredentialError::Missing("subject"))
        );
        assert!(matches!(
            validate(iss, &"s".repeat(601), &aud()),
            Err(CredentialError::TooLong {
                field: "subject",
                ..
            })
        ));
        assert!(validate(iss, &"s".repeat(600), &aud()).is_ok());
        for bad in [
            "http://x/",
            "https:///x",
            "https://x/?a=b",
            "https://x/#f",
            "x",
            "https://x/ y",
        ] {
            assert!(
                matches!(
                    validate(bad, "s", &aud()),
                    Err(CredentialError::IssuerNotHttps(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn uniqueness_is_exact_and_case_sensitive() {
        let existing = vec![fic(0, "https://i/", "system:serviceaccount:ns:sa")];
        assert_eq!(
            check_against_existing(&existing, "https://i/", "system:serviceaccount:ns:sa"),
            Err(CredentialError::DuplicateIssuerSubject)
        );
        assert_eq!(
            check_against_existing(&existing, "https://i/", "system:serviceaccount:ns:SA"),
            Ok(())
        );
        assert_eq!(
            check_against_existing(&existing, "https://i", "system:serviceaccount:ns:sa"),
            Ok(())
        );
    }

    #[test]
    fn at_most_twenty() {
        let existing: Vec<_> = (0..20)
            .map(|i| fic(i, "https://i/", &format!("s{i}")))
            .collect();
        assert_eq!(
            check_against_existing(&existing, "https://i/", "s20"),
            Err(CredentialError::TooMany)
        );
        assert_eq!(
            check_against_existing(&existing[..19], "https://i/", "s20"),
            Ok(())
        );
    }
}
