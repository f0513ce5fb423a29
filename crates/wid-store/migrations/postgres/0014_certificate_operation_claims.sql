-- A replica claims a pending certificate operation before it issues the certificate, so
-- concurrent polls (on one replica or several) issue it once. A claim older than the
-- issuance timeout may be taken over, so a replica that stopped mid-issuance does not leave
-- the operation in progress for ever.
ALTER TABLE certificate_operations ADD COLUMN claimed_at BIGINT;
