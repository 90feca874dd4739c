-- name: chat_session_load
-- What a chat session restores on activation and re-reads before each turn: mode, its saved state, the
-- listing card and the buyer, and which scenario version the account runs.
SELECT c.id, c.account_id, c.avito_chat_id, c.chat_type, c.mode, c.operator_id, c.session_state,
       a.avito_user_id AS account_user_id, coalesce(a.scenario_id, 'default') AS scenario_id,
       s.published_version AS scenario_version,
       c.item_id IS NOT NULL OR c.chat_type <> 'u2i' AS has_item,
       c.buyer_id IS NOT NULL AS has_buyer,
       i.avito_item_id, i.title AS item_title, i.price AS item_price, i.price_text AS item_price_text,
       i.url AS item_url, b.name AS buyer_name
FROM chats c
JOIN accounts a ON a.id = c.account_id
LEFT JOIN scenarios s ON s.id = coalesce(a.scenario_id, 'default')
LEFT JOIN items i ON i.id = c.item_id
LEFT JOIN buyers b ON b.id = c.buyer_id
WHERE c.id = $1;

-- name: chat_set_details
-- The chat's listing and buyer, once Avito told us who and what: both upserted and linked to the chat in one
-- statement (one round trip and one commit, not three). $3 NULL: no listing; $10 NULL: no buyer.
WITH item AS (
    INSERT INTO items (account_id, avito_item_id, title, price, price_text, url, image_url, status)
    SELECT $2::bigint, $3::bigint, $4::text, $5::numeric, $6::text, $7::text, $8::text, $9::text
    WHERE $3::bigint IS NOT NULL
    ON CONFLICT (account_id, avito_item_id) DO UPDATE SET
        title = EXCLUDED.title, price = EXCLUDED.price, price_text = EXCLUDED.price_text, url = EXCLUDED.url,
        image_url = EXCLUDED.image_url, status = EXCLUDED.status
    RETURNING id
),
buyer AS (
    INSERT INTO buyers (avito_user_id, name, avatar_url, profile_url)
    SELECT $10::bigint, $11::text, $12::text, $13::text
    WHERE $10::bigint IS NOT NULL
    ON CONFLICT (avito_user_id) DO UPDATE SET
        name = coalesce(nullif(EXCLUDED.name, ''), buyers.name),
        avatar_url = coalesce(nullif(EXCLUDED.avatar_url, ''), buyers.avatar_url),
        profile_url = coalesce(nullif(EXCLUDED.profile_url, ''), buyers.profile_url)
    RETURNING id
)
UPDATE chats SET item_id = coalesce((SELECT id FROM item), item_id), buyer_id = coalesce((SELECT id FROM buyer), buyer_id)
WHERE id = $1;

-- name: chat_set_mode
-- Switches a chat between bot and operator and records why; nothing happens (no row) when the chat is
-- already in that mode. $4: the operator taking it (operator mode) — kept when handing back to the bot.
WITH old AS (SELECT id, mode FROM chats WHERE id = $1 FOR UPDATE),
changed AS (
    UPDATE chats c SET mode = $2, operator_id = CASE WHEN $2 = 'operator' THEN coalesce($4, c.operator_id) ELSE c.operator_id END
    FROM old WHERE c.id = old.id AND old.mode <> $2
    RETURNING c.id, old.mode AS from_mode, c.account_id, c.operator_id
),
logged AS (
    INSERT INTO chat_mode_changes (chat_id, from_mode, to_mode, reason, user_id)
    SELECT id, from_mode, $2, $3, $4 FROM changed RETURNING id
)
SELECT id, from_mode, account_id, operator_id FROM changed;

-- name: chat_of_avito
SELECT id FROM chats WHERE account_id = $1 AND avito_chat_id = $2;

