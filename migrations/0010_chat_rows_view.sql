-- A chat as the messenger's list draws it (buyer, listing, account, operator, last message), in one place: the
-- list's pages and the rows of given chats (one chat, search hits) both read it.
CREATE VIEW chat_rows AS
SELECT c.id, c.account_id, a.name AS account_name, c.avito_chat_id, c.chat_type, c.mode, c.operator_id,
       u.display_name AS operator_name, c.unread_count, c.last_message_at, c.last_message_text,
       c.last_message_author, coalesce(c.last_message_at, c.created_at) AS activity_at,
       b.id AS buyer_id, b.name AS buyer_name, b.avatar_url AS buyer_avatar_url, b.profile_url AS buyer_profile_url,
       i.id AS item_id, i.avito_item_id, i.title AS item_title, i.price_text AS item_price_text, i.url AS item_url,
       i.image_url AS item_image_url
FROM chats c
JOIN accounts a ON a.id = c.account_id
LEFT JOIN users u ON u.id = c.operator_id
LEFT JOIN buyers b ON b.id = c.buyer_id
LEFT JOIN items i ON i.id = c.item_id;
