"""`avibot replay`: recorded conversations through a scenario on a real local Ray, against a real database holding
the demo knowledge base (embedded with the local embedder, as `avibot up` loads it).

Most of the time goes to starting replay workers (each loads the embedder and fits the intent model) and `avibot`
processes. The module shares one database (no test here changes the knowledge base or the scenarios) instead of
importing and embedding the demo base per test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from actors.replay import (
    Conversation,
    KnowledgeSnapshot,
    Message,
    Replayer,
    WorkerConfig,
    load_conversations,
    load_recorded,
    parse_conversations,
    plan_batches,
    replay,
    scenario_bytes,
    turns_of,
    without_latency,
)
from actors.replay_report import summarize, write_outputs
from core import db
from core.kb.json_import import parse_json
from core.kb.search import KnowledgeBase
from core.kb.store import apply_import
from core.scenarios import DEFAULT_FILE, default_scenario, seed_default
from graphs.retrieval import LocalEmbedder
from graphs.runtime import Runtime
from graphs.spec import decode_scenario
from tests.conftest import TEMPLATE_DB
from tests.integration.test_cli import env_for, run
from tests.llm_server import LLMServer, RecordedRequest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "conversations.sample.jsonl"
DEMO_KB = ROOT / "core" / "demo" / "kb.json"
FIELDS = {"chat_id", "message_id", "intent", "intent_confidence", "route", "handoff", "reply", "sources", "nodes",
          "engine", "scenario", "error", "latency_ms"}  # fmt: skip


_databases = itertools.count()


@contextmanager
def knowledge_database(pg_admin_url: str, embedder: LocalEmbedder) -> Iterator[str]:
    """A database with the default scenario and the demo knowledge base, its chunks embedded by ``embedder``."""
    name = f"replay_{os.getpid()}_{next(_databases)}"
    url = f"{pg_admin_url.rpartition('/')[0]}/{name}"

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(pg_admin_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def create() -> None:
        await admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
        pool = await db.create_pool(url, max_size=2)
        try:
            await seed_default(pool)
            await apply_import(pool, parse_json(DEMO_KB.read_bytes()), embedder=embedder)
        finally:
            await pool.close()

    asyncio.run(create())
    try:
        yield url
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="module")
def kb_database(pg_admin_url: str, template_url: str) -> Iterator[str]:
    """This module's database: the demo base embedded with the local embedder, as `avibot up` loads it."""
    with knowledge_database(pg_admin_url, LocalEmbedder()) as url:
        yield url


