-- Key vaults and their secrets. Vault names are global (name_key alone is the key); a
-- soft-deleted vault or secret keeps its row, with deleted_at set, until it is purged.
-- settings is the JSON of wid_core::model::VaultSettings. Secret values are sealed with the
-- vault's data key, itself sealed with the key-encryption key. A version's sequence orders
-- the versions of a secret (the newest is the current value).
CREATE TABLE vaults (
    name_key           TEXT NOT NULL PRIMARY KEY,
    name               TEXT NOT NULL,
    subscription_key   TEXT NOT NULL,
    group_key          TEXT NOT NULL,
    subscription_id    TEXT NOT NULL,
    resource_group     TEXT NOT NULL,
    location           TEXT NOT NULL,
    tags               TEXT NOT NULL,
    tenant_id          TEXT NOT NULL,
    settings           TEXT NOT NULL,
    sealed_data_key    BLOB NOT NULL,
    deleted_at         INTEGER,
    scheduled_purge_at INTEGER,
    created_by         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    modified_by        TEXT NOT NULL,
    modified_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX vaults_by_group ON vaults (subscription_key, group_key);

CREATE TABLE secrets (
    vault_key          TEXT NOT NULL REFERENCES vaults (name_key) ON DELETE CASCADE,
    name_key           TEXT NOT NULL,
    name               TEXT NOT NULL,
    deleted_at         INTEGER,
    scheduled_purge_at INTEGER,
    PRIMARY KEY (vault_key, name_key)
) STRICT;

CREATE TABLE secret_versions (
    vault_key    TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    version      TEXT NOT NULL,
    sequence     INTEGER NOT NULL,
    sealed_value BLOB NOT NULL,
    content_type TEXT,
    tags         TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    nbf          INTEGER,
    exp          INTEGER,
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    PRIMARY KEY (vault_key, name_key, version),
    FOREIGN KEY (vault_key, name_key) REFERENCES secrets (vault_key, name_key) ON DELETE CASCADE
) STRICT;
