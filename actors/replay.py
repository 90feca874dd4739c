"""Batch replay: recorded conversations through a scenario, one bot turn per client message, nothing sent.

The logic is plain Python (:class:`Replayer`, :class:`KnowledgeSnapshot`, :func:`parse_conversations`) and is
tested without Ray; Ray is a thin shell (:class:`ReplayWorker` actors driven by :func:`run_on_ray`) that spreads
batches of conversations over a cluster. :func:`replay` is the whole job as the CLI and the tests call it.

What a replayed turn sees
-------------------------
* One turn per client message with text. Its ``history`` is every earlier message of the chat **as recorded**
  (client → ``buyer``, ``bot``, ``operator``; system notices and blank messages are left out; at most
  :data:`HISTORY_LIMIT`, oldest first) — not the replies the replayed scenario would have given, because the
  buyer's next message answered what was actually sent.
* ``item`` and ``buyer`` come from the conversation. ``clarify_count`` is carried from the replayed turn before it
  in the same chat, as the live chat session persists it — so "two clarifications, then a person" replays as the
  new scenario would behave. Every client message is replayed even after a replayed handoff (the live bot would
  have stopped there; the data team still wants to see what it would have said).
* Nothing is written anywhere but the output directory; no account is needed, only the knowledge base.

Knowledge base
--------------
Each worker opens one snapshot of the knowledge base from ``DATABASE_URL``: a read-only repeatable-read
transaction held for the worker's life. The retrieval index is built from the snapshot's rows once, not per turn,
by the live path's own loader (:func:`core.kb.search.load_index`); the dense side finds the nearest chunks as the
live path does — exactly in memory for a base of up to ``IN_MEMORY_DENSE_MAX`` chunks
(:func:`core.kb.search.nearest_in_memory`), else by the live path's own pgvector query
(:func:`core.kb.search.fetch_dense`: same embedder, same SQL, same HNSW index, same ``hnsw.ef_search``) inside
that transaction — so retrieval is the live path's by construction, quirks included (an HNSW scan is
approximate). The question is embedded one text at a time as live (a batched embedding differs in the last bits),
and, as live, only for an embedder the ranking weighs (`KnowledgeIndex.weighs_dense`).
A question's signals (lexical and dense) are computed once per worker and kept per distinct text; each search
under a listing or category filter ranks them again (:meth:`graphs.retrieval.KnowledgeIndex.rank`), which is
exactly what ``search`` does after computing them.

A knowledge-base edit during a replay does not change the rows a worker reads, with one exception: an edit adds
entries to the HNSW graph, which an approximate scan may walk differently even though it returns only rows of the
snapshot. Every worker reports the ``kb_version`` it loaded, and a run whose workers loaded different versions is
refused. The snapshot's transaction holds back vacuum on the knowledge-base tables while the replay runs.

Determinism
-----------
With the offline engine, the same conversations, scenario and knowledge-base snapshot give byte-identical
``results.jsonl`` apart from ``latency_ms`` (a wall-clock measurement, written last on each line): results do not
depend on the number of workers or on how conversations were batched, and lines are sorted by ``chat_id`` and
then message order. ``summary.json`` carries ``results_sha256``, the hash of the results without ``latency_ms``,
so two runs are compared by one value. The LLM engine is as deterministic as its cache: a re-run answers every
request from :class:`graphs.llm.CachedLLMClient` and reproduces the first run exactly.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from core.db import queries
from core.errors import InvalidInput, ServiceError

if TYPE_CHECKING:
    from graphs.compiler import CompiledScenario, TurnResult
    from graphs.retrieval import ChunkKey, Embedder, Hit, KnowledgeIndex, Signals
    from graphs.runtime import Runtime
    from graphs.spec import Scenario

# The graphs, models and retrieval (langgraph, scipy, the embedder) are imported where they are used, not here:
# reading and checking an input file must not wait seconds for them (`avibot replay` fails on a bad line at once).

# The Context node shows the model at most 50 messages; the Intent node 4. More would only fatten every task.
HISTORY_LIMIT = 50
# Memory a worker spends remembering the signals of distinct question texts (~2 KiB each on the demo shop's
# 82 passages, ~250 KiB on 10,000 passages): at least SIGNAL_CACHE_MIN of them, whatever the base's size.
SIGNAL_CACHE_BYTES = 128 * 2**20
SIGNAL_CACHE_MIN = 256
# Conversations one worker runs at once with the LLM engine: turns wait on the model, not on the CPU. The offline
# engine is CPU-bound and runs one at a time, which also keeps its latency_ms a measurement of one turn.
LLM_CONCURRENCY = 16
ROUTES: tuple[str, ...] = ("answer", "clarify", "handoff", "fallback")
# Recorded author → the role a turn's history uses (graphs/state.py); system notices are not dialogue.
_ROLES = {"client": "buyer", "bot": "bot", "operator": "operator"}


# --- input ----------------------------------------------------------------------------------------------------


class Message(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    author: Literal["client", "bot", "operator", "system"]
    text: str = ""
    created: datetime | None = None


class Conversation(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the input: a recorded chat (the format of tests/data/conversations.sample.jsonl)."""

    chat_id: str
    account: str | None = None  # a label only: replay needs no connected account
    item: dict[str, Any] | None = None  # {id, title, price, url}
    buyer: dict[str, Any] | None = None  # {name}
    messages: tuple[Message, ...] = ()
    expect: dict[str, Any] | None = None  # {"handoff": bool}: checked against the replay in summary.json
    # Client messages before this moment are history only (`--from-db --since`: the chat's earlier messages are
    # context for the first replayed one, not replayed themselves).
    replay_from: datetime | None = None


