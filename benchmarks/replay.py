"""Batch replay throughput on Ray: 5,000 generated conversations through the default scenario, offline engine,
on 1 and on 2 workers of a local Ray, against embedded PostgreSQL holding the demo knowledge base (embedded with
the local embedder, as `avibot up` loads it).

    python benchmarks/replay.py [--conversations 5000] [--seed 7] [--skip-parity]

Prints one JSON object: conversations/s and client messages (turns)/s per worker count (setup — actor start,
snapshot, models — measured apart from the replay itself), the 1 → 2 scaling ratio, whether both runs gave the
same results (the determinism digest), one core without Ray for reference (with what a text costs the first
time a worker sees it: a worker computes each distinct text's intent, lexical signals and — for an embedder the
ranking weighs, which the offline default is not — its embedding and nearest chunks, once), and a check that the
replay's retrieval gives exactly what the live `KnowledgeBase.search` gives for every distinct client message.

Conversations are generated deterministically from graphs/offline/intent_examples.jsonl (the classifier's
training phrasing) and the questions of tests/data/retrieval_questions.jsonl — never from
tests/data/intents_labelled.jsonl, the held-out intent evaluation set — with light variations of case and
punctuation, under the demo shop's listings, with recorded bot and operator replies in between.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actors import cluster  # noqa: E402
from actors.replay import (  # noqa: E402
    Conversation,
    Message,
    Worker,
    WorkerConfig,
    results_digest,
    run_on_ray,
    scenario_bytes,
    turns_of,
)
from core import db  # noqa: E402
from core.embedded import EmbeddedPostgres  # noqa: E402
from core.kb.json_import import parse_json  # noqa: E402
from core.kb.search import KnowledgeBase, dense_sql, fetch_dense, nearest_in_memory  # noqa: E402
from core.kb.store import apply_import  # noqa: E402
from core.migrate import migrate  # noqa: E402
from core.scenarios import default_scenario, seed_default  # noqa: E402
from graphs.compiler import TurnInput, run_turn  # noqa: E402
from graphs.offline.intent_classifier import IntentClassifier  # noqa: E402
from graphs.retrieval import LocalEmbedder, embed_queries  # noqa: E402

DEMO_KB = ROOT / "core" / "demo" / "kb.json"
INTENT_EXAMPLES = ROOT / "graphs" / "offline" / "intent_examples.jsonl"
QUESTIONS = ROOT / "tests" / "data" / "retrieval_questions.jsonl"
START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


# --- conversations --------------------------------------------------------------------------------------------


def _listings() -> list[dict[str, Any]]:
    kb = json.loads(DEMO_KB.read_text())
    listings = []
    for n, article in enumerate(a for a in kb["articles"] if a["category"] == "products"):
        price = re.search(r"Цена\s+([\d  ]+)\s*₽", article["text"])
        listings.append(
            {
                "id": 4100000001 + n,
                # Avito titles carry no "(новый)"; the replay finds the listing's article by title similarity.
                "title": re.sub(r"\s*\(.*?\)\s*$", "", article["title"]),
                "price": int(re.sub(r"\D", "", price.group(1))) if price else 1000 + 500 * n,
                "passage": article["text"].split(". ")[0] + ".",
            }
        )
    return listings


def _vary(text: str, rnd: random.Random) -> str:
    """How buyers type the same thing: case, the final punctuation, a stray space."""
    roll = rnd.random()
    if roll < 0.25:
        text = text.lower()
    elif roll < 0.35:
        text = text[:1].upper() + text[1:]
    if rnd.random() < 0.3:
        text = text.rstrip("?!.") + rnd.choice(["", "?", "??", "!", " ?"])
    return text


def generate(count: int, seed: int) -> list[Conversation]:
    rnd = random.Random(seed)
    by_intent: dict[str, list[str]] = {}
    for line in INTENT_EXAMPLES.read_text().splitlines():
        row = json.loads(line)
        by_intent.setdefault(row["intent"], []).append(row["text"])
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    general = [q["q"] for q in questions if "item_title" not in q]
    about_item = [q for q in questions if "item_title" in q]
    listings = _listings()
    bot_replies = ["Здравствуйте! Да, в наличии.", "Добрый день! Уточню и напишу.", "Да, отправляем Авито Доставкой."]
    operator_replies = ["Здравствуйте, это менеджер. Сейчас посмотрю.", "Да, можно. Когда вам удобно?"]
    topical = [i for i in by_intent if i not in ("greeting", "thanks", "human", "complaint", "other")]

    conversations = []
    for n in range(count):
        listing = rnd.choice(listings)
        texts: list[str] = []
        if rnd.random() < 0.35:  # many chats open with a greeting, alone or before the question
            texts.append(rnd.choice(by_intent["greeting"]))
        for _ in range(rnd.choices([1, 2, 3], weights=[60, 30, 10])[0]):
            roll = rnd.random()
            if roll < 0.55:
                texts.append(rnd.choice(general))
            elif roll < 0.65:
                question = rnd.choice(about_item)
                listing = next((x for x in listings if question["item_title"].startswith(x["title"])), listing)
                texts.append(question["q"])
            elif roll < 0.9:
                texts.append(rnd.choice(by_intent[rnd.choice(topical)]))
            else:
                texts.append(rnd.choice(by_intent[rnd.choice(["human", "complaint", "other"])]))
        if rnd.random() < 0.25:
            texts.append(rnd.choice(by_intent["thanks"]))
        if len(texts) > 1 and rnd.random() < 0.3:  # a greeting glued to the question, as one message
            texts[:2] = [f"{texts[0].rstrip('!.')}, {texts[1][:1].lower()}{texts[1][1:]}"]

        messages: list[Message] = []
        at = START + timedelta(minutes=n)
        for k, text in enumerate(texts):
            messages.append(Message(id=f"b{n}-{len(messages)}", author="client", text=_vary(text, rnd), created=at))
            at += timedelta(seconds=rnd.randint(5, 300))
            if k < len(texts) - 1 and rnd.random() < 0.8:  # a recorded reply between the buyer's messages
                author = "operator" if rnd.random() < 0.2 else "bot"
                reply = rnd.choice(operator_replies if author == "operator" else [*bot_replies, listing["passage"]])
                messages.append(Message(id=f"b{n}-{len(messages)}", author=author, text=reply, created=at))
                at += timedelta(seconds=rnd.randint(20, 900))
        item = {"id": listing["id"], "title": listing["title"], "price": listing["price"]}
        conversations.append(
            Conversation(chat_id=f"bench-{n:05d}", account="bench", item=item, messages=tuple(messages))
        )
    return conversations


# --- measurements ---------------------------------------------------------------------------------------------


async def prepare(url: str) -> None:
    conn = await db.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await db.create_pool(url, max_size=2)
    try:
        await seed_default(pool)
        await apply_import(pool, parse_json(DEMO_KB.read_bytes()), embedder=LocalEmbedder())
    finally:
        await pool.close()


async def in_process(config: WorkerConfig, conversations: list[Conversation]) -> dict[str, Any]:
    """The same work on one core without Ray: what a worker costs per turn, for reading the Ray figures."""
    opened = time.perf_counter()
    worker = await Worker.open(config)
    setup_s = time.perf_counter() - opened
    try:
        started = time.perf_counter()
        results = await worker.replayer.replay(conversations)
        seconds = time.perf_counter() - started
        # Where a turn's time goes, from the traces of the same turns run again: a worker keeps each question's
        # signals and each message's intent, so "search" here is ranking and "intent" a lookup. The first time a
        # text comes costs what `per_distinct_text_ms` below measures; that is the rest of ms_per_turn above.
        spent: dict[str, float] = {}
        total = 0.0
        count = 0
        for conversation in conversations:
            for turn in turns_of(conversation):
                result = await run_turn(
                    worker.replayer.compiled,
                    TurnInput(message=turn.message, history=turn.history, item=conversation.item),
                    worker.replayer.runtime,
                )
                total += result.latency_ms
                count += 1
                for entry in result.trace:
                    spent[entry["type"]] = spent.get(entry["type"], 0.0) + entry["ms"]
        first_time = await per_distinct_text(worker, sorted({t.message for c in conversations for t in turns_of(c)}))
    finally:
        await worker.close()
    turns = sum(len(r.turns) for r in results)
    nodes = {kind: round(ms / count, 2) for kind, ms in sorted(spent.items(), key=lambda kv: -kv[1])}
    return {
        "conversations": len(conversations),
        "turns": turns,
        "setup_s": round(setup_s, 2),
        "seconds": round(seconds, 2),
        "conversations_per_s": round(len(conversations) / seconds, 1),
        "turns_per_s": round(turns / seconds, 1),
        "ms_per_turn": round(1000 * seconds / turns, 2),
        "warm_ms_per_turn": {
            "total": round(total / count, 2),
            "inside_nodes": nodes,
            "graph_engine": round((total - sum(spent.values())) / count, 2),
        },
        "per_distinct_text_ms": first_time,
    }


async def per_distinct_text(worker: Worker, texts: list[str]) -> dict[str, Any]:
    """What a worker spends on a text the first time it sees it (each step timed alone, on up to 300 texts):
    the intent model for every client message; embedding, the nearest chunks (in memory, or pgvector for a big
    base) and the lexical signals for a question that reaches the Search node."""
    texts = texts[:: max(1, len(texts) // 300)][:300]
    snapshot = worker.snapshot
    classifier = IntentClassifier.from_default()
    embedder = snapshot.embedder  # None when the ranking does not weigh its cosine: no question is embedded
    sql = dense_sql(embedder) if embedder is not None else ""
    spent = {"intent_model": 0.0, "embedding": 0.0, "nearest_chunks": 0.0, "lexical_signals": 0.0}
    for text in texts:
        marks = [time.perf_counter()]
        classifier.predict_proba(text)
        marks.append(time.perf_counter())
        vector = embed_queries(embedder, [text])[0] if embedder is not None else None
        marks.append(time.perf_counter())
        if vector is not None and nearest_in_memory(snapshot.index, vector) is None:  # as replay and live find them
            await fetch_dense(snapshot.conn, sql, vector)
        marks.append(time.perf_counter())
        snapshot.index.signals(text, use_dense=False)
        marks.append(time.perf_counter())
        for step, (before, after) in zip(spent, itertools.pairwise(marks), strict=True):
            spent[step] += after - before
    return {"texts": len(texts), **{step: round(1000 * s / len(texts), 2) for step, s in spent.items()}}


async def parity(url: str, texts: list[tuple[str, str | None]]) -> dict[str, Any]:
    """The replay's snapshot search against the live KnowledgeBase.search, question by question."""
    from actors.replay import KnowledgeSnapshot

    embedder = LocalEmbedder()
    pool = await db.create_pool(url, max_size=3)
    try:
        live = KnowledgeBase(pool, embedder)
        async with pool.acquire() as conn:
            snapshot = await KnowledgeSnapshot.open(conn, embedder)
            try:
                same = 0
                for text, item_title in texts:
                    expected = await live.search(text, top_k=3, item_title=item_title)
                    got = await snapshot.search(text, top_k=3, item_title=item_title)
                    same += [(h.external_id, h.score) for h in got] == [(h.external_id, h.score) for h in expected]
            finally:
                await snapshot.close()
    finally:
        await pool.close()
    return {"questions": len(texts), "identical_top3": same}


