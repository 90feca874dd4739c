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

-- name: chat_mode
SELECT mode FROM chats WHERE id = $1;

-- name: chat_history
-- The last $2 messages before message $3 (the one being answered), newest first.
SELECT author_kind, type, text, created_at FROM messages
WHERE chat_id = $1 AND id <> $3 AND type <> 'deleted' ORDER BY created_at DESC, id DESC LIMIT $2;

-- name: item_upsert
-- A listing as a chat's context shows it.
INSERT INTO items (account_id, avito_item_id, title, price, price_text, url, image_url, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (account_id, avito_item_id) DO UPDATE SET
    title = EXCLUDED.title, price = EXCLUDED.price, price_text = EXCLUDED.price_text, url = EXCLUDED.url,
    image_url = EXCLUDED.image_url, status = EXCLUDED.status
RETURNING id;

-- name: buyer_upsert
INSERT INTO buyers (avito_user_id, name, avatar_url, profile_url) VALUES ($1, $2, $3, $4)
ON CONFLICT (avito_user_id) DO UPDATE SET
    name = coalesce(nullif(EXCLUDED.name, ''), buyers.name),
    avatar_url = coalesce(nullif(EXCLUDED.avatar_url, ''), buyers.avatar_url),
    profile_url = coalesce(nullif(EXCLUDED.profile_url, ''), buyers.profile_url)
RETURNING id;

-- name: chat_set_details
-- The chat's listing and buyer, once Avito told us who and what.
UPDATE chats SET item_id = coalesce($2, item_id), buyer_id = coalesce($3, buyer_id) WHERE id = $1;

-- name: chat_set_session_state
UPDATE chats SET session_state = $2 WHERE id = $1;

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

-- name: chat_mode_locked
-- The chat's mode, locked until the caller's transaction ends (a turn's reply is queued only in bot mode).
SELECT mode FROM chats WHERE id = $1 FOR UPDATE;
