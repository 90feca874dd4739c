-- Analytics computed by SQL: one row per account and day. The admin pages read these views; their numbers
-- always agree with the underlying rows because nothing is pre-aggregated.

-- Time from a buyer's message to the first answer after it (bot or operator) in the same chat.
CREATE VIEW v_response_times AS
SELECT m.account_id,
       m.chat_id,
       m.id AS message_id,
       m.created_at AS asked_at,
       r.author_kind AS answered_by,
       r.created_at - m.created_at AS response_time
FROM messages m
JOIN LATERAL (
    SELECT a.author_kind, a.created_at
    FROM messages a
    WHERE a.chat_id = m.chat_id AND a.direction = 'out' AND a.created_at >= m.created_at
    ORDER BY a.created_at, a.id
    LIMIT 1
) r ON true
WHERE m.direction = 'in' AND m.author_kind = 'client';

CREATE VIEW v_daily_account_stats AS
WITH days AS (
    SELECT account_id, date_trunc('day', created_at) AS day,
           count(*) FILTER (WHERE author_kind = 'client')   AS client_messages,
           count(*) FILTER (WHERE author_kind = 'bot')      AS bot_messages,
           count(*) FILTER (WHERE author_kind = 'operator') AS operator_messages,
           count(DISTINCT chat_id)                          AS active_chats
    FROM messages GROUP BY 1, 2
), turns AS (
    SELECT account_id, date_trunc('day', created_at) AS day,
           count(*)                                      AS bot_turns,
           count(*) FILTER (WHERE handoff)               AS handoffs,
           count(*) FILTER (WHERE route = 'answer')      AS answered,
           count(*) FILTER (WHERE route = 'clarify')     AS clarified,
           count(*) FILTER (WHERE route = 'fallback')    AS fallbacks,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS turn_latency_p50_ms
    FROM bot_turns GROUP BY 1, 2
), responses AS (
    SELECT account_id, date_trunc('day', asked_at) AS day,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM response_time)) AS response_p50_s
    FROM v_response_times GROUP BY 1, 2
)
SELECT d.account_id, d.day, d.client_messages, d.bot_messages, d.operator_messages, d.active_chats,
       coalesce(t.bot_turns, 0) AS bot_turns, coalesce(t.handoffs, 0) AS handoffs,
       coalesce(t.answered, 0) AS answered, coalesce(t.clarified, 0) AS clarified,
       coalesce(t.fallbacks, 0) AS fallbacks, t.turn_latency_p50_ms, r.response_p50_s
FROM days d
LEFT JOIN turns t USING (account_id, day)
LEFT JOIN responses r USING (account_id, day);

-- Which intents buyers ask about, per account and day.
CREATE VIEW v_daily_intents AS
SELECT account_id, date_trunc('day', created_at) AS day, intent, count(*) AS turns,
       avg(intent_confidence) AS avg_confidence,
       count(*) FILTER (WHERE handoff) AS handoffs
FROM bot_turns
WHERE intent IS NOT NULL
GROUP BY 1, 2, 3;
