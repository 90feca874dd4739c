-- name: outbound_of_inbox
SELECT id, part, text, status, avito_message_id, created_at FROM outbound WHERE inbox_id = $1 ORDER BY part;

-- name: outbound_store_sent
-- Avito confirmed a send: the message (unless its echo stored it first) and the outbound row marked sent, and the
-- inbox row $5 processed when this was its reply's last part.
WITH echoed AS (
    -- The echo came first: `ingest_message` stored the message, linked it here and moved the chat's last message.
    -- Nothing is written again (an insert would only meet the conflict, after its trigger locked the chat's row).
    SELECT m.id, m.chat_id, false AS inserted, m.avito_message_id, m.direction, m.author_kind, m.type, m.text,
           m.content, m.created_at, m.author_user_id
    FROM outbound o JOIN messages m ON m.id = o.message_id WHERE o.id = $1 AND m.avito_message_id = $2
),
msg AS (
    INSERT INTO messages (account_id, chat_id, avito_message_id, direction, author_kind, author_user_id,
                          avito_author_id, type, text, content, created_at)
    SELECT o.account_id, o.chat_id, $2, 'out', o.author_kind, o.author_user_id, $3, o.kind, o.text,
           CASE WHEN o.kind = 'image' THEN jsonb_build_object('image', jsonb_build_object('sizes', o.image -> 'sizes'))
                ELSE jsonb_build_object('text', o.text) END, $4
    FROM outbound o WHERE o.id = $1 AND NOT EXISTS (SELECT FROM echoed)
    ON CONFLICT (account_id, avito_message_id) DO UPDATE SET author_user_id = messages.author_user_id
    RETURNING id, chat_id, (xmax = 0) AS inserted, avito_message_id, direction, author_kind, type, text, content,
              created_at, author_user_id
),
stored AS (SELECT * FROM msg UNION ALL SELECT * FROM echoed),
sent AS (
    UPDATE outbound o SET status = 'sent', avito_message_id = $2, sent_at = now(), attempts = o.attempts + 1,
                          message_id = (SELECT id FROM stored)
    WHERE o.id = $1 RETURNING o.id
),
chat AS (
    UPDATE chats c SET last_message_id = msg.id, last_message_at = $4, last_message_text = left(o.text, 300),
                       last_message_author = o.author_kind
    FROM msg, outbound o WHERE c.id = msg.chat_id AND o.id = $1
      AND (c.last_message_at IS NULL OR c.last_message_at <= $4)
    RETURNING c.id
),
-- The inbox row this send finishes ($5; NULL for none): the reply's last part marks its buyer message processed in
-- the same transaction that marks the part sent, rather than one round trip later.
done AS (
    UPDATE inbox SET processed_at = now(), attempts = attempts + 1 WHERE id = $5 AND processed_at IS NULL
    RETURNING id
)
-- After the id (what `store_sent` reads), the message as `message_view` shows it, so a send needs no second read.
SELECT stored.id AS message_id, stored.inserted, stored.chat_id, stored.avito_message_id, stored.direction,
       stored.author_kind, stored.type, stored.text, stored.content, stored.created_at, stored.author_user_id
FROM stored;

-- name: outbound_mark_failed
UPDATE outbound SET status = CASE WHEN $3 THEN 'failed' ELSE status END, attempts = attempts + 1,
                    last_error = left($2, 2000)
WHERE id = $1;

-- name: message_view
-- A message as the messenger shows it (events and REST).
SELECT id, chat_id, avito_message_id, direction, author_kind, type, text, content, created_at, author_user_id
FROM messages WHERE id = $1;

-- name: outbound_known
-- Whether an Avito message id is already one of our sent messages.
SELECT EXISTS (SELECT 1 FROM outbound WHERE account_id = $1 AND avito_message_id = $2);

-- name: outbound_by_request
-- An operator send already recorded under this request id (the browser retried).
SELECT id, status, message_id, last_error FROM outbound WHERE account_id = $1 AND request_id = $2;

-- name: outbound_insert_operator
-- An operator's text or image, pending until Avito confirms it; keyed by the browser's request id.
INSERT INTO outbound (account_id, chat_id, kind, text, image, author_kind, author_user_id, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING RETURNING id;
