-- name: kb_upsert_category
-- Creates a category or renames an existing one; `created` tells which.
INSERT INTO kb_categories (slug, title) VALUES ($1, $2)
ON CONFLICT (slug) DO UPDATE SET title = EXCLUDED.title
RETURNING id, (xmax = 0) AS created;

-- name: kb_category_ids
-- slug → id for every category.
SELECT slug, id FROM kb_categories;

-- name: kb_list_categories
-- Categories with their article counts, in display order.
SELECT c.id, c.slug, c.title, c.position, count(a.id)::int AS articles
FROM kb_categories c LEFT JOIN kb_articles a ON a.category_id = c.id
GROUP BY c.id ORDER BY c.position, c.title;

-- name: kb_get_category
-- One category by slug, with its article count.
SELECT c.id, c.slug, c.title, c.position, (SELECT count(*)::int FROM kb_articles a WHERE a.category_id = c.id) AS articles
FROM kb_categories c WHERE c.slug = $1;

-- name: kb_update_category
-- Renames / reorders a category.
UPDATE kb_categories SET title = $2, position = $3 WHERE slug = $1 RETURNING id;

-- name: kb_delete_category
-- Deletes a category; its articles stay, uncategorised.
DELETE FROM kb_categories WHERE slug = $1 RETURNING id;

-- name: kb_article_hashes
-- Existing articles among these external ids, with what decides "unchanged".
SELECT external_id, id, content_hash FROM kb_articles WHERE external_id = ANY($1::text[]);

