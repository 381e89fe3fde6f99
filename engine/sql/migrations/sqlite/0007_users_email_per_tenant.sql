-- Portal users: an email is unique within its tenant, no longer across tenants, so
-- that creating a user never tells one tenant that an address has a login in another
-- (issue 10). A login finds every tenant's user with the email and checks the
-- password against each. SQLite cannot drop a column's inline UNIQUE, so the table
-- is rebuilt (nothing references it). Twin of the other engine's 0007.
CREATE TABLE users_0007 (
    id            TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);
INSERT INTO users_0007 (id, tenant_id, email, password_hash, role, created_at)
    SELECT id, tenant_id, email, password_hash, role, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_0007 RENAME TO users;
CREATE INDEX users_by_tenant ON users (tenant_id, created_at);
CREATE INDEX users_by_email ON users (email, created_at);
