"""Hybrid Russian retrieval over a shop's knowledge base (in-process; pgvector plugs in through hooks).

Typical use::

    from graphs.retrieval import KnowledgeIndex, LocalEmbedder

    index = KnowledgeIndex(articles, synonyms=shop_synonyms, category_titles=titles)
    hits = index.search("скока доставка до казани", top_k=3, item_title=listing_title)
    if hits and hits[0].score >= 0.5:
        answer_from(hits[0].passage)

See :mod:`graphs.retrieval.index` for what the score means.
"""

from .aliases import DEFAULT_SYNONYMS_PATH, BrandMatcher, SynonymTable, cyrillic_renderings
from .analysis import Analyzer, QueryTerms
from .chunking import Chunk, chunk_article, split_sentences
from .embedders import Embedder, LocalEmbedder, OpenAIEmbedder, embed_queries, l2_normalise
from .index import Article, ChunkKey, DenseHook, Hit, KnowledgeIndex, ScoreModel, Signals
from .lexical import BM25Index, CharNgramIndex

__all__ = [
    "DEFAULT_SYNONYMS_PATH",
    "Analyzer",
    "Article",
    "BM25Index",
    "BrandMatcher",
    "CharNgramIndex",
    "Chunk",
    "ChunkKey",
    "DenseHook",
    "Embedder",
    "Hit",
    "KnowledgeIndex",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "QueryTerms",
    "ScoreModel",
    "Signals",
    "SynonymTable",
    "chunk_article",
    "cyrillic_renderings",
    "embed_queries",
    "l2_normalise",
    "split_sentences",
]
