-- People who log in: admins draw scenarios and connect accounts, operators answer chats.
CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login           text NOT NULL CHECK (login ~ '^[A-Za-z0-9._@-]{1,64}$'),
    password_hash   text NOT NULL,           -- argon2id, encoded with its parameters
    role            text NOT NULL CHECK (role IN ('admin', 'operator')),
    display_name    text NOT NULL,
    is_active       boolean NOT NULL DEFAULT true,
    -- Accounts ticked in «Аккаунты (N)»; NULL means every account the user may see.
    selected_account_ids bigint[],
    -- Per-user UI preferences (sound muted, ...), owned by the messenger.
    preferences     jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz
);
CREATE UNIQUE INDEX users_login_key ON users (lower(login));
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
