-- Users of the directory. The password is an Argon2id PHC string; failed_attempts and
-- locked_until carry the sign-in throttle (wid_core::password::SignInState), so a lockout
-- holds across restarts and replicas.
CREATE TABLE users (
    object_id_key   TEXT NOT NULL PRIMARY KEY,
    object_id       TEXT NOT NULL,
    tenant_key      TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    upn_key         TEXT NOT NULL,
    upn             TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    mail_nickname   TEXT NOT NULL,
    account_enabled INTEGER NOT NULL,
    password_hash   TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL,
    locked_until    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (tenant_key, upn_key)
) STRICT;
