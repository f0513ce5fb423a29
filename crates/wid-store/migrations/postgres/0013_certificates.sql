-- Certificates of key vaults. A certificate's policy (JSON of
-- wid_core::vault_certificate::Policy) belongs to the certificate; each version holds its
-- DER certificate, public and therefore in the clear. The private key is never here: it is
-- the value of the backing secret of the same name and version, sealed like every secret.
-- certificate_operations holds the last create operation of each certificate, with the
-- attributes and tags its version takes when it is issued.
CREATE TABLE certificates (
    vault_key          TEXT NOT NULL REFERENCES vaults (name_key) ON DELETE CASCADE,
    name_key           TEXT NOT NULL,
    name               TEXT NOT NULL,
    policy             TEXT NOT NULL,
    policy_created     BIGINT NOT NULL,
    policy_updated     BIGINT NOT NULL,
    deleted_at         BIGINT,
    scheduled_purge_at BIGINT,
    PRIMARY KEY (vault_key, name_key)
);

CREATE TABLE certificate_versions (
    vault_key TEXT NOT NULL,
    name_key  TEXT NOT NULL,
    version   TEXT NOT NULL,
    sequence  BIGINT NOT NULL,
    der       BYTEA NOT NULL,
    x5t       TEXT NOT NULL,
    tags      TEXT NOT NULL,
    enabled   BIGINT NOT NULL,
    nbf       BIGINT,
    exp       BIGINT,
    created   BIGINT NOT NULL,
    updated   BIGINT NOT NULL,
    PRIMARY KEY (vault_key, name_key, version),
    FOREIGN KEY (vault_key, name_key) REFERENCES certificates (vault_key, name_key) ON DELETE CASCADE
);

CREATE TABLE certificate_operations (
    vault_key              TEXT NOT NULL,
    name_key               TEXT NOT NULL,
    request_id             TEXT NOT NULL,
    status                 TEXT NOT NULL,
    status_details         TEXT,
    error                  TEXT,
    csr                    BYTEA,
    cancellation_requested BIGINT NOT NULL,
    enabled                BIGINT NOT NULL,
    tags                   TEXT NOT NULL,
    PRIMARY KEY (vault_key, name_key),
    FOREIGN KEY (vault_key, name_key) REFERENCES certificates (vault_key, name_key) ON DELETE CASCADE
);

-- A secret version that backs a certificate is managed: written, updated and deleted with
-- the certificate only.
ALTER TABLE secret_versions ADD COLUMN managed BIGINT NOT NULL DEFAULT 0;
