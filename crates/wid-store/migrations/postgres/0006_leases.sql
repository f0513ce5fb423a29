-- Leases pick the one replica that runs a periodic job (purging what soft delete has kept
-- past its date): a holder keeps the lease by renewing it before it expires; anyone may
-- take an expired one.
CREATE TABLE leases (
    name       TEXT NOT NULL PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX secrets_by_purge_date ON secrets (scheduled_purge_at);
CREATE INDEX vaults_by_purge_date ON vaults (scheduled_purge_at);
