-- Message search's «Оператор» tab (core/store/search.py) reads only the messages of chats handed to operators —
-- usually a small share of them. Before, it had to read every match (or walk every message) and join each to its
-- chat to learn the chat's mode; now each message carries its chat's mode, and two partial indexes hold just the
-- operator chats' messages: one in time order (the newest-first walk) and one full-text (the exact path).
--
-- The copy is kept exact by the database, not by callers: a message takes its chat's mode when inserted, under
-- a lock on the chat row (the insert's transaction updates that row anyway), and a change of a chat's mode
-- rewrites its messages in the same transaction. So a message inserted while the mode changes either waits for
-- the change and takes the new mode, or commits first and is rewritten by it.
ALTER TABLE messages ADD COLUMN chat_mode text NOT NULL DEFAULT 'bot' CHECK (chat_mode IN ('bot', 'operator'));
UPDATE messages m SET chat_mode = c.mode FROM chats c WHERE c.id = m.chat_id AND c.mode <> 'bot';

CREATE FUNCTION messages_take_chat_mode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT c.mode INTO NEW.chat_mode FROM chats c WHERE c.id = NEW.chat_id FOR NO KEY UPDATE;
    RETURN NEW;
END;
$$;
CREATE TRIGGER messages_chat_mode BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION messages_take_chat_mode();

CREATE FUNCTION chats_mode_to_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET chat_mode = NEW.mode WHERE chat_id = NEW.id AND chat_mode <> NEW.mode;
    RETURN NULL;
END;
$$;
CREATE TRIGGER chats_mode_to_messages AFTER UPDATE OF mode ON chats
    FOR EACH ROW WHEN (OLD.mode IS DISTINCT FROM NEW.mode) EXECUTE FUNCTION chats_mode_to_messages();

CREATE INDEX messages_operator_created_idx ON messages (created_at DESC, id DESC) WHERE chat_mode = 'operator';
CREATE INDEX messages_operator_search_idx ON messages USING gin (search) WHERE chat_mode = 'operator';
