-- Key Vault's audit events (wid_core::vault_audit): one row per data-plane request. The
-- columns are what listings filter and order on, lower-cased ('' for none); `record` holds
-- the whole event as JSON.
CREATE TABLE vault_events (
    id TEXT PRIMARY KEY,
    vault_id TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    operation_name TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    app_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    caller_ip TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX vault_events_by_time ON vault_events (vault_id, created_at_ms, id);
CREATE INDEX vault_events_by_age ON vault_events (created_at_ms, id);