def on_ray(conversations: list[Conversation], config: WorkerConfig, workers: int) -> dict[str, Any]:
    run = run_on_ray(conversations, config, workers=workers)
    turns = sum(len(r.turns) for r in run.results)
    return {
        "workers": workers,
        "setup_s": run.setup_s,
        "run_s": round(run.run_s, 2),
        "conversations_per_s": round(len(conversations) / run.run_s, 1),
        "turns_per_s": round(turns / run.run_s, 1),
        "distinct_questions_embedded": run.stats.embedded,
        "digest": results_digest(t for r in run.results for t in r.turns),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-parity", action="store_true", help="skip the retrieval parity check (~1 min)")
    args = parser.parse_args()

    conversations = generate(args.conversations, args.seed)
    turns = [t for c in conversations for t in turns_of(c)]
    report: dict[str, Any] = {
        "conversations": len(conversations),
        "turns": len(turns),
        "turns_per_conversation": round(len(turns) / len(conversations), 2),
        "distinct_client_texts": len({t.message for t in turns}),
        "cpus": os.cpu_count(),
        # Other processes on the machine skew every figure below; this says whether any were running.
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "engine": "offline",
        "scenario": "default@1",
    }
    with tempfile.TemporaryDirectory(prefix="avibot-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp))
        url = server.start()
        try:
            asyncio.run(prepare(url))
            config = WorkerConfig(database_url=url, scenario=scenario_bytes(default_scenario()))
            report["one_core_without_ray"] = asyncio.run(in_process(config, conversations[:500]))
            cluster.start(None)
            try:
                one = on_ray(conversations, config, 1)
                two = on_ray(conversations, config, 2)
            finally:
                cluster.stop()
            report["ray_1_worker"], report["ray_2_workers"] = one, two
            report["scaling_1_to_2"] = round(two["conversations_per_s"] / one["conversations_per_s"], 2)
            report["deterministic"] = one.pop("digest") == two.pop("digest")
            if not args.skip_parity:
                items = {c.chat_id: c.item for c in conversations}
                texts = sorted({(t.message, (items[c.chat_id] or {}).get("title")) for c in conversations
                                for t in turns_of(c)})  # fmt: skip
                report["retrieval_parity_with_live_search"] = asyncio.run(parity(url, texts))
        finally:
            server.stop()
    report["load_average_at_end"] = round(os.getloadavg()[0], 2)
    report["goals"] = {
        "scaling_at_least_1_7": report["scaling_1_to_2"] >= 1.7,
        "at_least_300_conversations_per_s_on_2_cores": report["ray_2_workers"]["conversations_per_s"] >= 300,
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
