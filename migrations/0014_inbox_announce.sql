-- A buyer's message waiting for its chat session is announced when its transaction commits: the session hosts
-- LISTEN on this channel and wake the chat's session themselves (actors/inbox_listener.py). Before, the web
-- process handed each new row to its host with a Ray call after the commit: ~2 ms of CPU per message across the
-- two processes and a few milliseconds on every reply's way. The dispatcher's inbox sweep stays the safety net
-- for a row nobody heard of (a host restarting, its listening connection lost).
CREATE FUNCTION inbox_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('inbox_pending', NEW.chat_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER inbox_announce AFTER INSERT ON inbox
    FOR EACH ROW WHEN (NEW.processed_at IS NULL AND NEW.chat_id IS NOT NULL) EXECUTE FUNCTION inbox_announce();
