-- The first schema. `*_key` columns hold the lower-cased form of a case-insensitive ARM name
-- or GUID, next to the original spelling that is shown back to users. STRICT makes SQLite
-- refuse values of the wrong type instead of storing them anyway.

CREATE TABLE installation_settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE tenants (
    id_key         TEXT NOT NULL PRIMARY KEY,
    id             TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    default_domain TEXT NOT NULL
) STRICT;

CREATE TABLE subscriptions (
    id_key       TEXT NOT NULL PRIMARY KEY,
    id           TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL
) STRICT;

CREATE TABLE service_principals (
    object_id_key TEXT NOT NULL PRIMARY KEY,
    object_id     TEXT NOT NULL,
    tenant_key    TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    app_id_key    TEXT NOT NULL,
    app_id        TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    secret_hash   BLOB NOT NULL,
    UNIQUE (tenant_key, app_id_key)
) STRICT;

-- seq records insertion order, which breaks ties between keys created in the same second.
CREATE TABLE signing_keys (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    kid                TEXT NOT NULL UNIQUE,
    tenant_key         TEXT NOT NULL,
    tenant_id          TEXT NOT NULL,
    alg                TEXT NOT NULL,
    public_spki_der    BLOB NOT NULL,
    sealed_private_key BLOB NOT NULL,
    created_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX signing_keys_by_tenant ON signing_keys (tenant_key, created_at, seq);

CREATE TABLE resource_groups (
    subscription_key TEXT NOT NULL,
    name_key         TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    name             TEXT NOT NULL,
    location         TEXT NOT NULL,
    tags             TEXT NOT NULL,
    managed_by       TEXT,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    modified_by      TEXT NOT NULL,
    modified_at      INTEGER NOT NULL,
    PRIMARY KEY (subscription_key, name_key)
) STRICT;

-- lock_version exists to be bumped: writers that check the identity's credentials before
-- inserting one first update this row, which serializes them on PostgreSQL.
CREATE TABLE managed_identities (
    subscription_key TEXT NOT NULL,
    group_key        TEXT NOT NULL,
    name_key         TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    name             TEXT NOT NULL,
    location         TEXT NOT NULL,
    tags             TEXT NOT NULL,
    tenant_id        TEXT NOT NULL,
    client_id_key    TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    principal_id_key TEXT NOT NULL UNIQUE,
    principal_id     TEXT NOT NULL,
    isolation_scope  TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    modified_by      TEXT NOT NULL,
    modified_at      INTEGER NOT NULL,
    lock_version     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subscription_key, group_key, name_key),
    FOREIGN KEY (subscription_key, group_key)
        REFERENCES resource_groups (subscription_key, name_key) ON DELETE CASCADE
) STRICT;

CREATE TABLE federated_credentials (
    subscription_key TEXT NOT NULL,
    group_key        TEXT NOT NULL,
    identity_key     TEXT NOT NULL,
    name_key         TEXT NOT NULL,
    name             TEXT NOT NULL,
    issuer           TEXT NOT NULL,
    subject          TEXT NOT NULL,
    audiences        TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    modified_by      TEXT NOT NULL,
    modified_at      INTEGER NOT NULL,
    PRIMARY KEY (subscription_key, group_key, identity_key, name_key),
    FOREIGN KEY (subscription_key, group_key, identity_key)
        REFERENCES managed_identities (subscription_key, group_key, name_key) ON DELETE CASCADE
) STRICT;
