-- Portal users: an email is unique within its tenant, no longer across tenants, so
-- that creating a user never tells one tenant that an address has a login in another
-- (issue 10). A login finds every tenant's user with the email and checks the
-- password against each. Twin of the other engine's 0007 (which rebuilds the table).
ALTER TABLE users DROP CONSTRAINT users_email_key;
ALTER TABLE users ADD CONSTRAINT users_tenant_id_email_key UNIQUE (tenant_id, email);
CREATE INDEX users_by_email ON users (email, created_at);
