//! When a tenant's token-signing keys are added, start signing and are retired. Relying
//! parties cache the published keys, so a new key is published for a while before it signs,
//! and a superseded key stays published until every token it signed has expired.

use crate::token::MANAGED_IDENTITY_TOKEN_LIFETIME;

/// Seconds throughout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// A new key is added once the newest key is this old.
    pub period: i64,
    /// How long a new key is published before it signs. Every replica must have loaded it by
    /// then, so it must exceed the change-propagation bound.
    pub activation: i64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            period: 30 * 86_400,
            activation: 86_400,
        }
    }
}

/// A superseded key stays published this long after its successor starts signing: the
/// longest token lifetime plus the clock skew verifiers allow.
pub const RETAIN_AFTER_SUPERSEDED: i64 = MANAGED_IDENTITY_TOKEN_LIFETIME + 1 + 300;

/// Which of the keys (creation times, oldest first) signs at `now`: the newest one whose
/// activation delay has passed, or the oldest when none has (a fresh installation signs at
/// once with its first key).
pub fn signer(created: &[i64], now: i64, activation: i64) -> Option<usize> {
    if created.is_empty() {
        return None;
    }
    Some(
        created
            .iter()
            .rposition(|&at| at + activation <= now)
            .unwrap_or(0),
    )
}

/// What the rotation job should do at `now`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationPlan {
    pub add_key: bool,
    /// Indexes of keys to remove from the published set.
    pub retire: Vec<usize>,
}

/// `created`: the creation times of the published keys, oldest first.
pub fn plan(created: &[i64], now: i64, policy: &RotationPolicy) -> RotationPlan {
    let Some(&newest) = created.last() else {
        return RotationPlan {
            add_key: true,
            retire: Vec::new(),
        };
    };
    let signing = signer(created, now, policy.activation).unwrap_or(0);
    // Key i was superseded when key i+1 started signing; only keys older than the signer
    // can have been.
    let retire = (0..signing)
        .filter(|&i| created[i + 1] + policy.activation + RETAIN_AFTER_SUPERSEDED <= now)
        .collect();
    RotationPlan {
        add_key: now - newest >= policy.period,
        retire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RotationPolicy = RotationPolicy {
        period: 1000,
        activation: 100,
    };

    #[test]
    fn the_first_key_signs_at_once() {
        assert_eq!(signer(&[50], 50, 100), Some(0));
        assert_eq!(signer(&[], 50, 100), None);
    }

    #[test]
    fn a_new_key_signs_only_after_its_activation_delay() {
        let keys = [0, 1000];
        assert_eq!(signer(&keys, 1099, 100), Some(0));
        assert_eq!(signer(&keys, 1100, 100), Some(1));
    }

    #[test]
    fn a_key_is_added_once_the_newest_is_a_period_old() {
        assert!(!plan(&[0], 999, &POLICY).add_key);
        assert!(plan(&[0], 1000, &POLICY).add_key);
        assert!(plan(&[], 0, &POLICY).add_key);
        // A pending key counts as the newest: no second key while one waits to sign.
        assert!(!plan(&[0, 1000], 1050, &POLICY).add_key);
    }

    #[test]
    fn superseded_keys_are_retired_after_the_tokens_they_signed_expire() {
        let keys = [0, 1000];
        let superseded_at = 1000 + 100;
        assert!(
            plan(&keys, superseded_at + RETAIN_AFTER_SUPERSEDED - 1, &POLICY)
                .retire
                .is_empty()
        );
        assert_eq!(
            plan(&keys, superseded_at + RETAIN_AFTER_SUPERSEDED, &POLICY).retire,
            vec![0]
        );
        // The signer itself is never retired, however old.
        assert!(plan(&[0], 10_000_000, &POLICY).retire.is_empty());
    }
}
