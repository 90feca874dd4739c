-- The knowledge base the bot answers from: categories → articles → chunks.

CREATE TABLE kb_categories (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    title      text NOT NULL,
    position   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kb_articles (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The id in the imported file or shop; replay reports it in `sources`, re-imports update by it.
    external_id  text NOT NULL UNIQUE,
    category_id  bigint REFERENCES kb_categories (id) ON DELETE SET NULL,
    title        text NOT NULL,
    text         text NOT NULL,
    tags         text[] NOT NULL DEFAULT '{}',
    -- manual, json, ocstore-yml, ocstore-db
    source       text NOT NULL DEFAULT 'manual',
    -- Product facts from a shop import (price, stock, url, picture) and the listings it describes.
    meta         jsonb NOT NULL DEFAULT '{}',
    avito_item_ids bigint[] NOT NULL DEFAULT '{}',
    -- Hash of what chunking and embedding read; an import with the same hash is "unchanged".
    content_hash text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_articles_category_idx ON kb_articles (category_id);
CREATE INDEX kb_articles_items_idx ON kb_articles USING gin (avito_item_ids);
CREATE INDEX kb_articles_title_trgm_idx ON kb_articles USING gin (title gin_trgm_ops);
CREATE TRIGGER kb_articles_touch BEFORE UPDATE ON kb_articles FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE kb_chunks (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id bigint NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    text       text NOT NULL,
    -- The dimension depends on the embedder, so the column has none; `avibot kb reindex` creates the HNSW
    -- index for the active embedder as an expression index over `embedding::vector(N)` WHERE embedder = it.
    embedding  vector,
    embedder   text,
    tsv        tsvector NOT NULL,
    UNIQUE (article_id, position)
);
CREATE INDEX kb_chunks_tsv_idx ON kb_chunks USING gin (tsv);
CREATE INDEX kb_chunks_text_trgm_idx ON kb_chunks USING gin (text gin_trgm_ops);

-- Shop-editable synonyms and slang: «велик» → велосипед, «ноут» → ноутбук.
CREATE TABLE kb_synonyms (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    term       text NOT NULL,
    synonyms   text[] NOT NULL CHECK (cardinality(synonyms) > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX kb_synonyms_term_key ON kb_synonyms (lower(term));
