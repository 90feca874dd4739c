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