class Turn(msgspec.Struct, frozen=True):
    message_id: str
    message: str
    history: list[dict[str, Any]]


def parse_conversations(lines: Iterable[bytes | str], source: str = "input") -> list[Conversation]:
    """Conversations from JSONL lines; raises InvalidInput naming ``source`` and the line at fault."""
    decoder = msgspec.json.Decoder(Conversation)
    conversations: list[Conversation] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.encode() if isinstance(raw, str) else raw
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            conversation = decoder.decode(line)
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"{where}: строка не подходит под формат диалога (bad conversation): {exc}") from None
        except msgspec.DecodeError as exc:
            raise InvalidInput(f"{where}: строка — не JSON (invalid JSON): {exc}") from None
        if not conversation.chat_id:
            raise InvalidInput(f"{where}: пустой chat_id (empty chat_id)")
        if conversation.chat_id in first_line:
            raise InvalidInput(
                f"{where}: chat_id «{conversation.chat_id}» уже был в строке {first_line[conversation.chat_id]} "
                "(duplicate chat_id)"
            )
        seen: set[str] = set()
        for message in conversation.messages:
            if message.id in seen:
                raise InvalidInput(f"{where}: id сообщения «{message.id}» повторяется (duplicate message id)")
            seen.add(message.id)
        first_line[conversation.chat_id] = number
        conversations.append(conversation)
    return conversations


def load_conversations(path: Path) -> list[Conversation]:
    try:
        with open(path, "rb") as f:
            conversations = parse_conversations(f, path.name)
    except OSError as exc:
        raise InvalidInput(f"{path}: не удалось прочитать файл ({exc.strerror})") from None
    if not conversations:
        raise InvalidInput(f"{path}: в файле нет ни одного диалога (no conversations)")
    return conversations


