//! Change generations: how replicas that cache what the hot paths read learn that another
//! replica changed it. Every write to cached data bumps its topic's counter in the write's own
//! transaction, so a committed change and its bump cannot be separated by a crash; replicas
//! poll the counters (one small query) and drop what they cached of a topic that moved.

use crate::db::WriteTx;
use crate::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;

/// A kind of cached data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Managed identities and their federated credentials (the exchange's lookups).
    Credentials,
    RoleAssignments,
    /// Vaults, their access policies and soft-delete state.
    Vaults,
    /// Cluster OIDC issuers and their keys.
    IssuerKeys,
    /// Tenants' token-signing keys.
    SigningKeys,
    /// Vaults' keys and their versions (what the crypto operations read).
    VaultKeys,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Credentials,
        Topic::RoleAssignments,
        Topic::Vaults,
        Topic::IssuerKeys,
        Topic::SigningKeys,
        Topic::VaultKeys,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Credentials => "credentials",
            Topic::RoleAssignments => "role-assignments",
            Topic::Vaults => "vaults",
            Topic::IssuerKeys => "issuer-keys",
            Topic::SigningKeys => "signing-keys",
            Topic::VaultKeys => "vault-keys",
        }
    }

    fn parse(s: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl Store {
    /// The current generation of every topic written at least once.
    pub async fn change_generations(&self) -> Result<HashMap<Topic, i64>, StoreError> {
        let rows = sqlx::query("SELECT topic, generation FROM change_generations")
            .fetch_all(self.pool())
            .await?;
        let mut generations = HashMap::new();
        for row in rows {
            let topic: String = row.try_get("topic")?;
            if let Some(topic) = Topic::parse(&topic) {
                generations.insert(topic, row.try_get::<i64, _>("generation")?);
            }
        }
        Ok(generations)
    }
}

impl WriteTx<'_> {
    /// Commits after bumping `topics`, so that replicas drop what they cached of them, and
    /// then tells this process's listener.
    pub(crate) async fn commit_changing(mut self, topics: &[Topic]) -> Result<(), StoreError> {
        for topic in topics {
            sqlx::query(
                "INSERT INTO change_generations (topic, generation) VALUES ($1, 1) \
                 ON CONFLICT (topic) DO UPDATE SET generation = change_generations.generation + 1",
            )
            .bind(topic.as_str())
            .execute(self.conn())
            .await?;
        }
        let store = self.store;
        self.commit().await?;
        store.announce(topics);
        Ok(())
    }
}
