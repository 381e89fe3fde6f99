-- Portal staff: people who sign in to a tenant's admin portal with an email and a
-- password (stored only as an Argon2id hash). An email belongs to one tenant.
-- Twin of the other engine's 0003_users.sql.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_by_tenant ON users (tenant_id, created_at);
