-- The summary of a conversation's older messages (written by the summary job, read by
-- a turn whose history for a remote model had to be cut). One row per conversation.
-- Twin of the other engine's 0009_conversation_summaries.sql.
CREATE TABLE conversation_summaries (
    tenant_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    covers_messages BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);
