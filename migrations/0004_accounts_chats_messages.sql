-- The Avito side: connected accounts, their listings, buyers, chats and messages.
-- Avito user and item ids are int64 (real item ids exceed int32); chat and message ids are Avito's strings.

CREATE TABLE accounts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    avito_user_id    bigint NOT NULL UNIQUE,
    name             text NOT NULL,
    -- Fernet(SECRET_KEY) of {"client_id", "client_secret", "refresh_token"?}: never logged, never returned.
    credentials      bytea NOT NULL,
    -- Encrypted the same way; kept so a restart does not cost a token request.
    access_token     bytea,
    token_expires_at timestamptz,
    -- The path secret in PUBLIC_URL/webhooks/avito/{secret}; compared in constant time.
    webhook_secret   text NOT NULL UNIQUE CHECK (length(webhook_secret) >= 32),
    state            text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'error', 'removed')),
    state_detail     text NOT NULL DEFAULT '',
    -- NULL: the default scenario.
    scenario_id      text REFERENCES scenarios (id) ON DELETE SET NULL,
    -- Per-account behaviour, e.g. {"handoff_notice": "Вам ответит менеджер"}.
    settings         jsonb NOT NULL DEFAULT '{}',
    -- History sync progress (chat offset, per-chat cursors), so an interrupted sync resumes.
    sync_state       jsonb NOT NULL DEFAULT '{}',
    is_sandbox       boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Which accounts an operator may see. Admins see every account without rows here.
CREATE TABLE user_accounts (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX user_accounts_account_idx ON user_accounts (account_id);

-- A snapshot of a listing as the chat context last showed it.
CREATE TABLE items (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    avito_item_id bigint NOT NULL,
    title         text NOT NULL DEFAULT '',
    price         numeric(14, 2),              -- parsed from price_string when it is a number
    price_text    text NOT NULL DEFAULT '',    -- Avito's own rendering, e.g. «28 500 ₽»
    url           text NOT NULL DEFAULT '',
    image_url     text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, avito_item_id)
);
CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Avito users who write to our accounts. One row per Avito user, whichever account they write to.
CREATE TABLE buyers (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    avito_user_id bigint NOT NULL UNIQUE,
    name          text NOT NULL DEFAULT '',
    avatar_url    text NOT NULL DEFAULT '',
    profile_url   text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER buyers_touch BEFORE UPDATE ON buyers FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE chats (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    avito_chat_id        text NOT NULL,
    chat_type            text NOT NULL DEFAULT 'u2i' CHECK (chat_type IN ('u2i', 'u2u', 'a2u')),
    item_id              bigint REFERENCES items (id) ON DELETE SET NULL,
    buyer_id             bigint REFERENCES buyers (id) ON DELETE SET NULL,
    mode                 text NOT NULL DEFAULT 'bot' CHECK (mode IN ('bot', 'operator')),
    operator_id          bigint REFERENCES users (id) ON DELETE SET NULL,
    unread_count         integer NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    -- Denormalised last message, so the chat list is one index scan and no join.
    last_message_id      bigint,
    last_message_at      timestamptz,
    last_message_text    text NOT NULL DEFAULT '',
    last_message_author  text CHECK (last_message_author IN ('client', 'bot', 'operator', 'system')),
    -- The ChatSession's restorable context: slots, last intent, clarifications in a row.
    session_state        jsonb NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, avito_chat_id)
);
CREATE TRIGGER chats_touch BEFORE UPDATE ON chats FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
-- The «Бот» / «Мои» tabs: newest first within the accounts a user sees.
CREATE INDEX chats_list_idx ON chats (account_id, mode, last_message_at DESC NULLS LAST, id DESC);
CREATE INDEX chats_recent_idx ON chats (last_message_at DESC NULLS LAST, id DESC);
CREATE INDEX chats_operator_idx ON chats (operator_id, last_message_at DESC NULLS LAST) WHERE operator_id IS NOT NULL;
CREATE INDEX chats_unread_idx ON chats (account_id) WHERE unread_count > 0;
CREATE INDEX chats_item_idx ON chats (item_id);
CREATE INDEX chats_buyer_idx ON chats (buyer_id);

