-- Credential writers now lock the identity's row without writing it (SELECT … FOR UPDATE on
-- PostgreSQL, the writer lock on SQLite), so the counter they used to bump is gone. A
-- credential write no longer rewrites its identity's page, which halves what it syncs.
ALTER TABLE managed_identities DROP COLUMN lock_version;
