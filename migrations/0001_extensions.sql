-- Extensions every later migration relies on. `vector` needs a superuser (or a provider that allow-lists it)
-- on an external server; the embedded server runs migrations as its superuser.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Keeps `updated_at` honest without every UPDATE having to remember it.
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- Small process-wide facts: "the demo data is loaded", "the first admin was created".
CREATE TABLE app_state (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
