-- One counter per kind of data that replicas cache (see wid-store's `changes` module). A
-- write bumps its kind's counter in the same transaction; every replica polls this small
-- table and drops what it cached of a kind whose counter moved.
CREATE TABLE change_generations (
    topic      TEXT NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL
);
