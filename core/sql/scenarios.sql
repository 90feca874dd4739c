-- name: scenario_list
-- Every scenario with its published version and how many versions it has.
SELECT s.id, s.name, s.description, s.published_version, s.updated_at,
       (SELECT count(*)::int FROM scenario_versions v WHERE v.scenario_id = s.id) AS versions
FROM scenarios s ORDER BY s.id;

-- name: scenario_get
-- One scenario with its draft.
SELECT id, name, description, draft, published_version, updated_at FROM scenarios WHERE id = $1;

-- name: scenario_insert
-- A new scenario (its draft only; nothing published yet). Does nothing if the id is taken.
INSERT INTO scenarios (id, name, description, draft) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO NOTHING RETURNING id;

-- name: scenario_save_draft
-- Replaces a scenario's draft (and its name and description).
UPDATE scenarios SET name = $2, description = $3, draft = $4 WHERE id = $1 RETURNING id;

-- name: scenario_next_version
-- The number the next published version gets (locks the scenario row against a concurrent publish).
SELECT coalesce((SELECT max(version) FROM scenario_versions WHERE scenario_id = $1), 0) + 1
FROM scenarios WHERE id = $1 FOR UPDATE;

-- name: scenario_insert_version
-- Freezes a spec as a new, immutable version.
INSERT INTO scenario_versions (scenario_id, version, spec, note, created_by) VALUES ($1, $2, $3, $4, $5);

-- name: scenario_set_published
-- Makes a version the live one.
UPDATE scenarios SET published_version = $2 WHERE id = $1;

-- name: scenario_get_version
-- One published version's spec.
SELECT spec FROM scenario_versions WHERE scenario_id = $1 AND version = $2;

-- name: scenario_versions
-- The versions of a scenario, newest first.
SELECT version, note, created_by, created_at FROM scenario_versions WHERE scenario_id = $1 ORDER BY version DESC;

-- name: scenario_of_account
-- The scenario assigned to an account (NULL: the default one).
SELECT scenario_id FROM accounts WHERE id = $1;
