-- Role assignments at any ARM scope. role_key is the role definition's GUID, whatever form
-- of its id the client sent; one principal holds a role at a scope at most once.
CREATE TABLE role_assignments (
    name_key           TEXT NOT NULL PRIMARY KEY,
    name               TEXT NOT NULL,
    tenant_id          TEXT NOT NULL,
    scope              TEXT NOT NULL,
    scope_key          TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    role_key           TEXT NOT NULL,
    principal_id       TEXT NOT NULL,
    principal_key      TEXT NOT NULL,
    principal_type     TEXT NOT NULL,
    description        TEXT,
    created_by         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    modified_by        TEXT NOT NULL,
    modified_at        INTEGER NOT NULL,
    UNIQUE (scope_key, role_key, principal_key)
) STRICT;
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_key);
