-- Application registrations, their client secrets and federated identity credentials, the
-- service principals that instantiate them in the tenant, and directory role assignments.
-- Deleting an application deletes everything that belongs to it (Entra moves it to
-- deletedItems for 30 days; wid deletes it outright).
CREATE TABLE applications (
    object_id_key     TEXT NOT NULL PRIMARY KEY,
    object_id         TEXT NOT NULL,
    tenant_key        TEXT NOT NULL,
    tenant_id         TEXT NOT NULL,
    app_id_key        TEXT NOT NULL,
    app_id            TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    sign_in_audience  TEXT NOT NULL,
    identifier_uris   TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    UNIQUE (app_id_key)
) STRICT;

-- Only the SHA-256 of a secret is kept (wid_core::secret), with the three characters
-- Graph shows as its hint.
CREATE TABLE application_passwords (
    application_key TEXT NOT NULL REFERENCES applications (object_id_key) ON DELETE CASCADE,
    key_id_key      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    display_name    TEXT,
    hint            TEXT NOT NULL,
    secret_hash     BLOB NOT NULL,
    start_at        INTEGER NOT NULL,
    end_at          INTEGER NOT NULL,
    PRIMARY KEY (application_key, key_id_key)
) STRICT;

CREATE TABLE application_federated_credentials (
    application_key TEXT NOT NULL REFERENCES applications (object_id_key) ON DELETE CASCADE,
    id_key          TEXT NOT NULL,
    id              TEXT NOT NULL,
    name_key        TEXT NOT NULL,
    name            TEXT NOT NULL,
    issuer          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    audiences       TEXT NOT NULL,
    description     TEXT,
    PRIMARY KEY (application_key, id_key),
    UNIQUE (application_key, name_key)
) STRICT;

-- One service principal per application in its tenant. The bootstrap principal stays in
-- service_principals: it has no application registration.
CREATE TABLE application_service_principals (
    object_id_key   TEXT NOT NULL PRIMARY KEY,
    object_id       TEXT NOT NULL,
    tenant_key      TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    app_id_key      TEXT NOT NULL UNIQUE REFERENCES applications (app_id_key) ON DELETE CASCADE,
    app_id          TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

-- Entra's unifiedRoleAssignment: a directory role (by template id) held by a principal,
-- tenant-wide (directory_scope_id '/').
CREATE TABLE directory_role_assignments (
    id_key              TEXT NOT NULL PRIMARY KEY,
    id                  TEXT NOT NULL,
    tenant_key          TEXT NOT NULL,
    tenant_id           TEXT NOT NULL,
    principal_key       TEXT NOT NULL,
    principal_id        TEXT NOT NULL,
    role_definition_key TEXT NOT NULL,
    role_definition_id  TEXT NOT NULL,
    directory_scope_id  TEXT NOT NULL,
    UNIQUE (tenant_key, principal_key, role_definition_key, directory_scope_id)
) STRICT;
