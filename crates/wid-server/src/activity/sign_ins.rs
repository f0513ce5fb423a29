//! The sign-in log's record of one token request, filled in as the request is handled.

use wid_core::federation::MatchError;
use wid_core::sign_in::{CredentialKind, FederatedOutcome, SignIn, SignInKind};

/// What a token request revealed about itself, filled in as the request is handled, so the
/// record says how far it got (which client, which principal, which credential).
#[derive(Debug, Clone)]
pub struct Attempt {
    record: SignIn,
}

impl Attempt {
    pub fn new(
        tenant_segment: &str,
        client_id: Option<&str>,
        ip_address: String,
        correlation_id: String,
        request_id: String,
        replica: &str,
    ) -> Self {
        Self {
            record: SignIn {
                id: String::new(),
                created_at_ms: 0,
                tenant_id: tenant_segment.to_lowercase(),
                app_id: client_id.unwrap_or("").to_lowercase(),
                app_display_name: None,
                principal_id: None,
                principal_name: None,
                user_principal_name: None,
                kind: SignInKind::ServicePrincipal,
                credential: CredentialKind::None,
                resource: None,
                error_code: 0,
                failure_reason: None,
                federated: None,
                assertion_issuer: None,
                assertion_subject: None,
                managed_identity_resource_id: None,
                ip_address,
                correlation_id,
                request_id,
                replica: replica.to_owned(),
            },
        }
    }

    pub fn tenant(&mut self, id: &str) {
        self.record.tenant_id = id.to_owned();
    }

    pub fn kind(&mut self, kind: SignInKind, credential: CredentialKind) {
        self.record.kind = kind;
        self.record.credential = credential;
    }

    pub fn resource(&mut self, resource: &str) {
        self.record.resource = Some(resource.to_owned());
    }

    pub fn managed_identity(&mut self, mi: &wid_core::model::ManagedIdentity) {
        self.record.kind = SignInKind::ManagedIdentity;
        self.record.principal_id = Some(mi.principal_id.clone());
        self.record.principal_name = Some(mi.name.clone());
        self.record.app_display_name = Some(mi.name.clone());
        self.record.managed_identity_resource_id = Some(wid_core::resource_id::identity(
            &mi.subscription_id,
            &mi.resource_group,
            &mi.name,
        ));
    }

    pub fn principal(&mut self, object_id: &str, display_name: &str) {
        self.record.principal_id = Some(object_id.to_owned());
        self.record.principal_name = Some(display_name.to_owned());
        self.record.app_display_name = Some(display_name.to_owned());
    }

    pub fn user(&mut self, object_id: &str, upn: &str) {
        self.record.principal_id = Some(object_id.to_owned());
        self.record.user_principal_name = Some(upn.to_owned());
    }

    pub fn app_display_name(&mut self, name: &str) {
        self.record.app_display_name = Some(name.to_owned());
    }

    /// The assertion's claims that say whose token it was; never the assertion.
    pub fn assertion(&mut self, issuer: &str, subject: &str) {
        self.record.assertion_issuer = Some(issuer.to_owned());
        self.record.assertion_subject = Some(subject.to_owned());
    }

    pub fn matched(&mut self, credential: &str) {
        self.record.federated = Some(FederatedOutcome::Matched {
            credential: credential.to_owned(),
        });
    }

    pub fn mismatch(&mut self, e: &MatchError) {
        let closest = |field: &str, hint: &Option<wid_core::federation::Hint>| {
            hint.as_ref().map(|h| FederatedOutcome::Closest {
                credential: h.credential.clone(),
                field: field.to_owned(),
                expected: h.expected.clone(),
                difference: h.difference.to_owned(),
            })
        };
        self.record.federated = match e {
            MatchError::NoCredentials => Some(FederatedOutcome::NoCredentials),
            MatchError::Issuer { closest: h, .. } => closest("issuer", h),
            MatchError::Audience { closest: h, .. } => closest("audience", h),
            MatchError::Subject { closest: h, .. } => closest("subject", h),
            MatchError::SubjectCase { closest: h, .. } => closest("subject", &Some(h.clone())),
        };
    }

    /// The finished record: granted (`refusal` is `None`) or refused with its AADSTS code
    /// and message.
    pub fn finish(mut self, now_ms: i64, refusal: Option<(u32, &str)>) -> SignIn {
        self.record.id = wid_core::ids::time_ordered_uuid(now_ms).to_string();
        self.record.created_at_ms = now_ms;
        if let Some((code, message)) = refusal {
            self.record.error_code = code;
            self.record.failure_reason = Some(message.to_owned());
        }
        self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wid_core::federation::Hint;

    fn attempt() -> Attempt {
        Attempt::new(
            "Contoso",
            Some("ABC"),
            "10.0.0.1".into(),
            "corr".into(),
            "req".into(),
            "host/1",
        )
    }

    #[test]
    fn mismatches_name_the_closest_credential_and_its_field() {
        let hint = Hint {
            credential: "kube".into(),
            expected: "system:serviceaccount:a:b".into(),
            difference: "a different service account or namespace",
        };
        let cases = [
            (
                MatchError::NoCredentials,
                Some(FederatedOutcome::NoCredentials),
            ),
            (
                MatchError::Issuer {
                    presented: "x".into(),
                    closest: None,
                },
                None,
            ),
            (
                MatchError::Subject {
                    presented: "x".into(),
                    closest: Some(hint.clone()),
                },
                Some(FederatedOutcome::Closest {
                    credential: "kube".into(),
                    field: "subject".into(),
                    expected: "system:serviceaccount:a:b".into(),
                    difference: "a different service account or namespace".into(),
                }),
            ),
            (
                MatchError::Audience {
                    presented: vec!["x".into()],
                    closest: Some(hint.clone()),
                },
                Some(FederatedOutcome::Closest {
                    credential: "kube".into(),
                    field: "audience".into(),
                    expected: "system:serviceaccount:a:b".into(),
                    difference: "a different service account or namespace".into(),
                }),
            ),
        ];
        for (error, want) in cases {
            let mut a = attempt();
            a.mismatch(&error);
            assert_eq!(
                a.finish(1, Some((700213, "no"))).federated,
                want,
                "{error:?}"
            );
        }
    }

    #[test]
    fn a_record_says_how_far_the_request_got() {
        let bare = attempt().finish(5, Some((700016, "AADSTS700016: not found")));
        assert_eq!(
            (
                bare.tenant_id.as_str(),
                bare.app_id.as_str(),
                bare.error_code,
                bare.principal_id.as_deref(),
                bare.created_at_ms
            ),
            ("contoso", "abc", 700016, None, 5)
        );
        let mut a = attempt();
        a.tenant("t-id");
        a.assertion("https://issuer/", "system:serviceaccount:default:w");
        a.matched("kube");
        let granted = a.finish(6, None);
        assert!(granted.succeeded());
        assert_eq!(granted.failure_reason, None);
        assert_eq!(granted.tenant_id, "t-id");
        assert_eq!(
            granted.federated.as_ref().and_then(|f| f.credential()),
            Some("kube")
        );
    }
}
