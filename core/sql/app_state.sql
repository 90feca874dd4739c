-- name: get_app_state
-- A process-wide fact by key (NULL when never set).
SELECT value FROM app_state WHERE key = $1;

-- name: set_app_state
-- Records a process-wide fact.
INSERT INTO app_state (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
