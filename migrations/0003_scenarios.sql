-- Scenarios drawn in the editor. The draft is mutable; every publish freezes a numbered version, and every bot
-- turn records the version it ran, so a replay or an audit can always reproduce it.
CREATE TABLE scenarios (
    id                text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name              text NOT NULL,
    description       text NOT NULL DEFAULT '',
    draft             jsonb NOT NULL,
    published_version integer,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER scenarios_touch BEFORE UPDATE ON scenarios FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE scenario_versions (
    scenario_id text NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    version     integer NOT NULL CHECK (version > 0),
    spec        jsonb NOT NULL,
    note        text NOT NULL DEFAULT '',
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scenario_id, version)
);

CREATE FUNCTION forbid_scenario_version_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'scenario version %@% is immutable; publish a new version instead',
        OLD.scenario_id, OLD.version;
END $$;
CREATE TRIGGER scenario_versions_immutable BEFORE UPDATE ON scenario_versions
    FOR EACH ROW EXECUTE FUNCTION forbid_scenario_version_update();

ALTER TABLE scenarios ADD CONSTRAINT scenarios_published_version_fkey
    FOREIGN KEY (id, published_version) REFERENCES scenario_versions (scenario_id, version)
    DEFERRABLE INITIALLY DEFERRED;
