-- name: history_chat_upsert
-- A chat as Avito's chat list shows it, with its listing and its buyer, in one round trip: history sync and the
-- polling fallback store chats this way. $1 account, $2 Avito chat id, $3 chat type, $4 chat created (unix s);
-- $5–$11 the listing (NULL id: no listing; the price is parsed from Avito's price string when it is a number);
-- $12–$15 the buyer (NULL id: none). Known chats keep their type and learn a listing or buyer they lacked.
WITH item AS (
    INSERT INTO items AS i (account_id, avito_item_id, title, price, price_text, url, image_url, status)
    SELECT $1, $5::bigint, $6, nullif(regexp_replace($7, '\D', '', 'g'), '')::numeric, $7, $8, $9, $10
    WHERE $5::bigint IS NOT NULL
    ON CONFLICT (account_id, avito_item_id) DO UPDATE SET
        title = EXCLUDED.title, price = EXCLUDED.price, price_text = EXCLUDED.price_text, url = EXCLUDED.url,
        image_url = EXCLUDED.image_url, status = EXCLUDED.status
    RETURNING i.id
),
buyer AS (
    INSERT INTO buyers AS b (avito_user_id, name, avatar_url, profile_url)
    SELECT $11::bigint, $12, $13, $14 WHERE $11::bigint IS NOT NULL
    ON CONFLICT (avito_user_id) DO UPDATE SET
        name = coalesce(nullif(EXCLUDED.name, ''), b.name),
        avatar_url = coalesce(nullif(EXCLUDED.avatar_url, ''), b.avatar_url),
        profile_url = coalesce(nullif(EXCLUDED.profile_url, ''), b.profile_url)
    RETURNING b.id
)
INSERT INTO chats AS c (account_id, avito_chat_id, chat_type, item_id, buyer_id, created_at)
VALUES ($1, $2, $3, (SELECT id FROM item), (SELECT id FROM buyer),
        CASE WHEN $4::bigint > 0 THEN to_timestamp($4::bigint) ELSE now() END)
ON CONFLICT (account_id, avito_chat_id) DO UPDATE SET
    item_id = coalesce(EXCLUDED.item_id, c.item_id), buyer_id = coalesce(EXCLUDED.buyer_id, c.buyer_id)
RETURNING c.id, (xmax = 0) AS created;

-- name: history_messages_insert
-- One page of a chat's history, stored as history: no inbox row, so nothing here is answered by the bot.
-- $1 account, $2 chat, $3 the account's Avito user id, $4 a JSON array of messages
-- [{id, author_id, created, type, text, content, quote, read}]. De-duplicated by Avito's message id. The account's
-- own messages are ours (bot or operator, as the outbox recorded them: by Avito's id once sent, by chat and text
-- while pending) or, unknown to the outbox, a person's in Avito's app (operator); author 0 and type system are
-- Avito's. The chat's last-message fields follow the newest stored message when it is newer than theirs.
-- Returns how many messages were new.
WITH page AS (
    SELECT p.id, p.author_id, p.created, p.type, coalesce(p.text, '') AS text, coalesce(p.content, '{}') AS content,
           p.quote, p.read, p.ordinality
    FROM ROWS FROM (jsonb_to_recordset($4::jsonb)
            AS (id text, author_id bigint, created bigint, type text, text text, content jsonb, quote jsonb,
                read bigint)) WITH ORDINALITY
        AS p(id, author_id, created, type, text, content, quote, read, ordinality)
),
authored AS (
    SELECT page.*, coalesce(sent.author_kind, pending.author_kind) AS our_kind,
           CASE WHEN sent.author_kind IS NOT NULL THEN sent.author_user_id ELSE pending.author_user_id END AS our_user
    FROM page
    LEFT JOIN LATERAL (
        SELECT o.author_kind, o.author_user_id FROM outbound o
        WHERE page.author_id = $3 AND o.account_id = $1 AND o.avito_message_id = page.id LIMIT 1
    ) sent ON true
    LEFT JOIN LATERAL (
        SELECT o.author_kind, o.author_user_id FROM outbound o
        WHERE page.author_id = $3 AND page.type = 'text' AND o.chat_id = $2 AND o.status = 'pending'
          AND o.text = page.text
        ORDER BY o.id LIMIT 1
    ) pending ON true
),
stored AS (
    INSERT INTO messages (account_id, chat_id, avito_message_id, direction, author_kind, author_user_id,
                          avito_author_id, type, text, content, quote, created_at, read_at)
    SELECT $1, $2, a.id,
           CASE WHEN a.author_id = $3 THEN 'out' ELSE 'in' END,
           CASE WHEN a.author_id = $3 THEN coalesce(a.our_kind, 'operator')
                WHEN a.type = 'system' OR coalesce(a.author_id, 0) = 0 THEN 'system'
                ELSE 'client' END,
           a.our_user, a.author_id, coalesce(a.type, 'text'), a.text, a.content, a.quote,
           CASE WHEN a.created > 0 THEN to_timestamp(a.created) ELSE now() END,
           CASE WHEN a.read > 0 THEN to_timestamp(a.read) END
    FROM authored a ORDER BY a.created, a.ordinality
    ON CONFLICT (account_id, avito_message_id) DO NOTHING
    RETURNING id, created_at, text, author_kind
),
newest AS (
    SELECT id, created_at, text, author_kind FROM stored ORDER BY created_at DESC, id DESC LIMIT 1
),
chat AS (
    UPDATE chats c SET last_message_id = newest.id, last_message_at = newest.created_at,
                       last_message_text = left(newest.text, 300), last_message_author = newest.author_kind
    FROM newest
    WHERE c.id = $2 AND (c.last_message_at IS NULL OR c.last_message_at <= newest.created_at)
    RETURNING c.id
)
SELECT count(*) AS stored FROM stored;

-- name: history_known_message_ids
-- Which of these Avito message ids ($2) the account ($1) already has.
SELECT avito_message_id FROM messages WHERE account_id = $1 AND avito_message_id = ANY($2::text[]);
