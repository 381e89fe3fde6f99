-- Acknowledged means applied, exactly once (ARCHITECTURE.md, "Cart commands").
-- An `ack` event of a cart command carries the command itself (`command`, JSON), and
-- a cart records the `seq` of the last acknowledged command it applied
-- (`applied_seq`). A conversation rebuilt after a crash re-applies, in order, every
-- acknowledged command after its cart's `applied_seq`. Twin of the other engine's file.
ALTER TABLE events ADD COLUMN command TEXT;
ALTER TABLE carts ADD COLUMN applied_seq BIGINT NOT NULL DEFAULT 0;