-- name: chat_next_turn
-- Everything a chat session reads before a turn, in one round trip: the chat's first unprocessed buyer message after
-- inbox row $2 (0: its first) and whether another waits behind it; the chat as `chat_session_load` gives it; the turn
-- already recorded for that row (a re-dispatch after a crash); and the last $3 messages before it, newest first, as
-- `chat_history` gives them. No row: nothing (more) is pending, or the chat is gone.
WITH next AS (
    SELECT i.id AS inbox_id, i.attempts, i.message_id
    FROM inbox i
    WHERE i.chat_id = $1 AND i.processed_at IS NULL AND i.id > $2 AND i.message_id IS NOT NULL
    ORDER BY i.id LIMIT 2
)
SELECT n.inbox_id AS row_inbox_id, n.attempts AS row_attempts, n.message_id AS row_message_id,
       m.type AS row_type, m.text AS row_text, m.content AS row_content, m.created_at AS row_created_at,
       (SELECT count(*) FROM next) > 1 AS more,
       c.id, c.account_id, c.avito_chat_id, c.chat_type, c.mode, c.operator_id, c.session_state,
       a.avito_user_id AS account_user_id, coalesce(a.scenario_id, 'default') AS scenario_id,
       s.published_version AS scenario_version,
       c.item_id IS NOT NULL OR c.chat_type <> 'u2i' AS has_item,
       c.buyer_id IS NOT NULL AS has_buyer,
       i.avito_item_id, i.title AS item_title, i.price AS item_price, i.price_text AS item_price_text,
       i.url AS item_url, b.name AS buyer_name,
       t.id AS turn_id, t.handoff AS turn_handoff,
       h.author_kinds AS history_author_kinds, h.types AS history_types, h.texts AS history_texts,
       h.created_ats AS history_created_ats
FROM (SELECT * FROM next ORDER BY inbox_id LIMIT 1) n
JOIN messages m ON m.id = n.message_id
JOIN chats c ON c.id = $1
JOIN accounts a ON a.id = c.account_id
LEFT JOIN scenarios s ON s.id = coalesce(a.scenario_id, 'default')
LEFT JOIN items i ON i.id = c.item_id
LEFT JOIN buyers b ON b.id = c.buyer_id
LEFT JOIN bot_turns t ON t.inbox_id = n.inbox_id
CROSS JOIN LATERAL (
    SELECT array_agg(h.author_kind ORDER BY h.created_at DESC, h.id DESC) AS author_kinds,
           array_agg(h.type ORDER BY h.created_at DESC, h.id DESC) AS types,
           array_agg(h.text ORDER BY h.created_at DESC, h.id DESC) AS texts,
           array_agg(h.created_at ORDER BY h.created_at DESC, h.id DESC) AS created_ats
    FROM (SELECT id, author_kind, type, text, created_at FROM messages
          WHERE chat_id = c.id AND id <> n.message_id AND type <> 'deleted' ORDER BY created_at DESC, id DESC LIMIT $3) h
) h;

-- name: bot_turn_record
-- A bot turn's whole write in one statement (one round trip, one transaction): the chat's mode, locked (an operator
-- may have taken the chat while the turn ran: then the turn is kept, the reply is not); the turn — nothing more if
-- the inbox row had its turn already (a re-dispatch); its reply parts $21 as pending outbound rows, in bot mode
-- only; the session's state $22; and for a handoff ($12) from bot mode the switch to operator mode, logged as
-- `chat_set_mode` logs it. One UPDATE of the chat row carries both the state and the mode.
WITH chat AS (SELECT id, mode, operator_id FROM chats WHERE id = $2 FOR UPDATE),
turn AS (
    INSERT INTO bot_turns (account_id, chat_id, inbox_id, message_id, scenario_id, scenario_version, engine, intent,
                           intent_confidence, confidence, route, handoff, reply, sources, documents, trace, model,
                           tokens_in, tokens_out, latency_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
    ON CONFLICT (inbox_id) DO NOTHING RETURNING id
),
parts AS (
    INSERT INTO outbound (account_id, chat_id, kind, text, author_kind, inbox_id, part)
    SELECT $1, $2, 'text', p.text, 'bot', $3, p.n - 1
    FROM unnest($21::text[]) WITH ORDINALITY AS p(text, n), chat, turn
    WHERE chat.mode = 'bot'
    ON CONFLICT DO NOTHING RETURNING id, part
),
handoff AS (SELECT chat.id FROM chat WHERE $12 AND chat.mode = 'bot'),
changed AS (
    UPDATE chats c SET session_state = CASE WHEN EXISTS (SELECT 1 FROM turn) THEN $22 ELSE c.session_state END,
                       mode = CASE WHEN EXISTS (SELECT 1 FROM handoff) THEN 'operator' ELSE c.mode END
    FROM chat WHERE c.id = chat.id AND (EXISTS (SELECT 1 FROM turn) OR EXISTS (SELECT 1 FROM handoff))
    RETURNING c.id
),
logged AS (
    INSERT INTO chat_mode_changes (chat_id, from_mode, to_mode, reason, user_id)
    SELECT id, 'bot', 'operator', 'handoff_node', NULL FROM handoff RETURNING id
)
SELECT chat.mode, (SELECT id FROM turn) AS turn_id,
       coalesce((SELECT array_agg(id ORDER BY part) FROM parts), '{}') AS outbound_ids,
       (SELECT id FROM logged) AS mode_change, chat.operator_id
FROM chat;
