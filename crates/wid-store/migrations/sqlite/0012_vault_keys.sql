-- Keys of key vaults, shaped like secrets: a soft-deleted key keeps its row, with deleted_at
-- set, until it is purged; a version's sequence orders the versions (the newest is current).
-- The public JWK is kept in the clear (it is public); the private key is PKCS#8 DER sealed
-- with the vault's data key and never stored otherwise. key_ops is a JSON array of Key
-- Vault operation names, rotation_policy the JSON of the key's rotation policy. managed
-- marks a key that backs a certificate.
CREATE TABLE keys (
    vault_key          TEXT NOT NULL REFERENCES vaults (name_key) ON DELETE CASCADE,
    name_key           TEXT NOT NULL,
    name               TEXT NOT NULL,
    deleted_at         INTEGER,
    scheduled_purge_at INTEGER,
    rotation_policy    TEXT,
    PRIMARY KEY (vault_key, name_key)
) STRICT;

CREATE TABLE key_versions (
    vault_key          TEXT NOT NULL,
    name_key           TEXT NOT NULL,
    version            TEXT NOT NULL,
    sequence           INTEGER NOT NULL,
    kty                TEXT NOT NULL,
    crv                TEXT,
    size               INTEGER,
    key_ops            TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    sealed_private_key BLOB NOT NULL,
    tags               TEXT NOT NULL,
    enabled            INTEGER NOT NULL,
    nbf                INTEGER,
    exp                INTEGER,
    created            INTEGER NOT NULL,
    updated            INTEGER NOT NULL,
    exportable         INTEGER NOT NULL,
    managed            INTEGER NOT NULL,
    PRIMARY KEY (vault_key, name_key, version),
    FOREIGN KEY (vault_key, name_key) REFERENCES keys (vault_key, name_key) ON DELETE CASCADE
) STRICT;