async def load_recorded(conn: Any, since: datetime, account_id: int | None = None) -> list[Conversation]:
    """Recorded chats where a buyer wrote since ``since`` (of one account, or all): chat and message ids are the
    database's, ``account`` is the account's name; earlier messages of a chat are history only."""
    chats = await conn.fetch(queries.replay_chats_since, since, account_id)
    messages: dict[int, list[Message]] = {}
    for start in range(0, len(chats), 1000):  # bounded result sets on a busy week
        ids = [c["id"] for c in chats[start : start + 1000]]
        for row in await conn.fetch(queries.replay_chat_messages, ids):
            messages.setdefault(row["chat_id"], []).append(
                Message(id=str(row["id"]), author=row["author_kind"], text=row["text"], created=row["created_at"])
            )
    conversations = []
    for chat in chats:
        item = None
        if chat["avito_item_id"] is not None:
            price = chat["item_price"]
            # numeric(14,2) arrives as Decimal; the prompt and Condition expressions want a plain number.
            number = None if price is None else int(price) if price == int(price) else float(price)
            item = {"id": chat["avito_item_id"], "title": chat["item_title"], "price": number, "url": chat["item_url"]}
        conversations.append(
            Conversation(
                chat_id=str(chat["id"]),
                account=chat["account"],
                item=item,
                buyer={"name": chat["buyer_name"]} if chat["buyer_name"] else None,
                messages=tuple(messages.get(chat["id"], ())),
                replay_from=since,
            )
        )
    return conversations


def is_scenario_file(ref: str) -> bool:
    # Scenario ids are [a-z0-9_-] only (migrations/0003), so ".json" or a slash can only mean a path — and a file
    # that happens to be called "default" in the current directory never shadows the published scenario.
    return ref.endswith(".json") or "/" in ref or os.sep in ref


async def load_scenario(conn: Any, ref: str) -> Scenario:
    """``id`` (its published version), ``id@7`` (that version) or the path of a scenario JSON file (a draft the
    data team is testing); validated and compiled, so a broken one fails here with every problem listed."""
    from core.errors import NotFound
    from core.scenarios import load_ref
    from graphs.compiler import compile_scenario
    from graphs.spec import decode_scenario

    if is_scenario_file(ref):
        path = Path(ref)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise InvalidInput(f"файл сценария {ref} не читается ({exc.strerror})") from None
        scenario = decode_scenario(data)
    else:
        try:
            scenario = await load_ref(conn, ref)
        except NotFound as exc:
            hint = "Укажите id, id@ВЕРСИЯ или путь к JSON-файлу сценария (scenario not found)."
            raise NotFound(f"{exc} {hint}") from None
    compile_scenario(scenario)
    return scenario


def turns_of(conversation: Conversation) -> list[Turn]:
    """One turn per client message with text, each with the recorded history before it (module docstring)."""
    turns: list[Turn] = []
    history: list[dict[str, Any]] = []
    start = conversation.replay_from
    for message in conversation.messages:
        role = _ROLES.get(message.author)
        if role is None or not message.text.strip():
            continue
        replayed = start is None or message.created is None or message.created >= start
        if role == "buyer" and replayed:
            turns.append(Turn(message.id, message.text, history[-HISTORY_LIMIT:]))
        at = message.created.isoformat() if message.created is not None else None
        history.append({"role": role, "text": message.text, "at": at})
    return turns


# --- output ---------------------------------------------------------------------------------------------------


class TurnRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One line of results.jsonl. ``latency_ms`` is last: it is the only field that differs between runs."""

    chat_id: str
    message_id: str
    intent: str | None
    intent_confidence: float | None
    route: str  # answer | clarify | handoff | fallback
    handoff: bool
    reply: str
    sources: list[str]  # external ids of the articles the Search node passed on
    nodes: list[str]  # visited node ids, in order
    engine: str
    scenario: str  # id@version
    error: str | None = None  # a node failed (the turn then hands off): the model did not answer, …
    latency_ms: float


class ConversationResult(msgspec.Struct, frozen=True):
    chat_id: str
    turns: list[TurnRecord]
    baseline: list[TurnRecord] | None = None


def record_of(chat_id: str, message_id: str, result: TurnResult) -> TurnRecord:
    state = result.state
    # A scenario without a Confidence node (or a turn that failed before it) has no route of its own.
    route = state.get("route") or ("handoff" if result.handoff else "answer")
    return TurnRecord(
        chat_id=chat_id,
        message_id=message_id,
        intent=state.get("intent"),
        intent_confidence=state.get("intent_confidence"),
        route=route,
        handoff=result.handoff,
        reply=result.reply,
        sources=[d["external_id"] for d in state.get("documents") or []],
        nodes=[entry["node"] for entry in result.trace],
        engine=result.engine,
        scenario=result.scenario,
        error=result.error,
        latency_ms=result.latency_ms,
    )


_encoder = msgspec.json.Encoder()


def result_line(record: TurnRecord) -> bytes:
    return _encoder.encode(record) + b"\n"


def without_latency(line: bytes) -> bytes:
    """A results line without its ``latency_ms`` (the last field), for comparing runs."""
    head, sep, _ = line.rpartition(b',"latency_ms":')
    return head + b"}\n" if sep else line


def results_digest(records: Iterable[TurnRecord]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update(without_latency(result_line(record)))
    return digest.hexdigest()


# --- the knowledge base ---------------------------------------------------------------------------------------


class KnowledgeSnapshot:
    """The knowledge base as of one moment, searched exactly the way the live path searches it.

    The index is built by the live path's loader from the snapshot's rows; the dense side runs the live path's
    pgvector query on the snapshot's connection, inside the same read-only repeatable-read transaction, so it sees
    the rows the index was built from. ``search`` has the :data:`graphs.runtime.Searcher` shape. The only state
    after :meth:`open` is a cache of each question's signals, which holds what computing them would give anyway.
    Close it with :meth:`close` (it ends the transaction; dropping the connection does too).
    """

    def __init__(self, conn: Any, transaction: Any, index: KnowledgeIndex, *, version: int, embedder: Embedder | None):
        from core.kb.search import dense_sql

        self.conn = conn
        self.index = index
        self.version = version
        # Dense scores only where the live path has them: the active embedder's vectors are in the base and the
        # ranking weighs its cosine (`KnowledgeIndex.weighs_dense`; the offline default's is not weighed).
        self.embedder = embedder if index.weighs_dense else None
        self._transaction = transaction
        self._dense_sql = dense_sql(embedder) if self.embedder is not None else None
        self._signals: OrderedDict[str, Signals] = OrderedDict()
        self._cache_size = max(SIGNAL_CACHE_MIN, SIGNAL_CACHE_BYTES // index.signals_bytes)
        self._lock = asyncio.Lock()  # one connection: the LLM engine's concurrent turns take turns on it
        self.embedded = 0

    @classmethod
    async def open(cls, conn: Any, embedder: Embedder | None) -> KnowledgeSnapshot:
        """Starts the snapshot's transaction on ``conn`` (a pgvector-aware connection the snapshot then owns) and
        builds the index from what it sees."""
        from core.kb.search import load_index, set_ef_search

        transaction = conn.transaction(isolation="repeatable_read", readonly=True)
        await transaction.start()
        try:
            await set_ef_search(conn)  # for the transaction's life: every dense query of this snapshot
            version = await conn.fetchval(queries.kb_version) or 0
            index = await load_index(conn, embedder)
        except BaseException:
            await transaction.rollback()
            raise
        return cls(conn, transaction, index, version=version, embedder=embedder)

    async def close(self) -> None:
        await self._transaction.rollback()

    async def dense_scores(self, query: str) -> dict[ChunkKey, float] | None:
        """The live path's dense scores for ``query``: its embedding (one text at a time, as live) and its nearest
        chunks, found as live (`core.kb.search.nearest_in_memory`, else pgvector)."""
        if self._dense_sql is None or self.embedder is None:
            return None
        from core.kb.search import fetch_dense, nearest_in_memory
        from graphs.retrieval import embed_queries

        vector = embed_queries(self.embedder, [query])[0]
        self.embedded += 1
        if (nearest := nearest_in_memory(self.index, vector)) is not None:
            return nearest
        async with self._lock:
            return await fetch_dense(self.conn, self._dense_sql, vector)

    async def signals(self, query: str) -> Signals:
        """``index.signals`` of ``query`` with the live path's dense scores, computed once per distinct text."""
        if (found := self._signals.get(query)) is not None:
            self._signals.move_to_end(query)
            return found
        found = self.index.signals(query, dense_scores=await self.dense_scores(query))
        self._signals[query] = found
        if len(self._signals) > self._cache_size:
            self._signals.popitem(last=False)
        return found

    async def search(
        self,
        query: str,
        *,
        top_k: int = 5,
        categories: Iterable[str] | None = None,
        item_title: str | None = None,
        item_id: int | None = None,
    ) -> list[Hit]:
        return self.index.rank(
            await self.signals(query),
            top_k=top_k,
            categories=list(categories) if categories is not None else None,
            item_title=item_title,
            item_id=item_id,
        )


