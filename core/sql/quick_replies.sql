-- name: quick_reply_list
-- Shared replies and those of accounts $1, shared first, then by title.
SELECT id, account_id, title, text, created_at, updated_at FROM quick_replies
WHERE account_id IS NULL OR account_id = ANY($1::bigint[])
ORDER BY account_id NULLS FIRST, lower(title), id;

-- name: quick_reply_get
SELECT id, account_id, title, text, created_at, updated_at FROM quick_replies WHERE id = $1;

-- name: quick_reply_insert
INSERT INTO quick_replies (account_id, title, text, created_by) VALUES ($1, $2, $3, $4)
RETURNING id, account_id, title, text, created_at, updated_at;

-- name: quick_reply_update
UPDATE quick_replies SET account_id = $2, title = $3, text = $4 WHERE id = $1
RETURNING id, account_id, title, text, created_at, updated_at;

-- name: quick_reply_delete
DELETE FROM quick_replies WHERE id = $1;