CREATE TABLE messages (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Repeated from the chat so the de-duplication key and access filters need no join.
    account_id       bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    chat_id          bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    avito_message_id text,                     -- NULL only for history we could not match to Avito
    direction        text NOT NULL CHECK (direction IN ('in', 'out')),
    author_kind      text NOT NULL CHECK (author_kind IN ('client', 'bot', 'operator', 'system')),
    author_user_id   bigint REFERENCES users (id) ON DELETE SET NULL,  -- the operator who wrote it
    avito_author_id  bigint,
    type             text NOT NULL,            -- text, image, voice, location, link, item, call, deleted, system…
    text             text NOT NULL DEFAULT '',
    -- Attachments and the raw content of non-text types (image sizes, voice id, location, link preview…).
    content          jsonb NOT NULL DEFAULT '{}',
    quote            jsonb,
    created_at       timestamptz NOT NULL,     -- when Avito says it was written
    stored_at        timestamptz NOT NULL DEFAULT now(),
    read_at          timestamptz,
    search           tsvector GENERATED ALWAYS AS (to_tsvector('russian', text)) STORED,
    UNIQUE (account_id, avito_message_id)
);
CREATE INDEX messages_chat_idx ON messages (chat_id, created_at DESC, id DESC);
CREATE INDEX messages_search_idx ON messages USING gin (search);
-- Partial words («велос») that stemming cannot match.
CREATE INDEX messages_text_trgm_idx ON messages USING gin (text gin_trgm_ops);
CREATE INDEX messages_account_created_idx ON messages (account_id, created_at DESC);

ALTER TABLE chats ADD CONSTRAINT chats_last_message_fkey
    FOREIGN KEY (last_message_id) REFERENCES messages (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;

-- One row per webhook delivery, written in the same transaction as its message. The dispatcher hands
-- unprocessed rows to chat sessions; a row is marked processed only after its turn finished.
CREATE TABLE inbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    delivery_id  text,                        -- the webhook's own "id"
    kind         text NOT NULL,               -- payload.type: message, or whatever Avito adds later
    payload      jsonb NOT NULL,              -- the body as received, for audit and re-processing
    message_id   bigint REFERENCES messages (id) ON DELETE SET NULL,
    chat_id      bigint REFERENCES chats (id) ON DELETE CASCADE,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT ''
);
CREATE INDEX inbox_pending_idx ON inbox (id) WHERE processed_at IS NULL;
CREATE INDEX inbox_chat_idx ON inbox (chat_id, id);

-- Replies on their way to Avito: written `pending` before the call, `sent` with Avito's id after it.
CREATE TABLE outbound (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    chat_id          bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('text', 'image')),
    text             text NOT NULL DEFAULT '' CHECK (length(text) <= 1000),
    image            jsonb,                   -- {"path"|"image_id", ...} for image sends
    author_kind      text NOT NULL CHECK (author_kind IN ('bot', 'operator', 'system')),
    author_user_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    -- Idempotency: a bot reply is keyed by the inbox row that caused it and its part number (long replies
    -- are split at 1000 characters); an operator send by the request id the browser generated.
    inbox_id         bigint REFERENCES inbox (id) ON DELETE SET NULL,
    part             smallint NOT NULL DEFAULT 0,
    request_id       text,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    avito_message_id text,
    message_id       bigint REFERENCES messages (id) ON DELETE SET NULL,
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    UNIQUE (inbox_id, part),
    UNIQUE (account_id, request_id)
);
CREATE INDEX outbound_pending_idx ON outbound (account_id, id) WHERE status = 'pending';
-- Echo recognition: "is this webhook message one we sent?"
CREATE INDEX outbound_avito_idx ON outbound (account_id, avito_message_id) WHERE avito_message_id IS NOT NULL;

-- Every switch between bot and operator: the handoff rate and time-to-operator come from here.
CREATE TABLE chat_mode_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id     bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    from_mode   text NOT NULL CHECK (from_mode IN ('bot', 'operator')),
    to_mode     text NOT NULL CHECK (to_mode IN ('bot', 'operator')),
    -- handoff_node: the scenario handed over; operator: a person in the messenger; avito_app: someone
    -- answered in Avito's own app; api: an admin or integration.
    reason      text NOT NULL CHECK (reason IN ('handoff_node', 'operator', 'avito_app', 'api')),
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_mode_changes_chat_idx ON chat_mode_changes (chat_id, created_at);
CREATE INDEX chat_mode_changes_created_idx ON chat_mode_changes (created_at);

-- Canned answers behind the lightning icon. account_id NULL: shared by all accounts.
CREATE TABLE quick_replies (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint REFERENCES accounts (id) ON DELETE CASCADE,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),  -- may hold {buyer_name}, {item_title}
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quick_replies_account_idx ON quick_replies (account_id);
CREATE TRIGGER quick_replies_touch BEFORE UPDATE ON quick_replies FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
