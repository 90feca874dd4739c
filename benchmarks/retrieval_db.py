"""Retrieval as the product runs it: the knowledge base in PostgreSQL, the question's nearest chunks from
pgvector (HNSW), the lexical index built from the database — over the labelled questions, with the demo
knowledge base padded to ~10,000 chunks by the same distractor cards as benchmarks/retrieval.py.

    python benchmarks/retrieval_db.py [--chunks 10000] [--embedder use|none]

Prints one JSON object: Recall@1/@3, MRR and p50/p95 latency of `KnowledgeBase.search` (the call the Search
node and `avibot kb search` make), per DEV/TEST/all split, plus import and index-build times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from retrieval import by_split, distractor_articles, load_kb, load_questions  # noqa: E402

from core import db  # noqa: E402
from core.embedded import EmbeddedPostgres  # noqa: E402
from core.kb.json_import import parse_json  # noqa: E402
from core.kb.models import ArticleIn, KbImport  # noqa: E402
from core.kb.search import KnowledgeBase  # noqa: E402
from core.kb.store import apply_import, stats  # noqa: E402
from core.migrate import migrate  # noqa: E402
from graphs.retrieval import KnowledgeIndex, LocalEmbedder  # noqa: E402


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    conn = await db.connect(url)
    await migrate(conn)
    await conn.close()
    pool = await db.create_pool(url, max_size=4)
    embedder = LocalEmbedder("use") if args.embedder == "use" else None
    report: dict[str, Any] = {"embedder": embedder.name if embedder else None}
    try:
        kb_path = Path(args.kb)
        kb_bytes = kb_path.read_bytes()  # noqa: ASYNC240 — a benchmark's setup, nothing else is waiting
        articles, _ = load_kb(kb_path)
        base_chunks = len(KnowledgeIndex(articles).chunks)
        extra = distractor_articles(articles, args.chunks, base_chunks) if args.chunks else []
        t0 = time.perf_counter()
        await apply_import(pool, parse_json(kb_bytes), embedder=embedder)
        padding = [
            ArticleIn(
                external_id=a["external_id"], title=a["title"], text=a["text"], tags=a["tags"], category="products"
            )
            for a in extra
        ]
        for start in range(0, len(padding), 500):
            await apply_import(pool, KbImport(source="bench", articles=padding[start : start + 500]), embedder=embedder)
        report["import_s"] = round(time.perf_counter() - t0, 1)
        found = await stats(pool)
        report["articles"], report["chunks"], report["embedded_chunks"] = (
            found.articles,
            found.chunks,
            found.embedded_chunks,
        )

        base = KnowledgeBase(pool, embedder)
        t0 = time.perf_counter()
        await base.index()
        report["index_build_s"] = round(time.perf_counter() - t0, 1)

        questions = load_questions(Path(args.questions))
        loop = asyncio.get_running_loop()

        def rank(q: dict[str, Any]) -> list[str]:
            future = asyncio.run_coroutine_threadsafe(
                base.search(q["q"], top_k=10, item_title=q.get("item_title")), loop
            )
            return [h.external_id for h in future.result()]

        # by_split times each call; it runs in a worker thread while this loop serves the searches.
        report["search"] = await asyncio.to_thread(by_split, questions, rank)
    finally:
        await pool.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000, help="pad the knowledge base to about this many chunks")
    parser.add_argument("--embedder", choices=["use", "none"], default="use")
    parser.add_argument("--kb", default=str(ROOT / "core" / "demo" / "kb.json"))
    parser.add_argument("--questions", default=str(ROOT / "tests" / "data" / "retrieval_questions.jsonl"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="avibot-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp))
        try:
            report = asyncio.run(run(server.start(), args))
        finally:
            server.stop()
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
