//! Bounds on the activity logs (sign-ins, vault access): old records are pruned by age,
//! and by count beyond that, so a busy installation's database does not grow without end.

/// How long, and how many, records an activity log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_secs: i64,
    pub max_entries: u64,
}

impl Default for Retention {
    /// Entra keeps sign-in logs for 30 days; Key Vault's diagnostics go where they are sent,
    /// and wid keeps them as long.
    fn default() -> Self {
        Self {
            max_age_secs: 30 * 86_400,
            max_entries: 1_000_000,
        }
    }
}

impl Retention {
    /// Records created before this (Unix milliseconds) are pruned.
    pub fn cutoff_ms(&self, now: i64) -> i64 {
        now.saturating_sub(self.max_age_secs).saturating_mul(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_cuts_at_the_age_in_milliseconds() {
        let r = Retention {
            max_age_secs: 60,
            max_entries: 10,
        };
        assert_eq!(r.cutoff_ms(1_000), 940_000);
        assert_eq!(Retention::default().max_age_secs, 2_592_000);
    }
}
