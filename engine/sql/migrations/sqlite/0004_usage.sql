-- Counting a tenant's shopper messages of a billing period (plan quotas, usage).
-- Twin of the other engine's 0004_usage.sql.
CREATE INDEX messages_by_tenant ON messages (tenant_id, role, created_at);
