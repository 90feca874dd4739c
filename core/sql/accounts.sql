-- name: account_upsert
-- Connects an account, or reconnects it (new credentials, back to active) when its Avito user is known.
-- The webhook secret is kept on reconnect, so Avito's subscription stays valid.
INSERT INTO accounts (avito_user_id, name, credentials, webhook_secret, is_sandbox, settings)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (avito_user_id) DO UPDATE SET
    name = EXCLUDED.name, credentials = EXCLUDED.credentials, is_sandbox = EXCLUDED.is_sandbox,
    settings = accounts.settings || EXCLUDED.settings, state = 'active', state_detail = '',
    access_token = NULL, token_expires_at = NULL
RETURNING id, avito_user_id, name, state, state_detail, scenario_id, settings, sync_state, is_sandbox, created_at,
          webhook_secret, (xmax = 0) AS created;

-- name: account_list
-- Connected accounts (removed ones only when asked), oldest first.
SELECT id, avito_user_id, name, state, state_detail, scenario_id, settings, sync_state, is_sandbox, created_at
FROM accounts WHERE $1::boolean OR state <> 'removed' ORDER BY id;

-- name: account_get
SELECT id, avito_user_id, name, state, state_detail, scenario_id, settings, sync_state, is_sandbox, created_at
FROM accounts WHERE id = $1;

-- name: account_secrets
-- What an AccountActor needs to talk to Avito: encrypted credentials and the stored token.
SELECT id, avito_user_id, credentials, access_token, token_expires_at, settings FROM accounts WHERE id = $1;

-- name: account_webhook_targets
-- Every live account's webhook secret, for the webhook endpoint's lookup table.
SELECT id, avito_user_id, webhook_secret FROM accounts WHERE state <> 'removed';

-- name: account_webhook_secret
SELECT webhook_secret FROM accounts WHERE id = $1;

-- name: account_save_token
-- A fresh access token (encrypted) and, when the grant returned one, the new credentials with the new
-- refresh token.
UPDATE accounts SET access_token = $2, token_expires_at = $3, credentials = coalesce($4, credentials)
WHERE id = $1;

-- name: account_set_state
UPDATE accounts SET state = $2, state_detail = $3 WHERE id = $1 RETURNING id;

-- name: account_remove
-- Disconnects an account: its history stays, its webhook URL stops working (a new secret), its chats leave
-- the inbox.
UPDATE accounts SET state = 'removed', state_detail = '', webhook_secret = $2, access_token = NULL
WHERE id = $1 AND state <> 'removed' RETURNING id;

-- name: account_set_sync_state
UPDATE accounts SET sync_state = $2 WHERE id = $1;

-- name: account_set_settings
-- Merges keys into the account's settings.
UPDATE accounts SET settings = settings || $2 WHERE id = $1;

-- name: account_has_external
-- Whether any account is connected besides the built-in demo sandbox's shops: `avibot up` starts the demo
-- sandbox only when none is.
SELECT EXISTS (
    SELECT 1 FROM accounts
    WHERE state <> 'removed' AND NOT coalesce((settings ->> 'builtin_sandbox')::boolean, false)
);

-- name: account_ids_visible
-- The accounts a user may see: every live one for an admin, the granted ones for an operator.
SELECT a.id FROM accounts a
WHERE a.state <> 'removed'
  AND ($2 = 'admin' OR EXISTS (SELECT 1 FROM user_accounts ua WHERE ua.user_id = $1 AND ua.account_id = a.id))
ORDER BY a.id;

-- name: account_pause_builtin
-- The demo sandbox's shops, when `avibot up` does not start the demo sandbox (another account is connected).
UPDATE accounts SET state = 'paused', state_detail = $1
WHERE state = 'active' AND coalesce((settings ->> 'builtin_sandbox')::boolean, false);
