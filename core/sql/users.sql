-- name: insert_user
-- Creates a user; the unique index on lower(login) rejects a second "Admin" beside "admin".
INSERT INTO users (login, password_hash, role, display_name)
VALUES ($1, $2, $3, $4)
RETURNING id, login, role, display_name, is_active, created_at, last_login_at;

-- name: get_user_by_login
-- The user with this login, case-insensitive, with the password hash (login only).
SELECT id, login, role, display_name, is_active, created_at, last_login_at, password_hash
FROM users WHERE lower(login) = lower($1);

-- name: get_user
-- One user by id.
SELECT id, login, role, display_name, is_active, created_at, last_login_at FROM users WHERE id = $1;

-- name: count_users
-- How many users exist (first run creates an admin when there are none).
SELECT count(*) FROM users;

-- name: set_password
-- Replaces a user's password hash.
UPDATE users SET password_hash = $2 WHERE id = $1;

-- name: record_login
-- Notes a successful login.
UPDATE users SET last_login_at = now() WHERE id = $1 RETURNING last_login_at;

-- name: user_selected_accounts
-- The accounts ticked in «Аккаунты (N)» (NULL: all the user may see) and the messenger's preferences.
SELECT selected_account_ids, preferences FROM users WHERE id = $1;

-- name: user_set_selected_accounts
UPDATE users SET selected_account_ids = $2 WHERE id = $1;

-- name: user_merge_preferences
-- Merges the given preferences into the stored ones; returns the result.
UPDATE users SET preferences = preferences || $2::jsonb WHERE id = $1 RETURNING preferences;

-- name: user_grant_accounts
-- Lets an operator see these accounts (admins see every account anyway); unknown account ids are skipped.
INSERT INTO user_accounts (user_id, account_id)
SELECT $1, a.id FROM accounts a WHERE a.id = ANY($2::bigint[])
ON CONFLICT DO NOTHING;

-- name: user_revoke_accounts
DELETE FROM user_accounts WHERE user_id = $1 AND account_id = ANY($2::bigint[]);

-- name: user_granted_accounts
SELECT account_id FROM user_accounts WHERE user_id = $1 ORDER BY account_id;
