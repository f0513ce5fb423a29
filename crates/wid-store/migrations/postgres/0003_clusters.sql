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
    oidc_issuer_enabled       BIGINT NOT NULL,
    workload_identity_enabled BIGINT NOT NULL,
    created_by                TEXT NOT NULL,
    created_at                BIGINT NOT NULL,
    modified_by               TEXT NOT NULL,
    modified_at               BIGINT NOT NULL,
    PRIMARY KEY (subscription_key, group_key, name_key),
    FOREIGN KEY (subscription_key, group_key)
        REFERENCES resource_groups (subscription_key, name_key) ON DELETE CASCADE
);

-- seq records insertion order, which breaks ties between keys created in the same second.
CREATE TABLE cluster_issuer_keys (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer_id          TEXT NOT NULL REFERENCES clusters (issuer_id) ON DELETE CASCADE,
    kid                TEXT NOT NULL,
    alg                TEXT NOT NULL,
    public_spki_der    BYTEA NOT NULL,
    sealed_private_key BYTEA,
    signing            BIGINT NOT NULL,
    exported_at        BIGINT,
    created_at         BIGINT NOT NULL,
    UNIQUE (issuer_id, kid)
);
