-- Every stored message updates its chat's last message and unread count. While last_message_at was in an index,
-- each of those updates wrote a new entry into every index on chats (eight of them) and left dead ones behind for
-- the next lookup to step over: half of PostgreSQL's work per webhook. Now no index holds a column a message
-- changes, so the update is HOT (the new row version stays on its page, no index is touched); the fill factor
-- leaves the pages room for it.
--
-- The list never read last_message_at from an index: it orders by coalesce(last_message_at, created_at), which
-- none served, so it sorts a tab's chats either way (core/sql/chat_list.sql sorts the narrow chat rows first).
-- chats_recent_idx and chats_operator_idx served no query; the unread filter reads the tab's chats anyway.
DROP INDEX chats_recent_idx;
DROP INDEX chats_operator_idx;
DROP INDEX chats_unread_idx;
DROP INDEX chats_list_idx;
CREATE INDEX chats_tab_idx ON chats (account_id, mode);
ALTER TABLE chats SET (fillfactor = 80);

-- Vacuum chats after a thousand updated rows rather than a fifth of the table: page pruning alone leaves enough
-- dead versions behind that each chat lookup slows to half speed within a minute at a thousand webhooks a second.
ALTER TABLE chats SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