@pytest.fixture
async def kb_pool(kb_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(kb_database, min_size=1, max_size=4)
    yield pool
    await pool.close()


def config(database_url: str, tmp_path: Path, **changes: Any) -> WorkerConfig:
    return WorkerConfig(
        database_url=database_url,
        scenario=scenario_bytes(default_scenario()),
        llm_cache=str(tmp_path / "llm-cache"),
        **changes,
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def strict_scenario(tmp_path: Path) -> Path:
    """A draft of the default scenario that answers only when nearly certain and asks otherwise."""
    data = json.loads(DEFAULT_FILE.read_text())
    data["version"] = 2
    for node in data["nodes"]:
        if node["type"] == "confidence":
            node["data"] = {**node.get("data", {}), "answer_threshold": 0.99, "clarify_threshold": 0.3}
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def cli_env(tmp_path: Path, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    # Both URLs given: the command starts no embedded server of its own.
    return env_for(tmp_path / "data", DATABASE_URL=database_url, REDIS_URL=redis_url, **extra)


async def test_offline_replay_of_the_samples_is_complete_and_deterministic(
    kb_database: str, ray_cluster: str, tmp_path: Path
) -> None:
    conversations = load_conversations(SAMPLES)
    first = replay(conversations, config(kb_database, tmp_path), tmp_path / "one", source="samples", workers=2,
                   batch_size=1)  # fmt: skip

    results = lines(tmp_path / "one" / "results.jsonl")
    client_messages = [(c.chat_id, m.id) for c in conversations for m in c.messages if m.author == "client"]
    assert [(r["chat_id"], r["message_id"]) for r in results] == sorted(client_messages)  # by chat, then in order
    for row in results:
        assert set(row) == FIELDS
        assert row["route"] in ("answer", "clarify", "handoff", "fallback") and row["engine"] == "offline"
        assert row["scenario"] == "default@1" and row["nodes"][0] == "start" and row["error"] is None
        assert isinstance(row["latency_ms"], float) and row["latency_ms"] > 0
    by_message = {r["message_id"]: r for r in results}
    # The sample's expectations: s-3 asks for a person, s-4 complains — both hand off; the others are answered.
    assert by_message["s-3-1"]["handoff"] and by_message["s-3-1"]["intent"] == "human"
    assert by_message["s-4-1"]["handoff"] and by_message["s-4-1"]["route"] == "handoff"
    assert by_message["s-1-3"]["sources"][0] == "d2" and not by_message["s-1-3"]["handoff"]  # delivery to Samara
    assert by_message["s-5-3"]["intent"] == "payment" and "картой" in by_message["s-5-3"]["reply"]

    summary = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["expectations"] == {"checked": 5, "met": 5, "failed": []}
    assert summary["counts"] == {"conversations": 5, "turns": 7, "handoffs": 2, "conversations_with_handoff": 2,
                                 "errors": 0}  # fmt: skip
    assert summary["handoff_rate"] == round(2 / 7, 4) and sum(summary["routes"].values()) == 7
    # The base holds the local model's vectors, but the ranking does not weigh its cosine: lexical search, as live.
    assert summary["intents"]["human"] == 1 and summary["knowledge_base"]["embedder"] is None
    assert summary["run"]["workers"] == 2 and len(summary["run"]["worker_hosts"]) == 2
    assert first.summary == summary

    report = (tmp_path / "one" / "report.html").read_text()
    assert "<svg" in report and "Маршруты" in report and "Намерения" in report
    assert "http://" not in report and "https://" not in report and "<script" not in report

    # Another run on one worker, batched differently: the same bytes but for the measured latency.
    second = replay(conversations, config(kb_database, tmp_path), tmp_path / "two", source="samples", workers=1)
    one = (tmp_path / "one" / "results.jsonl").read_bytes().splitlines(keepends=True)
    two = (tmp_path / "two" / "results.jsonl").read_bytes().splitlines(keepends=True)
    assert [without_latency(line) for line in one] == [without_latency(line) for line in two]
    assert second.summary["results_sha256"] == summary["results_sha256"]


async def assert_same_search(live: KnowledgeBase, snapshot: KnowledgeSnapshot, questions: list[str]) -> None:
    """Each question, with and without a listing, twice (the second time from the snapshot's cache): the same
    articles, scores and passages on both sides."""
    for question in questions * 2:
        for item_title in (None, "Горный велосипед Stels Navigator 700"):
            expected = await live.search(question, top_k=5, item_title=item_title)
            got = await snapshot.search(question, top_k=5, item_title=item_title)
            assert [(h.external_id, h.score, h.passage) for h in got] == [
                (h.external_id, h.score, h.passage) for h in expected
            ], question


async def test_snapshot_search_matches_the_live_knowledge_base(kb_pool: asyncpg.Pool) -> None:
    embedder = LocalEmbedder()
    live = KnowledgeBase(kb_pool, embedder)
    async with kb_pool.acquire() as conn:
        snapshot = await KnowledgeSnapshot.open(conn, embedder)
        try:
            # The local model's cosine is not weighed by the ranking: neither side embeds a question for it.
            assert not snapshot.index.weighs_dense and snapshot.embedder is None and snapshot.version > 0
            questions = [t.message for c in load_conversations(SAMPLES) for t in turns_of(c)]
            questions += ["скока доставка по казани", "а вилка какая?", "заработок в телеграм", "Здравствуйте"]
            await assert_same_search(live, snapshot, questions)
            assert snapshot.embedded == 0 and live.vectors_embedded == 0
        finally:
            await snapshot.close()


def test_snapshot_search_matches_the_live_one_with_a_weighed_embedder(pg_admin_url: str, template_url: str) -> None:
    """With an embedder whose cosine the ranking weighs (wordllama's fitted weight is positive), both sides embed
    each distinct question once and find the same nearest chunks."""
    embedder = LocalEmbedder("wordllama")
    questions = [t.message for c in load_conversations(SAMPLES) for t in turns_of(c)] + ["скока доставка по казани"]

    async def compare(url: str) -> None:
        pool = await db.create_pool(url, min_size=1, max_size=3)
        try:
            live = KnowledgeBase(pool, embedder)
            async with pool.acquire() as conn:
                snapshot = await KnowledgeSnapshot.open(conn, embedder)
                try:
                    assert snapshot.index.weighs_dense and snapshot.embedder is embedder
                    await assert_same_search(live, snapshot, questions)
                    assert snapshot.embedded == live.vectors_embedded == len(set(questions))
                finally:
                    await snapshot.close()
        finally:
            await pool.close()

    with knowledge_database(pg_admin_url, embedder) as url:
        asyncio.run(compare(url))


async def test_a_draft_file_against_the_published_baseline_lists_the_changes(
    kb_database: str, ray_cluster: str, redis_url: str, tmp_path: Path
) -> None:
    draft = strict_scenario(tmp_path)
    out = tmp_path / "out"
    result = run(
        ["replay", "--scenario", str(draft), "--baseline", "default", "--input", str(SAMPLES), "--out", str(out),
         "--address", ray_cluster],
        cli_env(tmp_path, kb_database, redis_url),
        timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Replaying" in result.stderr  # the progress bar, on stderr
    assert "Changed against default@1" in result.stdout

    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "default@2" and summary["baseline"] == "default@1"
    changes = summary["baseline_diff"]["messages"]
    assert changes and summary["baseline_diff"]["changed"] == len(changes)
    baseline_rows = {r["message_id"]: r for r in lines(out / "baseline.jsonl")}
    draft_rows = {r["message_id"]: r for r in lines(out / "results.jsonl")}
    assert set(baseline_rows) == set(draft_rows) and all(r["scenario"] == "default@1" for r in baseline_rows.values())
    changed = {c["message_id"] for c in changes}
    for message_id, now in draft_rows.items():
        before = baseline_rows[message_id]
        differs = any(now[k] != before[k] for k in ("intent", "route", "handoff", "sources"))
        assert differs == (message_id in changed)
    # Handoffs decided by intent do not move; answers below 0.99 now ask to clarify.
    assert "s-3-1" not in changed and "s-4-1" not in changed
    s2 = next(c for c in changes if c["message_id"] == "s-2-1")
    assert s2["baseline"]["route"] == "answer" and s2["scenario"]["route"] == "clarify" and "route" in s2["changed"]

    report = (out / "report.html").read_text()
    assert "Изменения" in report and "на мой рост 185 пойдет?" in report and "default@2" in report


async def test_recorded_chats_from_the_database(
    kb_database: str, kb_pool: asyncpg.Pool, ray_cluster: str, redis_url: str, tmp_path: Path
) -> None:
    since = datetime(2026, 5, 1, tzinfo=UTC)
    chat = await _recorded_chat(kb_pool, account=1, chat="c-1", messages=[
        ("client", "Здравствуйте, велосипед ещё продаётся?", since - timedelta(days=2)),  # history only
        ("bot", "Здравствуйте! Да, в наличии.", since - timedelta(days=2) + timedelta(seconds=5)),
        ("system", "Покупатель оформил заказ", since + timedelta(hours=1)),
        ("client", "а в Самару отправите?", since + timedelta(hours=2)),
        ("operator", "Да, отправим Авито Доставкой.", since + timedelta(hours=3)),
        ("client", "можно с человеком поговорить", since + timedelta(hours=4)),
    ])  # fmt: skip
    await _recorded_chat(kb_pool, account=2, chat="c-2", messages=[("client", "картой можно?", since + timedelta(1))])
    await _recorded_chat(kb_pool, account=1, chat="c-old", messages=[("client", "актуально?", since - timedelta(9))])

    async with kb_pool.acquire() as conn:
        conversations = await load_recorded(conn, since)
    assert [c.account for c in conversations] == ["shop-1", "shop-2"]
    turns = turns_of(conversations[0])
    assert [t.message for t in turns] == ["а в Самару отправите?", "можно с человеком поговорить"]
    # The recorded history before each message, system notices left out.
    assert [(m["role"], m["text"]) for m in turns[1].history] == [
        ("buyer", "Здравствуйте, велосипед ещё продаётся?"),
        ("bot", "Здравствуйте! Да, в наличии."),
        ("buyer", "а в Самару отправите?"),
        ("operator", "Да, отправим Авито Доставкой."),
    ]
    assert conversations[0].item == {"id": 4100000001, "title": "Горный велосипед Stels Navigator 700",
                                     "price": 28500, "url": ""}  # fmt: skip

    out = tmp_path / "db"
    account_id = await kb_pool.fetchval("SELECT account_id FROM chats WHERE id = $1", chat)
    result = run(
        ["replay", "--scenario", "default@1", "--from-db", "--since", "2026-05-01T00:00:00+00:00", "--account",
         str(account_id), "--out", str(out), "--address", ray_cluster, "--workers", "1"],
        cli_env(tmp_path, kb_database, redis_url),
        timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = lines(out / "results.jsonl")
    assert [r["chat_id"] for r in rows] == [str(chat)] * 2
    assert rows[0]["sources"][0] == "d2" and not rows[0]["handoff"]
    assert rows[1]["intent"] == "human" and rows[1]["handoff"]
    assert json.loads((out / "summary.json").read_text())["input"].startswith("db: since 2026-05-01")


async def _recorded_chat(
    pool: asyncpg.Pool, *, account: int, chat: str, messages: list[tuple[str, str, datetime]]
) -> int:
    """An account, listing, buyer and chat with these messages, as the webhook path stores them."""
    account_id = await pool.fetchval(
        "INSERT INTO accounts (avito_user_id, name, credentials, webhook_secret) VALUES ($1, $2, '\\x00', $3) "
        "ON CONFLICT (avito_user_id) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        1000 + account,
        f"shop-{account}",
        f"secret-{account}".ljust(40, "x"),
    )
    item_id = await pool.fetchval(
        "INSERT INTO items (account_id, avito_item_id, title, price) VALUES ($1, 4100000001, "
        "'Горный велосипед Stels Navigator 700', 28500) "
        "ON CONFLICT (account_id, avito_item_id) DO UPDATE SET title = EXCLUDED.title RETURNING id",
        account_id,
    )
    buyer_id = await pool.fetchval(
        "INSERT INTO buyers (avito_user_id, name) VALUES ($1, 'Ирина') RETURNING id", 5000 + hash(chat) % 10_000
    )
    chat_id = await pool.fetchval(
        "INSERT INTO chats (account_id, avito_chat_id, item_id, buyer_id) VALUES ($1, $2, $3, $4) RETURNING id",
        account_id,
        chat,
        item_id,
        buyer_id,
    )
    for n, (author, text, created) in enumerate(messages):
        await pool.execute(
            "INSERT INTO messages (account_id, chat_id, avito_message_id, direction, author_kind, type, text, "
            "created_at) VALUES ($1, $2, $3, $4, $5, 'text', $6, $7)",
            account_id,
            chat_id,
            f"{chat}-{n}",
            "in" if author == "client" else "out",
            author,
            text,
            created,
        )
    return chat_id


async def test_llm_engine_answers_are_cached_so_a_rerun_is_free(
    kb_database: str, ray_cluster: str, llm_server: LLMServer, tmp_path: Path
) -> None:
    def answer(request: RecordedRequest) -> dict[str, Any]:
        text = request.last_user_text
        if request.response_format and request.response_format["json_schema"]["name"] == "_IntentAnswer":
            if "человеком" in text or "цепь слетает" in text:
                return {"intents": [{"id": "human", "confidence": 0.95}]}
            return {"intents": [{"id": "delivery", "confidence": 0.9}, {"id": "price", "confidence": 0.05}]}
        return {"action": "answer", "reply": "Отправим Авито Доставкой, срок 3–7 дней."}

    llm_server.script(answer)
    settings = {"engine": "llm", "llm_base_url": llm_server.base_url, "openrouter_api_key": "test-key"}
    conversations = load_conversations(SAMPLES)
    first = replay(conversations, config(kb_database, tmp_path, **settings), tmp_path / "one", source="samples")
    sent = len(llm_server.requests_to("chat"))
    assert sent > 0 and first.summary["run"]["llm_requests"] == sent and first.summary["run"]["llm_cached"] == 0
    rows = lines(tmp_path / "one" / "results.jsonl")
    assert {r["engine"] for r in rows} == {"llm"}
    by_message = {r["message_id"]: r for r in rows}
    assert by_message["s-3-1"]["handoff"] and by_message["s-3-1"]["intent"] == "human"
    assert by_message["s-1-3"]["reply"] == "Отправим Авито Доставкой, срок 3–7 дней."
    # The model saw the recorded conversation before the message.
    intent_prompts = [r.last_user_text for r in llm_server.requests_to("chat") if "а в Самару" in r.last_user_text]
    assert any("bot: Здравствуйте! Да, Stels Navigator 700 в наличии." in p for p in intent_prompts)

    second = replay(conversations, config(kb_database, tmp_path, **settings), tmp_path / "two", source="samples")
    assert len(llm_server.requests_to("chat")) == sent  # not one new request
    assert second.summary["run"]["llm_requests"] == 0 and second.summary["run"]["llm_cached"] == sent
    assert second.summary["results_sha256"] == first.summary["results_sha256"]


async def test_the_plain_replayer_carries_clarifications_and_the_report_escapes_buyer_text(tmp_path: Path) -> None:
    """The logic without Ray or a database: a scenario that always asks to clarify, against the default."""
    data = json.loads(DEFAULT_FILE.read_text())
    for node in data["nodes"]:
        if node["type"] == "confidence":
            node["data"] = {**node.get("data", {}), "answer_threshold": 1.0, "clarify_threshold": 0.0}
    asking = decode_scenario({**data, "version": 3})
    hostile = "<script>alert('x')</script> доставка в Самару?"
    [conversation] = parse_conversations(
        [json.dumps({"chat_id": "x-1", "messages": [
            {"id": "1", "author": "client", "text": hostile},
            {"id": "2", "author": "system", "text": "Покупатель оформил заказ"},
            {"id": "3", "author": "client", "text": "  "},  # blank: no turn
            {"id": "4", "author": "client", "text": "доставка есть?"},
            {"id": "5", "author": "client", "text": "так есть доставка?"},
        ]}, ensure_ascii=False)],
    )  # fmt: skip
    replayer = Replayer(asking, Runtime(), baseline=default_scenario())
    [result] = await replayer.replay([conversation])
    # Two clarifications in a row (carried from turn to turn), then a person.
    assert [t.route for t in result.turns] == ["clarify", "clarify", "handoff"]
    assert [t.message_id for t in result.turns] == ["1", "4", "5"] and result.turns[2].handoff
    assert result.baseline is not None and len(result.baseline) == 3

    summary = summarize([result], [conversation], source="x", scenario="default@3", baseline="default@1",
                        engine="offline", workers=[], timing={"run_s": 0.1}, stats={})  # fmt: skip
    assert summary["routes"] == {"answer": 0, "clarify": 2, "handoff": 1, "fallback": 0}
    write_outputs(tmp_path, [result], summary, [conversation])
    report = (tmp_path / "report.html").read_text()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in report and "<script" not in report


def test_workers_get_the_conversations_whose_messages_they_already_have() -> None:
    """Each worker computes a text once, so the plan sends the same messages to the same worker, evenly."""
    texts = ["доставка в самару?", "картой можно?"] * 4
    conversations = [
        Conversation(chat_id=f"p-{n}", messages=(Message(id="1", author="client", text=text),))
        for n, text in enumerate(texts)
    ]
    plan = plan_batches(conversations, 2, batch_size=3)
    assert sorted(i for batches in plan for batch in batches for i in batch) == list(range(8))
    assert [[len(batch) for batch in batches] for batches in plan] == [[3, 1], [3, 1]]
    assert [{texts[i] for batch in batches for i in batch} for batches in plan] == [{texts[0]}, {texts[1]}]
    assert plan_batches(conversations, 1, batch_size=3) == [[[0, 1, 2], [3, 4, 5], [6, 7]]]


def test_a_bad_input_file_names_its_line(tmp_path: Path) -> None:
    good = SAMPLES.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    broken = json.loads(good[2])
    broken["messages"][0]["author"] = "buyer"
    bad.write_text("\n".join([good[0], good[1], json.dumps(broken, ensure_ascii=False)]) + "\n")
    result = run(["replay", "--scenario", "default", "--input", str(bad), "--out", str(tmp_path / "out")],
                 env_for(tmp_path / "data"))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "bad.jsonl:3:" in result.stderr and "author" in result.stderr

    bad.write_text(good[0] + "\n{not json\n")
    result = run(["replay", "--scenario", "default", "--input", str(bad), "--out", str(tmp_path / "out")],
                 env_for(tmp_path / "data"))  # fmt: skip
    assert result.returncode == 1 and "bad.jsonl:2:" in result.stderr and "JSON" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_scenario_is_refused(kb_database: str, redis_url: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path, kb_database, redis_url)
    result = run(["replay", "--scenario", "nope", "--input", str(SAMPLES), "--out", str(tmp_path / "out")], env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "«nope» не найден" in result.stderr and "JSON" in result.stderr  # names the other kind of ref too
    result = run(["replay", "--scenario", "default@9", "--input", str(SAMPLES), "--out", str(tmp_path / "out")], env)
    assert result.returncode == 1 and "Версии 9 у сценария «default» нет" in result.stderr
    missing = tmp_path / "missing.json"
    result = run(["replay", "--scenario", str(missing), "--input", str(SAMPLES), "--out", str(tmp_path / "o")], env)
    assert result.returncode == 1 and "missing.json" in result.stderr
