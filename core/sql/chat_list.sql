-- name: chat_list
-- One page of the «Бот» / «Мои» tabs: chats of accounts $1 in mode $2 (NULL: both), only unread ones when $3,
-- newest activity first, after the cursor ($4 activity, $5 id; NULL: the first page); $6 rows.
-- The page is picked from the chats alone, then joined: sorting a tab's few-column chat rows is cheap, sorting
-- them joined to buyers, listings and accounts is not. (No index orders chats by activity: see migration 0011.)
SELECT r.*
FROM (
    SELECT c.id, coalesce(c.last_message_at, c.created_at) AS activity_at
    FROM chats c
    WHERE c.account_id = ANY($1::bigint[])
      AND ($2::text IS NULL OR c.mode = $2)
      AND (NOT $3 OR c.unread_count > 0)
      AND ($4::timestamptz IS NULL OR (coalesce(c.last_message_at, c.created_at), c.id) < ($4, $5::bigint))
    ORDER BY activity_at DESC, c.id DESC
    LIMIT $6
) AS page
JOIN chat_rows r ON r.id = page.id
ORDER BY page.activity_at DESC, page.id DESC;

-- name: chat_rows
-- The same rows for given chat ids (one chat, search hits), restricted to accounts $2.
SELECT * FROM chat_rows r WHERE r.id = ANY($1::bigint[]) AND r.account_id = ANY($2::bigint[]);

-- name: chat_tab_counts
-- Chats and unread chats per mode, for the tab badges.
SELECT mode, count(*) AS chats, count(*) FILTER (WHERE unread_count > 0) AS unread
FROM chats WHERE account_id = ANY($1::bigint[]) GROUP BY mode;

-- name: chat_messages_latest
-- The newest $2 messages of a chat, newest first.
SELECT id, chat_id, avito_message_id, direction, author_kind, type, text, content, created_at, author_user_id
FROM messages WHERE chat_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2;

-- name: chat_messages_before
-- $2 messages older than message $3, newest first.
SELECT m.id, m.chat_id, m.avito_message_id, m.direction, m.author_kind, m.type, m.text, m.content, m.created_at,
       m.author_user_id
FROM messages m, (SELECT created_at, id FROM messages WHERE id = $3 AND chat_id = $1) AS edge
WHERE m.chat_id = $1 AND (m.created_at, m.id) < (edge.created_at, edge.id)
ORDER BY m.created_at DESC, m.id DESC LIMIT $2;

-- name: chat_messages_after
-- $2 messages newer than message $3, oldest first; with $4 the message $3 itself too (a search hit's page).
SELECT m.id, m.chat_id, m.avito_message_id, m.direction, m.author_kind, m.type, m.text, m.content, m.created_at,
       m.author_user_id
FROM messages m, (SELECT created_at, id FROM messages WHERE id = $3 AND chat_id = $1) AS edge
WHERE m.chat_id = $1
  AND ((m.created_at, m.id) > (edge.created_at, edge.id) OR ($4 AND m.id = edge.id))
ORDER BY m.created_at, m.id LIMIT $2;

-- name: chat_mark_read
-- The operator has seen the chat: nothing unread; NULL when it was already read.
UPDATE chats SET unread_count = 0 WHERE id = $1 AND unread_count > 0 RETURNING account_id;

-- name: chat_assign_operator
-- A chat already in operator mode taken by another operator: the new one leads it.
UPDATE chats SET operator_id = $2 WHERE id = $1 AND mode = 'operator' AND operator_id IS DISTINCT FROM $2
RETURNING account_id;

-- name: chat_account_user
-- The Avito user id of the account a chat belongs to (the author of what we send there).
SELECT a.avito_user_id FROM chats c JOIN accounts a ON a.id = c.account_id WHERE c.id = $1;

-- name: chat_last_takeover
-- The latest switch of a chat to operator mode: the handoff notice is sent once per takeover.
SELECT max(id) FROM chat_mode_changes WHERE chat_id = $1 AND to_mode = 'operator';
