-- Tokens a remote model used, per tenant, conversation and billing month (UTC, the
-- month's first instant in unix ms). Increments are one atomic upsert each, so no
-- increment is lost to concurrent turns, on one node or several.
-- Twin of the other engine's 0008_llm_usage.sql.
CREATE TABLE llm_usage (
    tenant_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    calls BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, period_start, conversation_id)
);
