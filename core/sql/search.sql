-- name: search_stems
-- Each query word as the 'russian' configuration reads it (stems; empty for a stop word), in the given order.
SELECT coalesce(plainto_tsquery('russian', w)::text, '') AS stems
FROM unnest($1::text[]) WITH ORDINALITY AS words (w, n)
ORDER BY n;

-- name: search_estimate
-- The planner's estimate of the messages of accounts $1 in chats of mode $3 (NULL: both) matching tsquery $2
-- (EXPLAIN plans with the values, from the lexeme and chat_mode statistics of ANALYZE): how much the exact path
-- would read.
EXPLAIN (FORMAT JSON) SELECT 1 FROM messages m
WHERE m.account_id = ANY($1::bigint[]) AND m.search @@ $2::tsquery AND ($3::text IS NULL OR m.chat_mode = $3);

-- name: search_chats
-- The exact path, for queries with few matches: chats of accounts $1 (mode $3; NULL: both) with messages matching
-- tsquery $2, by their newest match, after the cursor ($4 time, $5 chat id; NULL: from the start); $6 rows, each
-- with its match count and the number of chats in all (from the cursor on).
SELECT h.chat_id, max(h.created_at) AS last_match_at, count(*) AS match_count, count(*) OVER () AS total
FROM messages h
WHERE h.account_id = ANY($1::bigint[]) AND h.search @@ $2::tsquery AND ($3::text IS NULL OR h.chat_mode = $3)
GROUP BY h.chat_id
HAVING $4::timestamptz IS NULL OR (max(h.created_at), h.chat_id) < ($4, $5::bigint)
ORDER BY last_match_at DESC, h.chat_id DESC
LIMIT $6;

-- name: search_chats_operator
-- search_chats for the «Оператор» tab, through the index of the operator chats' messages alone (migration 0012):
-- the mode is written out, because a prepared statement's generic plan cannot prove a parameter matches a
-- partial index. Parameters as search_chats without the mode: $3 time, $4 chat id, $5 rows.
SELECT h.chat_id, max(h.created_at) AS last_match_at, count(*) AS match_count, count(*) OVER () AS total
FROM messages h
WHERE h.account_id = ANY($1::bigint[]) AND h.search @@ $2::tsquery AND h.chat_mode = 'operator'
GROUP BY h.chat_id
HAVING $3::timestamptz IS NULL OR (max(h.created_at), h.chat_id) < ($3, $4::bigint)
ORDER BY last_match_at DESC, h.chat_id DESC
LIMIT $5;

-- name: search_walk
-- The newest-first path, for queries with many matches: the newest $5 messages of accounts $1 in chats of mode $6
-- (NULL: both) older than ($3 time, $4 id), walked down the time index. Returned: those matching tsquery $2, and
-- the oldest message walked (where the next step starts), each with how many were walked.
SELECT n.chat_id, n.created_at, n.id, n.matched, n.walked
FROM (
    SELECT w.chat_id, w.created_at, w.id, w.hit AS matched, count(*) OVER () AS walked,
           row_number() OVER (ORDER BY w.created_at DESC, w.id DESC) AS n
    FROM (
        SELECT m.chat_id, m.created_at, m.id, m.search @@ $2::tsquery AS hit
        FROM messages m
        WHERE m.account_id = ANY($1::bigint[]) AND ($6::text IS NULL OR m.chat_mode = $6)
          AND (m.created_at, m.id) < ($3::timestamptz, $4::bigint)
        ORDER BY m.created_at DESC, m.id DESC
        LIMIT $5
    ) AS w
) AS n
WHERE n.matched OR n.n = n.walked
ORDER BY n.created_at DESC, n.id DESC;

-- name: search_walk_operator
-- search_walk for the «Оператор» tab, down the time index of the operator chats' messages alone (see
-- search_chats_operator); parameters as search_walk without the mode.
SELECT n.chat_id, n.created_at, n.id, n.matched, n.walked
FROM (
    SELECT w.chat_id, w.created_at, w.id, w.hit AS matched, count(*) OVER () AS walked,
           row_number() OVER (ORDER BY w.created_at DESC, w.id DESC) AS n
    FROM (
        SELECT m.chat_id, m.created_at, m.id, m.search @@ $2::tsquery AS hit
        FROM messages m
        WHERE m.account_id = ANY($1::bigint[]) AND m.chat_mode = 'operator'
          AND (m.created_at, m.id) < ($3::timestamptz, $4::bigint)
        ORDER BY m.created_at DESC, m.id DESC
        LIMIT $5
    ) AS w
) AS n
WHERE n.matched OR n.n = n.walked
ORDER BY n.created_at DESC, n.id DESC;

-- name: search_chat_stats
-- For chats $1: how many messages match tsquery $2, and the newest of them. `(… @@ …) IS TRUE` is the same test in a
-- form the GIN index cannot serve, so the chats' own index is read: the GIN index would hand over every match of a
-- common word in all chats to keep a few.
SELECT m.chat_id, count(*) AS match_count, max(m.created_at) AS last_match_at
FROM messages m
WHERE m.chat_id = ANY($1::bigint[]) AND (m.search @@ $2::tsquery) IS TRUE
GROUP BY m.chat_id;

-- name: search_matches
-- The newest $3 messages matching tsquery $2 in each of chats $1 (read down the chat's index, see
-- search_chat_stats), with the matched words wrapped in U+E000/U+E001 — which the text itself then cannot contain:
-- they are blanked first, keeping every offset.
SELECT x.id, x.chat_id, x.created_at, x.author_kind, x.text,
       ts_headline('russian', translate(x.text, E'\uE000\uE001', '  '), $2::tsquery,
                   E'StartSel=\uE000, StopSel=\uE001, HighlightAll=true') AS marked
FROM unnest($1::bigint[]) AS chats (chat_id)
CROSS JOIN LATERAL (
    SELECT m.id, m.chat_id, m.created_at, m.author_kind, m.text
    FROM messages m
    WHERE m.chat_id = chats.chat_id AND (m.search @@ $2::tsquery) IS TRUE
    ORDER BY m.created_at DESC, m.id DESC
    LIMIT $3
) AS x;
