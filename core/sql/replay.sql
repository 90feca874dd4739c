-- name: replay_chats_since
-- Chats where a buyer wrote since $1 (optionally of account $2 only), with their listing and buyer, by id.
SELECT c.id, c.account_id, a.name AS account, i.avito_item_id, i.title AS item_title, i.price AS item_price,
       i.url AS item_url, b.name AS buyer_name
FROM chats c
JOIN accounts a ON a.id = c.account_id
LEFT JOIN items i ON i.id = c.item_id
LEFT JOIN buyers b ON b.id = c.buyer_id
WHERE ($2::bigint IS NULL OR c.account_id = $2)
  AND EXISTS (
      SELECT 1 FROM messages m
      WHERE m.chat_id = c.id AND m.author_kind = 'client' AND m.created_at >= $1::timestamptz
  )
ORDER BY c.id;

-- name: replay_chat_messages
-- Every message of these chats, each chat's in the order they were written (earlier ones are the history).
SELECT chat_id, id, author_kind, text, created_at
FROM messages
WHERE chat_id = ANY($1::bigint[])
ORDER BY chat_id, created_at, id;
