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
    check_against_pairs(
        existing
            .iter()
            .map(|c| (c.issuer.as_str(), c.subject.as_str())),
        issuer,
        subject,
    )
}

/// The same rules over the (issuer, subject) pairs of the other credentials: an
/// application's credentials follow them as an identity's do.
pub fn check_against_pairs<'a>(
    existing: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    issuer: &str,
    subject: &str,
) -> Result<(), CredentialError> {
    let count = existing.len();
    for (i, s) in existing {
        if i == issuer && s == subject {
            return Err(CredentialError::DuplicateIssuerSubject);
        }
    }
    if count >= MAX_CREDENTIALS_PER_IDENTITY {
        return Err(CredentialError::TooMany);
    }
    Ok(())
}

/// Why no credential of an identity matches a presented assertion. Entra's answer names
/// only the presented value; these also carry the closest credential, so the error can say
/// which field of which credential differs (the answer to most support questions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchError {
    /// The identity has no federated credentials at all.
    NoCredentials,
    /// No credential has the token's `iss` (AADSTS700211).
    Issuer {
        presented: String,
        closest: Option<Hint>,
    },
    /// Credentials with this issuer exist, none with an audience in the token's `aud` (AADSTS700212).
    Audience {
        presented: Vec<String>,
        closest: Option<Hint>,
    },
    /// Issuer and audience match, the subject does not (AADSTS700213).
    Subject {
        presented: String,
        closest: Option<Hint>,
    },
    /// The subject matches a credential only when case is ignored (AADSTS7002138).
    SubjectCase { presented: String, closest: Hint },
}

/// The credential that came closest to matching, and how its value differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub credential: String,
    pub expected: String,
    pub difference: &'static str,
}

impl Hint {
    /// One sentence for the error description.
    pub fn sentence(&self, field: &str) -> String {
        format!(
            " Closest federated identity credential: '{}', whose {field} is '{}' ({}).",
            self.credential, self.expected, self.difference
        )
    }
}

/// Finds the credential that an assertion with these claims matches: issuer, then audience,
/// then subject, each exact and case-sensitive, in the order Entra reports failures.
pub fn match_assertion<'a>(
    credentials: &'a [FederatedCredential],
    issuer: &str,
    subject: &str,
    audiences: &[String],
) -> Result<&'a FederatedCredential, MatchError> {
    if credentials.is_empty() {
        return Err(MatchError::NoCredentials);
    }
    let by_issuer: Vec<_> = credentials.iter().filter(|c| c.issuer == issuer).collect();
    if by_issuer.is_empty() {
        return Err(MatchError::Issuer {
            presented: issuer.to_owned(),
            closest: closest(credentials.iter(), |c| &c.issuer, issuer),
        });
    }
    let by_audience: Vec<_> = by_issuer
        .iter()
        .copied()
        .filter(|c| c.audiences.iter().any(|a| audiences.contains(a)))
        .collect();
    if by_audience.is_empty() {
        let presented = audiences.first().map(String::as_str).unwrap_or("");
        return Err(MatchError::Audience {
            presented: audiences.to_vec(),
            closest: closest(
                by_issuer.iter().copied(),
                |c| c.audiences.first().map(String::as_str).unwrap_or(""),
                presented,
            ),
        });
    }
    if let Some(found) = by_audience.iter().find(|c| c.subject == subject) {
        return Ok(found);
    }
    if let Some(c) = by_audience
        .iter()
        .find(|c| c.subject.eq_ignore_ascii_case(subject))
    {
        return Err(MatchError::SubjectCase {
            presented: subject.to_owned(),
            closest: Hint {
                credential: c.name.clone(),
                expected: c.subject.clone(),
                difference: "it differs only in upper and lower case",
            },
        });
    }
    Err(MatchError::Subject {
        presented: subject.to_owned(),
        // Issuer and audience matched, so these credentials belong to this cluster: name the
        // nearest even when it is not a near miss.
        closest: closest(by_audience.iter().copied(), |c| &c.subject, subject).or_else(|| {
            by_audience.first().map(|c| Hint {
                credential: c.name.clone(),
                expected: c.subject.clone(),
                difference: "a different service account or namespace",
            })
        }),
    })
}

/// The credential whose value is nearest the presented one, if any is near enough to be a
/// likely typo rather than an unrelated credential.
fn closest<'a>(
    candidates: impl Iterator<Item = &'a FederatedCredential>,
    value: impl Fn(&'a FederatedCredential) -> &'a str,
    presented: &str,
) -> Option<Hint> {
    candidates
        .map(|c| (c, value(c)))
        .filter_map(|(c, expected)| {
            let (rank, difference) = difference(expected, presented)?;
            Some((rank, c, expected, difference))
        })
        .min_by_key(|(rank, ..)| *rank)
        .map(|(_, c, expected, difference)| Hint {
            credential: c.name.clone(),
            expected: expected.to_owned(),
            difference,
        })
}

/// How an expected value differs from the presented one, ranked (lower is closer).
fn difference(expected: &str, presented: &str) -> Option<(usize, &'static str)> {
    if expected.trim_end_matches('/') == presented.trim_end_matches('/') {
        return Some((
            0,
            if presented.ends_with('/') {
                "the token's value ends with a slash, the credential's does not"
            } else {
                "the credential's value ends with a slash, the token's does not"
            },
        ));
    }
    if expected.eq_ignore_ascii_case(presented) {
        return Some((1, "it differs only in upper and lower case"));
    }
    if expected.trim() == presented.trim() {
        return Some((1, "it differs only in leading or trailing spaces"));
    }
    let distance = edit_distance(expected, presented);
    let near = (expected.chars().count().max(presented.chars().count()) / 4).max(2);
    (distance <= near).then_some((2 + distance, "it differs by a few characters"))
}

/// Levenshtein distance; values are at most 600 characters, so the quadratic cost is bounded.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
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

    #[test]
    fn matching_reports_the_first_failing_field_and_the_closest_credential() {
        let iss = "https://h/t/c/";
        let creds = vec![
            fic(0, iss, "system:serviceaccount:ns:sa"),
            fic(1, "https://other/", "system:serviceaccount:x:y"),
        ];
        let aud = aud();
        assert_eq!(
            match_assertion(&creds, iss, "system:serviceaccount:ns:sa", &aud)
                .unwrap()
                .name,
            "fic0"
        );
        match match_assertion(&creds, "https://h/t/c", "system:serviceaccount:ns:sa", &aud) {
            Err(MatchError::Issuer {
                closest: Some(h), ..
            }) => {
                assert_eq!(h.credential, "fic0");
                assert!(h.difference.contains("slash"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            match_assertion(&creds, "https://unrelated.example/abc", "s", &aud),
            Err(MatchError::Issuer { closest: None, .. })
        ));
        assert!(matches!(
            match_assertion(
                &creds,
                iss,
                "system:serviceaccount:ns:sa",
                &["api://other".into()]
            ),
            Err(MatchError::Audience { .. })
        ));
        match match_assertion(&creds, iss, "system:serviceaccount:NS:sa", &aud) {
            Err(MatchError::SubjectCase { closest, .. }) => assert_eq!(closest.credential, "fic0"),
            other => panic!("{other:?}"),
        }
        match match_assertion(&creds, iss, "system:serviceaccount:ns:sb", &aud) {
            Err(MatchError::Subject {
                closest: Some(h), ..
            }) => {
                assert_eq!(h.expected, "system:serviceaccount:ns:sa")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            match_assertion(&[], iss, "s", &aud),
            Err(MatchError::NoCredentials)
        );
    }
}
