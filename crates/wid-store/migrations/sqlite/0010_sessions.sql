-- Users' sign-in sessions. Refresh tokens and device codes are bearer secrets, kept as the
-- hex SHA-256 of the value only. A refresh token is one link of a rotation chain
-- (family_id): redeeming marks it spent and adds the next link; a spent link presented
-- again revokes the family.
CREATE TABLE refresh_tokens (
    token_hash     TEXT NOT NULL PRIMARY KEY,
    family_id      TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    user_key       TEXT NOT NULL,
    user_object_id TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    signed_in_at   INTEGER NOT NULL,
    issued_at      INTEGER NOT NULL,
    spent          INTEGER NOT NULL,
    revoked        INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_key);

-- Device-authorization requests: state is pending, approved (user_object_id set),
-- declined or redeemed, and only moves forward.
CREATE TABLE device_codes (
    code_hash      TEXT NOT NULL PRIMARY KEY,
    user_code      TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    state          TEXT NOT NULL,
    user_object_id TEXT
) STRICT;
