-- The echo of a reply whose send was already stored (Avito answered the send before its webhook came back) is a
-- duplicate by definition. It used to be found so only by the messages insert's conflict, after that insert's
-- trigger had locked the chat's row (migration 0012) for nothing; now the outbound row's stored message says so
-- first. Otherwise `ingest_message` is migration 0008's.
CREATE OR REPLACE FUNCTION ingest_message(
    p_account      bigint,
    p_own_user     bigint,      -- the account's Avito user id
    p_delivery     text,        -- the webhook's own id
    p_payload      jsonb,       -- the delivery as received
    p_chat         text,        -- Avito chat id
    p_chat_type    text,
    p_message      text,        -- Avito message id
    p_author       bigint,      -- Avito author id
    p_type         text,        -- message type
    p_text         text,
    p_content      jsonb,
    p_created      timestamptz,
    p_item         bigint       -- Avito item id (u2i chats), or NULL
) RETURNS TABLE (
    chat_id      bigint,
    chat_created boolean,
    message_id   bigint,        -- NULL: a duplicate delivery (nothing was written)
    inbox_id     bigint,
    author_kind  text,
    dispatch     boolean,       -- a buyer's message for the chat session to answer
    mode         text,          -- the chat's mode after this delivery
    mode_changed boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_chat      bigint;
    v_mode      text;
    v_created   boolean := false;
    v_message   bigint;
    v_inbox     bigint;
    v_kind      text;
    v_direction text;
    v_user      bigint;
    v_outbound  bigint;
    v_stored    bigint;
    v_changed   boolean := false;
    v_dispatch  boolean;
BEGIN
    SELECT c.id, c.mode INTO v_chat, v_mode FROM chats c
    WHERE c.account_id = p_account AND c.avito_chat_id = p_chat;
    IF v_chat IS NULL THEN
        INSERT INTO chats AS c (account_id, avito_chat_id, chat_type)
        VALUES (p_account, p_chat, CASE WHEN p_chat_type IN ('u2i', 'u2u', 'a2u') THEN p_chat_type ELSE 'u2i' END)
        ON CONFLICT (account_id, avito_chat_id) DO NOTHING
        RETURNING c.id, c.mode INTO v_chat, v_mode;
        IF v_chat IS NULL THEN  -- a concurrent delivery created it first
            SELECT c.id, c.mode INTO v_chat, v_mode FROM chats c
            WHERE c.account_id = p_account AND c.avito_chat_id = p_chat;
        ELSE
            v_created := true;
        END IF;
    END IF;

    -- Who wrote it. The account's own messages are our sends coming back (echoes) unless no pending or sent
    -- outbound row matches them: then a person answered in Avito's app, and the chat becomes theirs.
    IF p_author = p_own_user THEN
        v_direction := 'out';
        SELECT o.id, o.author_kind, o.author_user_id, o.message_id INTO v_outbound, v_kind, v_user, v_stored
        FROM outbound o WHERE o.account_id = p_account AND o.avito_message_id = p_message;
        IF v_stored IS NOT NULL THEN  -- the echo of a send already stored: a duplicate, nothing to write
            RETURN QUERY SELECT v_chat, v_created, NULL::bigint, NULL::bigint, v_kind, false, v_mode, false;
            RETURN;
        END IF;
        IF v_outbound IS NULL THEN
            SELECT o.id, o.author_kind, o.author_user_id INTO v_outbound, v_kind, v_user FROM outbound o
            WHERE o.chat_id = v_chat AND o.status = 'pending' AND o.text = p_text AND p_type = 'text'
            ORDER BY o.id LIMIT 1;
        END IF;
        IF v_outbound IS NULL THEN
            v_kind := 'operator';
        END IF;
    ELSIF p_type = 'system' OR p_author = 0 THEN
        v_direction := 'in';
        v_kind := 'system';
    ELSE
        v_direction := 'in';
        v_kind := 'client';
    END IF;

    INSERT INTO messages AS m (account_id, chat_id, avito_message_id, direction, author_kind, author_user_id,
                               avito_author_id, type, text, content, created_at)
    VALUES (p_account, v_chat, p_message, v_direction, v_kind, v_user, p_author, p_type, p_text, p_content, p_created)
    ON CONFLICT (account_id, avito_message_id) DO NOTHING
    RETURNING m.id INTO v_message;
    IF v_message IS NULL THEN
        RETURN QUERY SELECT v_chat, v_created, NULL::bigint, NULL::bigint, v_kind, false, v_mode, false;
        RETURN;
    END IF;

    IF v_outbound IS NOT NULL THEN
        -- The echo came before (or instead of) the send's answer: the outbound row learns its message.
        UPDATE outbound o SET message_id = v_message WHERE o.id = v_outbound AND o.message_id IS NULL;
    END IF;

    IF v_kind = 'operator' AND v_outbound IS NULL AND v_mode = 'bot' THEN
        UPDATE chats SET mode = 'operator' WHERE id = v_chat;
        INSERT INTO chat_mode_changes (chat_id, from_mode, to_mode, reason) VALUES (v_chat, 'bot', 'operator', 'avito_app');
        v_mode := 'operator';
        v_changed := true;
    END IF;

    -- Only a buyer's message with something to read goes to a chat session; everything else is history.
    v_dispatch := v_kind = 'client' AND p_type NOT IN ('deleted', 'call', 'appCall');
    INSERT INTO inbox (account_id, delivery_id, kind, payload, message_id, chat_id, processed_at)
    VALUES (p_account, p_delivery, 'message', p_payload, v_message, v_chat, CASE WHEN v_dispatch THEN NULL ELSE now() END)
    RETURNING id INTO v_inbox;

    -- A late delivery of an older message counts as unread but does not become the chat's last message.
    UPDATE chats c SET
        last_message_id = CASE WHEN newer THEN v_message ELSE c.last_message_id END,
        last_message_at = CASE WHEN newer THEN p_created ELSE c.last_message_at END,
        last_message_text = CASE WHEN newer THEN left(p_text, 300) ELSE c.last_message_text END,
        last_message_author = CASE WHEN newer THEN v_kind ELSE c.last_message_author END,
        -- A person answering in Avito's app has read the chat.
        unread_count = CASE v_kind WHEN 'client' THEN c.unread_count + 1 WHEN 'operator' THEN 0 ELSE c.unread_count END
    FROM (SELECT (last_message_at IS NULL OR last_message_at <= p_created) AS newer FROM chats WHERE id = v_chat) n
    WHERE c.id = v_chat;

    RETURN QUERY SELECT v_chat, v_created, v_message, v_inbox, v_kind, v_dispatch, v_mode, v_changed;
END;
$$;
