-- Aisle's relational schema, SQLite flavour. Keep in step with
-- ../postgres/0001_init.sql: the same tables, columns and constraints; only the
-- types of identity columns and collations differ.
-- Times are BIGINT unix milliseconds, money BIGINT minor units, JSON is TEXT.

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    plan            TEXT NOT NULL,
    status          TEXT NOT NULL,
    settings        TEXT NOT NULL,
    catalog_version BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);

CREATE TABLE deployments (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    name            TEXT NOT NULL,
    deployment_key  TEXT NOT NULL UNIQUE,
    allowed_origins TEXT NOT NULL,
    revoked         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL
);
CREATE INDEX deployments_by_tenant ON deployments (tenant_id, created_at);

CREATE TABLE products (
    id               TEXT PRIMARY KEY NOT NULL,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    sku              TEXT NOT NULL,
    title            TEXT NOT NULL,
    description_html TEXT NOT NULL,
    description_text TEXT NOT NULL,
    category         TEXT NOT NULL,
    tags             TEXT NOT NULL,
    image_url        TEXT,
    options          TEXT NOT NULL,
    currency         TEXT NOT NULL,
    UNIQUE (tenant_id, sku)
);

CREATE TABLE variants (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL,
    product_id  TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku         TEXT NOT NULL,
    title       TEXT NOT NULL,
    options     TEXT NOT NULL,
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    stock       BIGINT NOT NULL CHECK (stock >= 0),
    position    BIGINT NOT NULL,
    UNIQUE (product_id, sku)
);
CREATE INDEX variants_by_product ON variants (tenant_id, product_id, position);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    deployment_id   TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    last_message_at BIGINT,
    messages        BIGINT NOT NULL DEFAULT 0,
    dialogue_state  TEXT NOT NULL
);
CREATE INDEX conversations_by_tenant ON conversations (tenant_id, started_at);

CREATE TABLE events (
    tenant_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    command_id      TEXT,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX events_by_command ON events (conversation_id, command_id)
    WHERE command_id IS NOT NULL;

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    role            TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

CREATE TABLE carts (
    conversation_id TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    version         BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    lines           TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE cart_commands (
    conversation_id TEXT NOT NULL,
    command_id      TEXT NOT NULL,
    tenant_id       TEXT NOT NULL,
    version         BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, command_id)
);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    conversation_id TEXT NOT NULL,
    total_minor     BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX orders_by_tenant ON orders (tenant_id, created_at, id);

CREATE TABLE order_lines (
    order_id         TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL,
    position         BIGINT NOT NULL,
    product_id       TEXT NOT NULL,
    variant_id       TEXT NOT NULL,
    sku              TEXT NOT NULL,
    title            TEXT NOT NULL,
    options          TEXT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    PRIMARY KEY (order_id, position)
);
