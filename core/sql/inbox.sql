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

-- name: inbox_mark_processed
UPDATE inbox SET processed_at = now(), attempts = attempts + 1 WHERE id = $1 AND processed_at IS NULL;

-- name: inbox_mark_failed
-- A failed attempt: counted, with its error; the row stays unprocessed for the next dispatch.
UPDATE inbox SET attempts = attempts + 1, last_error = left($2, 2000) WHERE id = $1;

-- name: ingest_messages
-- Several message deliveries in one statement — one transaction, one commit (group commit) — each through
-- `ingest_message` in the order given; one result row per delivery, in that order. Payloads and contents are JSON
-- text (a webhook's body is stored as received, without decoding and re-encoding it).
SELECT r.chat_id, r.chat_created, r.message_id, r.inbox_id, r.author_kind, r.dispatch, r.mode, r.mode_changed
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],
            $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::bigint[])
     WITH ORDINALITY AS d(account, own_user, delivery, payload, chat, chat_type, message, author, type, text, content,
                          created, item, n)
CROSS JOIN LATERAL ingest_message(d.account, d.own_user, d.delivery, d.payload::jsonb, d.chat, d.chat_type,
                                  d.message, d.author, d.type, d.text, d.content::jsonb, d.created, d.item) AS r
ORDER BY d.n;
