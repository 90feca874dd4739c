-- Message search's newest-first walk (core/store/search.py): when a query matches many messages, the newest chats
-- are found by reading the user's accounts' messages in time order and testing each, which stops after a few
-- thousand rows; the GIN index would hand over every match first. (created_at, id) is also the walk's keyset.
CREATE INDEX messages_created_idx ON messages (created_at DESC, id DESC);