-- name: kb_insert_article
-- A new article.
INSERT INTO kb_articles (external_id, category_id, title, text, tags, source, meta, avito_item_ids, content_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id;

-- name: kb_update_article
-- Replaces an article's content (its chunks are rewritten by the caller in the same transaction).
UPDATE kb_articles
SET category_id = $2, title = $3, text = $4, tags = $5, source = $6, meta = $7, avito_item_ids = $8, content_hash = $9
WHERE id = $1;

-- name: kb_delete_chunks
-- Drops an article's chunks before they are rewritten.
DELETE FROM kb_chunks WHERE article_id = $1;

-- name: kb_insert_chunk
-- One chunk with its embedding (NULL when no embedder is configured) and its Russian tsvector.
INSERT INTO kb_chunks (article_id, position, text, embedding, embedder, tsv)
VALUES ($1, $2, $3, $4, $5, to_tsvector('russian', $3));

-- name: kb_delete_missing
-- With --replace: articles of this source that the new import no longer has.
DELETE FROM kb_articles WHERE source = $1 AND NOT (external_id = ANY($2::text[])) RETURNING external_id;

-- name: kb_bump_version
-- Every change to the knowledge base moves this counter, so cached retrieval indexes know to reload.
INSERT INTO app_state (key, value) VALUES ('kb_version', '1')
ON CONFLICT (key) DO UPDATE SET value = to_jsonb((app_state.value #>> '{}')::bigint + 1), updated_at = now()
RETURNING (value #>> '{}')::bigint;

-- name: kb_version
-- The knowledge base's change counter (NULL before the first change).
SELECT (value #>> '{}')::bigint FROM app_state WHERE key = 'kb_version';

-- name: kb_list_articles
-- A page of articles, optionally of one category and/or matching a title fragment, newest edits first.
SELECT a.id, a.external_id, a.title, a.text, a.tags, c.slug AS category, a.source, a.meta, a.avito_item_ids,
       a.updated_at, (SELECT count(*)::int FROM kb_chunks ch WHERE ch.article_id = a.id) AS chunks
FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id
WHERE ($1::text IS NULL OR c.slug = $1)
  AND ($2::text IS NULL OR a.title ILIKE '%' || $2 || '%' OR a.external_id = $2)
ORDER BY a.updated_at DESC, a.id DESC
LIMIT $3 OFFSET $4;

-- name: kb_count_articles
-- How many articles kb_list_articles would page through.
SELECT count(*)::int FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id
WHERE ($1::text IS NULL OR c.slug = $1)
  AND ($2::text IS NULL OR a.title ILIKE '%' || $2 || '%' OR a.external_id = $2);

-- name: kb_get_article
-- One article by external id.
SELECT a.id, a.external_id, a.title, a.text, a.tags, c.slug AS category, a.source, a.meta, a.avito_item_ids,
       a.updated_at, (SELECT count(*)::int FROM kb_chunks ch WHERE ch.article_id = a.id) AS chunks
FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id
WHERE a.external_id = $1;

-- name: kb_delete_article
-- Deletes an article; its chunks go with it (ON DELETE CASCADE).
DELETE FROM kb_articles WHERE external_id = $1 RETURNING id;

-- name: kb_stats
-- Sizes of the knowledge base.
SELECT (SELECT count(*)::int FROM kb_categories) AS categories,
       (SELECT count(*)::int FROM kb_articles) AS articles,
       (SELECT count(*)::int FROM kb_chunks) AS chunks,
       (SELECT count(*)::int FROM kb_chunks WHERE embedding IS NOT NULL) AS embedded_chunks,
       (SELECT count(*)::int FROM kb_synonyms) AS synonyms,
       (SELECT max(updated_at) FROM kb_articles) AS last_updated;

-- name: kb_embedders
-- Which embedders produced the stored vectors, and how many each.
SELECT coalesce(embedder, '') AS embedder, count(*)::int AS chunks FROM kb_chunks GROUP BY 1 ORDER BY 1;

-- name: kb_load_articles
-- Every article, for building the in-memory retrieval index.
SELECT a.external_id, a.title, a.text, a.tags, c.slug AS category, a.avito_item_ids, a.meta
FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id
ORDER BY a.id;

-- name: kb_load_chunks
-- Every chunk with its vector (when made by the given embedder), in article and position order.
SELECT ch.id, a.external_id, ch.position, ch.text, CASE WHEN ch.embedder = $1 THEN ch.embedding END AS embedding
FROM kb_chunks ch JOIN kb_articles a ON a.id = ch.article_id
ORDER BY a.id, ch.position;

-- name: kb_chunks_to_embed
-- A batch of chunks whose vector is missing or from another embedder (for `avibot kb reindex`).
SELECT id, text FROM kb_chunks
WHERE embedder IS DISTINCT FROM $1 OR embedding IS NULL
ORDER BY id LIMIT $2;

-- name: kb_set_chunk_embedding
-- Stores one chunk's vector.
UPDATE kb_chunks SET embedding = $2, embedder = $3 WHERE id = $1;

-- name: kb_list_synonyms
-- The shop's synonym list.
SELECT id, term, synonyms FROM kb_synonyms ORDER BY lower(term);

-- name: kb_upsert_synonym
-- Adds or replaces the synonyms of a term.
INSERT INTO kb_synonyms (term, synonyms) VALUES ($1, $2)
ON CONFLICT (lower(term)) DO UPDATE SET synonyms = EXCLUDED.synonyms
RETURNING id, term, synonyms;

-- name: kb_delete_synonym
-- Removes a term from the synonym list.
DELETE FROM kb_synonyms WHERE lower(term) = lower($1) RETURNING id;

-- name: kb_count_to_embed
-- How many chunks `avibot kb reindex` has to (re-)embed for this embedder.
SELECT count(*)::int FROM kb_chunks WHERE embedder IS DISTINCT FROM $1 OR embedding IS NULL;

-- name: kb_article_count
-- How many articles the knowledge base holds.
SELECT count(*)::int FROM kb_articles;

-- name: kb_hnsw_ef_search
-- How many candidates pgvector's HNSW scan keeps (hnsw.ef_search, default 40), until the transaction ends: a scan
-- returns at most that many rows whatever the LIMIT, so the dense query sets it to at least its LIMIT.
SELECT set_config('hnsw.ef_search', $1::text, true);
