//! Recording the sign-in log (`wid_core::sign_in`) off the token endpoint's hot path: a
//! request hands its record to a bounded queue and returns; one writer task per replica
//! stores what has queued up in one transaction, so under load many records share a write.
//! When the queue is full (the database cannot keep up) records are dropped and counted
//! (`wid_sign_ins_dropped_total`) rather than slowing every exchange down.

use crate::state::AppState;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wid_core::federation::MatchError;
use wid_core::sign_in::{CredentialKind, FederatedOutcome, Retention, SignIn, SignInKind};
use wid_store::Store;

/// Records waiting for the writer at most; beyond, new ones are dropped.
pub const QUEUE: usize = 16 * 1024;
/// Records stored in one transaction at most.
const BATCH: usize = 512;
/// A full queue is reported at most this often.
const WARN_EVERY_SECS: i64 = 60;

/// How the sign-in log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLogConfig {
    pub enabled: bool,
    pub retention: Retention,
}

impl Default for SignInLogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            retention: Retention::default(),
        }
    }
}

/// The request side of the log: cheap to clone, never waits.
#[derive(Clone)]
pub struct SignInLog {
    queue: Option<mpsc::Sender<SignIn>>,
    last_warned: Arc<AtomicI64>,
}

impl SignInLog {
    /// A log that records nothing (`--sign-in-log off`).
    pub fn disabled() -> Self {
        Self {
            queue: None,
            last_warned: Arc::default(),
        }
    }

    /// The log and its writer, which runs until every clone of the log is dropped and the
    /// queue is drained.
    pub fn start(store: Store, metrics: Arc<crate::metrics::Metrics>) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write(store, rx, metrics));
        (
            Self {
                queue: Some(tx),
                last_warned: Arc::default(),
            },
            writer,
        )
    }

    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `record`; `false` when it was dropped because the queue is full.
    pub fn record(&self, record: SignIn, metrics: &crate::metrics::Metrics, now: i64) -> bool {
        let Some(queue) = &self.queue else {
            return true;
        };
        match queue.try_send(record) {
            Ok(()) => true,
            Err(_) => {
                metrics.sign_ins_dropped(1);
                let last = self.last_warned.load(Ordering::Relaxed);
                if now - last >= WARN_EVERY_SECS
                    && self
                        .last_warned
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::warn!(
                        queue = QUEUE,
                        "the sign-in log cannot keep up with token requests; records are being dropped"
                    );
                }
                false
            }
        }
    }
}

async fn write(
    store: Store,
    mut rx: mpsc::Receiver<SignIn>,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        match store.insert_sign_ins(&batch).await {
            Ok(()) => metrics.sign_ins_written(batch.len() as u64),
            Err(e) => {
                metrics.sign_ins_dropped(batch.len() as u64);
                tracing::warn!(error = %e, records = batch.len(), "storing sign-in records failed; they are lost");
                // A database that refuses writes is not hammered by the next batch at once.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        batch.clear();
    }
}

/// Prunes records past `retention`; run by the replica holding the job's lease.
pub async fn prune(state: &AppState, now: i64) -> Result<u64, wid_store::StoreError> {
    let retention = state.config.sign_in_log.retention;
    state
        .store
        .prune_sign_ins(retention.cutoff_ms(now), retention.max_entries)
        .await
}

/// What a token request revealed about itself, filled in as the request is handled, so the
/// record says how far it got (which client, which principal, which credential).
#[derive(Debug, Clone)]
pub struct Attempt {
    record: SignIn,
}

/// Who served the request: the host's name and the process id, which tell replicas apart
/// in a deployment (pods have their own host names).
pub fn replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!("{host}/{}", std::process::id())
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
                id: wid_core::ids::random_uuid().to_string(),
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
