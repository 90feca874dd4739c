-- Every bot turn, live or tested: what ran, what it decided and why. Replays and analytics read this.
CREATE TABLE bot_turns (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    chat_id           bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    -- The inbox row the turn answered: one turn per row, so a re-dispatch after a crash cannot run twice.
    inbox_id          bigint UNIQUE REFERENCES inbox (id) ON DELETE SET NULL,
    message_id        bigint REFERENCES messages (id) ON DELETE SET NULL,
    scenario_id       text NOT NULL,
    scenario_version  integer NOT NULL,
    engine            text NOT NULL CHECK (engine IN ('offline', 'llm')),
    intent            text,
    intent_confidence real,
    confidence        real,
    route             text CHECK (route IN ('answer', 'clarify', 'handoff', 'fallback')),
    handoff           boolean NOT NULL DEFAULT false,
    reply             text NOT NULL DEFAULT '',
    sources           text[] NOT NULL DEFAULT '{}',   -- article external ids
    documents         jsonb NOT NULL DEFAULT '[]',    -- [{external_id, score, passage}]
    trace             jsonb NOT NULL DEFAULT '[]',    -- [{node, type, output, branch, ms, model, tokens}]
    model             text,
    tokens_in         integer NOT NULL DEFAULT 0,
    tokens_out        integer NOT NULL DEFAULT 0,
    latency_ms        real NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (scenario_id, scenario_version) REFERENCES scenario_versions (scenario_id, version)
);
CREATE INDEX bot_turns_account_created_idx ON bot_turns (account_id, created_at);
CREATE INDEX bot_turns_chat_idx ON bot_turns (chat_id, created_at);
CREATE INDEX bot_turns_scenario_idx ON bot_turns (scenario_id, scenario_version, created_at);
