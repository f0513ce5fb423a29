-- Clusters and the keys of the OIDC issuers wid hosts for them. Flags are 0/1 integers on
-- both backends so that the shared queries bind and read them the same way.
CREATE TABLE clusters (
    subscription_key          TEXT NOT NULL,
    group_key                 TEXT NOT NULL,
    name_key                  TEXT NOT NULL,
    subscription_id           TEXT NOT NULL,
    name                      TEXT NOT NULL,
    location                  TEXT NOT NULL,
    tags                      TEXT NOT NULL,
    tenant_id                 TEXT NOT NULL,
    issuer_id                 TEXT NOT NULL UNIQUE,
    oidc_issuer_enabled       INTEGER NOT NULL,
    workload_identity_enabled INTEGER NOT NULL,
    created_by                TEXT NOT NULL,
    created_at                INTEGER NOT NULL,
    modified_by               TEXT NOT NULL,
    modified_at               INTEGER NOT NULL,
    PRIMARY KEY (subscription_key, group_key, name_key),
    FOREIGN KEY (subscription_key, group_key)
        REFERENCES resource_groups (subscription_key, name_key) ON DELETE CASCADE
) STRICT;

-- seq records insertion order, which breaks ties between keys created in the same second.
CREATE TABLE cluster_issuer_keys (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    issuer_id          TEXT NOT NULL REFERENCES clusters (issuer_id) ON DELETE CASCADE,
    kid                TEXT NOT NULL,
    alg                TEXT NOT NULL,
    public_spki_der    BLOB NOT NULL,
    sealed_private_key BLOB,
    signing            INTEGER NOT NULL,
    exported_at        INTEGER,
    created_at         INTEGER NOT NULL,
    UNIQUE (issuer_id, kid)
) STRICT;
