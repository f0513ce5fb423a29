-- The sign-in log (wid_core::sign_in): one row per token request. The columns are what
-- listings filter and order on, lower-cased where they compare without regard to case ('' for
-- none); `record` holds the whole record as JSON.
CREATE TABLE sign_ins (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    app_id TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    user_principal_name TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    ip_address TEXT NOT NULL,
    kind TEXT NOT NULL,
    error_code INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX sign_ins_by_time ON sign_ins (tenant_id, created_at_ms, id);
CREATE INDEX sign_ins_by_age ON sign_ins (created_at_ms, id);
