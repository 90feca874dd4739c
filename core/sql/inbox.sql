-- name: ingest_message
-- A webhook's message delivery: chat, message, inbox row in one transaction (see migrations/0008_ingest.sql).
SELECT chat_id, chat_created, message_id, inbox_id, author_kind, dispatch, mode, mode_changed
FROM ingest_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13);

-- name: inbox_store_other
-- A delivery that is not a message (or a type this version does not know): kept for audit, never processed.
INSERT INTO inbox (account_id, delivery_id, kind, payload, processed_at) VALUES ($1, $2, $3, $4, now())
RETURNING id;

-- name: inbox_pending_chats
-- Chats with unprocessed rows, the oldest waiting first: what the dispatcher hands out after a restart
-- and on its periodic sweep. Rows younger than $2 seconds are left to the live path; a row that failed waits
-- longer after each attempt (5, 15, 35, 75 s more), so a short Avito outage is ridden out.
SELECT chat_id, min(id) AS first_id FROM inbox
WHERE processed_at IS NULL AND chat_id IS NOT NULL
  AND received_at < now() - make_interval(secs => $2 + 5 * (2 ^ attempts - 1))
GROUP BY chat_id ORDER BY min(id) LIMIT $1;

-- name: inbox_pending_of_chat
-- A chat's unprocessed buyer messages, in the order they arrived.
SELECT i.id AS inbox_id, i.attempts, m.id AS message_id, m.type, m.text, m.content, m.created_at
FROM inbox i JOIN messages m ON m.id = i.message_id
WHERE i.chat_id = $1 AND i.processed_at IS NULL ORDER BY i.id;

-- name: inbox_mark_processed
UPDATE inbox SET processed_at = now(), attempts = attempts + 1 WHERE id = $1 AND processed_at IS NULL;

-- name: inbox_mark_failed
-- A failed attempt: counted, with its error; the row stays unprocessed for the next dispatch.
UPDATE inbox SET attempts = attempts + 1, last_error = left($2, 2000) WHERE id = $1;