# --- the plain logic ------------------------------------------------------------------------------------------


class Replayer:
    """Runs conversations through a compiled scenario (and, when given, a baseline) on one runtime.

    Stateless between conversations: any conversation can go to any worker, in any batch, and gives the same
    records. A failing node does not fail the replay — the turn records the error and hands off, as live.
    """

    def __init__(
        self, scenario: Scenario, runtime: Runtime, *, baseline: Scenario | None = None, concurrency: int = 1
    ) -> None:
        from graphs.compiler import compile_scenario

        self.compiled = compile_scenario(scenario)
        self.baseline = compile_scenario(baseline) if baseline is not None else None
        self.runtime = runtime
        self.concurrency = max(1, concurrency)

    async def warm_up(self) -> None:
        """Loads what the first turn would (the offline intent classifier, the embedder) before the clock runs.
        Always on the offline runtime: warming up must never call a model."""
        from graphs.compiler import TurnInput, run_turn
        from graphs.runtime import Runtime

        offline = Runtime(search=self.runtime.search)
        for compiled in filter(None, (self.compiled, self.baseline)):
            await run_turn(compiled, TurnInput(message="Здравствуйте, доставка есть?"), offline)

    async def replay_conversation(self, conversation: Conversation) -> ConversationResult:
        turns = turns_of(conversation)
        records = await self._run(self.compiled, conversation, turns)
        baseline = await self._run(self.baseline, conversation, turns) if self.baseline is not None else None
        return ConversationResult(conversation.chat_id, records, baseline)

    async def _run(self, compiled: CompiledScenario, conversation: Conversation, turns: list[Turn]) -> list[TurnRecord]:
        from graphs.compiler import TurnInput, run_turn

        records: list[TurnRecord] = []
        clarify_count = 0
        for turn in turns:
            result = await run_turn(
                compiled,
                TurnInput(
                    message=turn.message,
                    history=turn.history,
                    item=conversation.item,
                    buyer=conversation.buyer,
                    clarify_count=clarify_count,
                ),
                self.runtime,
            )
            clarify_count = int(result.state.get("clarify_count") or 0)
            records.append(record_of(conversation.chat_id, turn.message_id, result))
        return records

    async def replay(self, conversations: Sequence[Conversation]) -> list[ConversationResult]:
        """Results in the order of ``conversations``."""
        if self.concurrency == 1:
            return [await self.replay_conversation(c) for c in conversations]
        gate = asyncio.Semaphore(self.concurrency)

        async def one(conversation: Conversation) -> ConversationResult:
            async with gate:
                return await self.replay_conversation(conversation)

        return list(await asyncio.gather(*(one(c) for c in conversations)))


# --- the Ray shell --------------------------------------------------------------------------------------------


class WorkerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a worker needs, as plain values: it builds its own pool, models and graphs from these."""

    database_url: str
    scenario: bytes  # the scenario's JSON
    baseline: bytes | None = None
    engine: Literal["offline", "llm"] = "offline"  # graphs.runtime.Engine
    # The LLM engine (core.settings.Settings fields of the same names).
    llm_base_url: str = "https://openrouter.ai/api/v1"
    openrouter_api_key: str | None = None
    public_url: str | None = None
    llm_cache: str | None = None  # a directory; on a multi-node cluster, shared storage
    # The embedder (embedder_for): unset → the local one, as the live bot.
    embeddings_base_url: str | None = None
    embeddings_model: str | None = None
    embeddings_api_key: str | None = None


class WorkerInfo(msgspec.Struct, frozen=True, kw_only=True):
    node: str
    pid: int
    kb_version: int
    articles: int
    chunks: int
    embedder: str | None  # None: lexical retrieval only
    setup_s: float


class WorkerStats(msgspec.Struct, frozen=True, kw_only=True):
    kb_version: int | None = None  # of the snapshot the worker holds now (a restarted actor loads a new one)
    llm_requests: int = 0  # sent to the model (cache misses)
    llm_cached: int = 0  # answered from the cache
    embedded: int = 0  # distinct questions embedded


def _settings_of(config: WorkerConfig) -> Any:
    from core.settings import Settings

    return Settings(
        llm_base_url=config.llm_base_url,
        openrouter_api_key=config.openrouter_api_key,
        public_url=config.public_url,
        embeddings_base_url=config.embeddings_base_url,
        embeddings_model=config.embeddings_model,
        embeddings_api_key=config.embeddings_api_key,
    )


@dataclass
class Worker:
    """What one worker holds for its life: the connection its snapshot reads through, the snapshot, the LLM
    client (None offline) and the Replayer built on them."""

    pool: Any
    snapshot: KnowledgeSnapshot
    llm: Any
    replayer: Replayer

    @classmethod
    async def open(cls, config: WorkerConfig) -> Worker:
        from core import db
        from core.kb.search import embedder_for
        from graphs.llm import CachedLLMClient, LLMClient
        from graphs.runtime import Runtime
        from graphs.spec import decode_scenario

        settings = _settings_of(config)
        pool = await db.create_pool(config.database_url, min_size=1, max_size=1)
        try:
            snapshot = await KnowledgeSnapshot.open(await pool.acquire(), embedder_for(settings))
        except BaseException:
            await pool.close()
            raise
        llm = None
        if config.engine == "llm":
            if not config.llm_cache:
                raise InvalidInput("the LLM engine needs a cache directory (llm_cache)")
            llm = CachedLLMClient(LLMClient(settings), Path(config.llm_cache))
        replayer = Replayer(
            decode_scenario(config.scenario),
            Runtime(search=snapshot.search, llm=llm),
            baseline=decode_scenario(config.baseline) if config.baseline is not None else None,
            concurrency=LLM_CONCURRENCY if llm is not None else 1,
        )
        await replayer.warm_up()
        return cls(pool, snapshot, llm, replayer)

    async def close(self) -> None:
        await self.snapshot.close()
        await self.pool.release(self.snapshot.conn)  # a pool closes only once its connections are back
        await self.pool.close()
        if self.llm is not None:
            await self.llm.inner.aclose()


class ReplayWorker:
    """The Ray actor (made remote by :func:`run_on_ray`): one :class:`Worker` — compiled graphs, a knowledge-base
    snapshot, the models — built once and kept for the actor's life, so no batch pays for them again.

    A sync actor with its own event loop: Ray runs its calls one at a time in submission order, and the loop (and
    the connections, which belong to it) lives as long as the actor. ``run`` is a pure function of its batch, so
    Ray may retry it on a restarted actor.
    """

    def __init__(self, config: WorkerConfig) -> None:
        started = time.perf_counter()
        self._loop = asyncio.new_event_loop()
        self._worker = self._loop.run_until_complete(Worker.open(config))
        snapshot = self._worker.snapshot
        self._info = WorkerInfo(
            node=socket.gethostname(),
            pid=os.getpid(),
            kb_version=snapshot.version,
            articles=len(snapshot.index.articles),
            chunks=len(snapshot.index.chunks),
            embedder=snapshot.embedder.name if snapshot.embedder is not None else None,
            setup_s=round(time.perf_counter() - started, 2),
        )

    def info(self) -> WorkerInfo:
        return self._info

    def run(self, batch: bytes) -> bytes:
        # JSON rather than msgpack for the batch: msgpack would turn every timestamp into UTC.
        conversations = msgspec.json.decode(batch, type=list[Conversation])
        return msgspec.msgpack.encode(self._loop.run_until_complete(self._worker.replayer.replay(conversations)))

    def stats(self) -> WorkerStats:
        llm = self._worker.llm
        return WorkerStats(
            kb_version=self._worker.snapshot.version,
            llm_requests=llm.misses if llm is not None else 0,
            llm_cached=llm.hits if llm is not None else 0,
            embedded=self._worker.snapshot.embedded,
        )

    def close(self) -> None:
        self._loop.run_until_complete(self._worker.close())


@dataclass
class RayRun:
    results: list[ConversationResult]  # sorted by chat_id
    workers: list[WorkerInfo]
    stats: WorkerStats
    setup_s: float
    run_s: float


Progress = Callable[[int, int], None]


def default_workers() -> int:
    """One worker per CPU free on the cluster (Ray must be initialised): joined to a running avibot, its own
    actors keep theirs."""
    import ray

    return max(1, int(ray.available_resources().get("CPU", 1)))


def plan_batches(
    conversations: Sequence[Conversation], workers: int, batch_size: int | None = None
) -> list[list[list[int]]]:
    """Each worker's batches, as indices into ``conversations``.

    A worker computes what a message costs most — its embedding, pgvector query, lexical signals and intent —
    once per distinct text (:class:`KnowledgeSnapshot`, :class:`graphs.offline.intent_classifier.IntentClassifier`
    keep them), so a text that reaches two workers is computed twice. Conversations are therefore dealt out
    greedily, in input order: each to the worker that already has most of its client messages, among those
    below their even share of turns (else to the least loaded). On the benchmark's 5,000 conversations, two
    workers then both search 185 texts instead of 482. Results do not depend on the plan: any conversation gives
    the same records on any worker.

    Batches are small enough that every worker gets several (:func:`run_on_ray` lets an idle worker take the
    last batches of another's queue) and large enough to be worth a round trip (~0.2 s of offline work at 64).
    """
    size = batch_size or max(1, min(64, math.ceil(len(conversations) / (workers * 4))))
    if workers == 1:
        return [[list(range(i, min(i + size, len(conversations)))) for i in range(0, len(conversations), size)]]
    turns = [turns_of(c) for c in conversations]
    texts = [{turn.message for turn in own} for own in turns]
    weights = [max(1, len(own)) for own in turns]
    share = sum(weights) / workers * 1.02
    seen: list[set[str]] = [set() for _ in range(workers)]
    load = [0] * workers
    assigned: list[list[int]] = [[] for _ in range(workers)]
    for index, own in enumerate(texts):
        room = [w for w in range(workers) if load[w] + weights[index] <= share] or list(range(workers))
        worker = max(room, key=lambda w: (len(own & seen[w]), -load[w], -w))
        assigned[worker].append(index)
        load[worker] += weights[index]
        seen[worker] |= own
    return [[mine[i : i + size] for i in range(0, len(mine), size)] for mine in assigned]


def run_on_ray(
    conversations: Sequence[Conversation],
    config: WorkerConfig,
    *,
    workers: int | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> RayRun:
    """Replays ``conversations`` on ``workers`` ReplayWorker actors of the Ray this process is connected to.

    Conversations are dealt out by :func:`plan_batches`. Each actor has two batches in flight, so it never waits
    for the driver between batches; one that has run its own takes the last batches of the others. Raises
    ServiceError when a worker cannot start or fails, or when workers loaded different knowledge-base versions.
    """
    import ray
    from ray.exceptions import RayError

    workers = workers or default_workers()
    total_cpus = int(ray.cluster_resources().get("CPU", 0))
    if workers > total_cpus:
        raise InvalidInput(f"{workers} workers requested, but the Ray cluster has {total_cpus} CPUs")
    remote = ray.remote(ReplayWorker).options(num_cpus=1, max_restarts=2, max_task_retries=2)
    started = time.perf_counter()
    actors = [remote.remote(config) for _ in range(workers)]
    try:
        try:
            infos: list[WorkerInfo] = ray.get([a.info.remote() for a in actors])
        except RayError as exc:
            raise ServiceError(f"a replay worker could not start: {_cause(exc)}") from None
        if len({i.kb_version for i in infos}) > 1:
            raise ServiceError(
                "the knowledge base changed while the replay workers were loading it "
                f"(versions {sorted({i.kb_version for i in infos})}); run the replay again"
            )
        setup_s = time.perf_counter() - started
        plan = plan_batches(conversations, workers, batch_size)
        turns = [len(turns_of(c)) for c in conversations]
        total = sum(turns)
        done = 0
        if progress is not None:
            progress(0, total)
        queues = [deque(batches) for batches in plan]
        pending: dict[Any, tuple[int, list[int]]] = {}

        def submit(worker: int) -> None:
            # The worker's own batches first; when they are done, the last batch of the longest queue left.
            queue = queues[worker] if queues[worker] else max(queues, key=len)
            if queue:
                batch = queue.pop() if queue is not queues[worker] else queue.popleft()
                payload = msgspec.json.encode([conversations[i] for i in batch])
                pending[actors[worker].run.remote(payload)] = (worker, batch)

        run_started = time.perf_counter()
        for worker in range(workers):
            submit(worker)
            submit(worker)
        results: list[ConversationResult] = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            worker, batch = pending.pop(ready[0])
            try:
                data = ray.get(ready[0])
            except RayError as exc:
                raise ServiceError(f"a replay worker failed: {_cause(exc)}") from None
            results.extend(msgspec.msgpack.decode(data, type=list[ConversationResult]))
            submit(worker)
            done += sum(turns[i] for i in batch)
            if progress is not None:
                progress(done, total)
        run_s = time.perf_counter() - run_started
        stats = ray.get([a.stats.remote() for a in actors])
        if {s.kb_version for s in stats} != {infos[0].kb_version}:
            raise ServiceError(
                "a replay worker restarted after the knowledge base changed, so its results may come from another "
                "version of it; run the replay again"
            )
        # Ends the snapshots' transactions before the processes go; killing them below would too, just later.
        ray.wait([a.close.remote() for a in actors], num_returns=len(actors), timeout=30)
    finally:
        for actor in actors:
            ray.kill(actor)
    results.sort(key=lambda r: r.chat_id)
    merged = WorkerStats(
        kb_version=infos[0].kb_version,
        llm_requests=sum(s.llm_requests for s in stats),
        llm_cached=sum(s.llm_cached for s in stats),
        embedded=sum(s.embedded for s in stats),
    )
    return RayRun(results, infos, merged, round(setup_s, 2), round(run_s, 3))


def _cause(exc: Exception) -> str:
    """The worker's own error, without Ray's wrapping (the last line of the remote traceback names it)."""
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


# --- the whole job --------------------------------------------------------------------------------------------


@dataclass
class ReplayOutcome:
    summary: dict[str, Any]
    results: list[ConversationResult]
    out_dir: Path
    files: list[Path] = field(default_factory=list)


def replay(
    conversations: Sequence[Conversation],
    config: WorkerConfig,
    out_dir: Path,
    *,
    source: str,
    workers: int | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> ReplayOutcome:
    """Replays on the connected Ray and writes results.jsonl (+ baseline.jsonl), summary.json and report.html."""
    from actors import replay_report

    started = time.perf_counter()
    run = run_on_ray(conversations, config, workers=workers, batch_size=batch_size, progress=progress)
    summary = replay_report.summarize(
        run.results,
        conversations,
        source=source,
        scenario=_ref_of(config.scenario),
        baseline=_ref_of(config.baseline) if config.baseline is not None else None,
        engine=config.engine,
        workers=run.workers,
        timing={
            "workers": len(run.workers),
            "setup_s": run.setup_s,
            "run_s": run.run_s,
            "total_s": round(time.perf_counter() - started, 2),
        },
        stats=msgspec.to_builtins(run.stats),
    )
    files = replay_report.write_outputs(out_dir, run.results, summary, conversations)
    return ReplayOutcome(summary, run.results, out_dir, files)


def _ref_of(spec: bytes) -> str:
    from graphs.spec import decode_scenario

    scenario = decode_scenario(spec)
    return f"{scenario.id}@{scenario.version}"


def scenario_bytes(scenario: Scenario) -> bytes:
    return msgspec.json.encode(scenario)
