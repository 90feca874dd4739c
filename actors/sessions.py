"""Chat sessions: the virtual actors that answer buyers, one ordered stream per chat (DESIGN §2–3).

A `ChatSession` is a plain object, not a process: a fixed pool of `SessionHost` Ray actors hosts them
(`actors.registry.host_index` picks the host), activating a session on its chat's first message and passivating
it after an idle TTL. A session holds no truth of its own — PostgreSQL does: on every wake-up it reads its chat's
unprocessed inbox rows in order and, per row, the chat's current mode, listing, buyer and saved state, so a
restarted host, a mode switched by an operator a moment ago, or a newly published scenario version are all obeyed
at once.

One row, one turn (`bot_turns.inbox_id` is unique); the reply goes out through the outbox: parts are written
`pending` in the turn's transaction, sent through the account's actor, then marked `sent` with Avito's id. A row
is marked processed only after that, so a crash anywhere re-dispatches it, and the re-run skips what was done:
a recorded turn is not run again, and a part still `pending` from an earlier attempt is first looked for on Avito
before it is sent again (DESIGN §2, invariant 4).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg
import msgspec

from actors.account import split_reply
from actors.inbox_listener import InboxListener
from actors.registry import Accounts, RayAccounts
from core import db
from core.events import ChatUpdated, Event, MessageNew, ModeChanged, Publisher
from core.heap import freeze_start_up_heap
from core.kb.search import KnowledgeBase, embedder_for
from core.scenarios import DEFAULT_ID, get_version
from core.services import Services
from core.settings import Settings
from core.store import chats as store
from core.store.chats import ChatContext, ModeChange, NextTurn, Outbound, PendingRow
from graphs.compiler import CompiledScenario, TurnInput, compile_scenario, run_turn
from graphs.runtime import Runtime

log = logging.getLogger(__name__)

HOST_CONNECTIONS = 8  # a session host's PostgreSQL connections


class SessionConfig(msgspec.Struct, frozen=True, kw_only=True):
    idle_ttl: float = 600.0  # seconds without a message before a session is passivated
    history: int = 10  # messages of context a turn sees
    max_attempts: int = 5  # a row failing this often is given up on: the chat goes to an operator
    # A pending part older than this when its row is re-run may have reached Avito: look before resending.
    recheck_window: float = 3600.0


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """A turn just run and recorded."""

    recorded: bool  # False: another attempt had recorded this row's turn first; its stored parts are sent
    handoff: bool
    outbound: list[Outbound]


class Turned(msgspec.Struct, frozen=True, kw_only=True):
    """What happened to one inbox row (returned to tests and counted in stats)."""

    inbox_id: int
    outcome: str  # answered | handed_off | silent | failed
    sent: int = 0


def _mode_event(change: ModeChange) -> ModeChanged:
    return ModeChanged(account_id=change.account_id, chat_id=change.chat_id, mode=change.to_mode,
                       reason=change.reason, operator_id=change.operator_id)  # fmt: skip


class Live:
    """What every session of one host shares: the pool, the knowledge base, the model, compiled scenarios, the
    way to Avito and to the browsers."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        knowledge: KnowledgeBase | None,
        accounts: Accounts,
        publisher: Publisher | None,
        *,
        llm: Any = None,
        config: SessionConfig | None = None,
    ) -> None:
        self.pool = pool
        self.knowledge = knowledge
        self.accounts = accounts
        self.publisher = publisher
        self.config = config or SessionConfig()
        self.runtime = Runtime(search=knowledge.search if knowledge is not None else None, llm=llm)
        self._compiled: dict[tuple[str, int | None], CompiledScenario] = {}

    async def publish(self, *events: Event) -> None:
        if self.publisher is not None and events:
            await self.publisher.publish(*events)

    async def warm_up(self) -> None:
        """Loads what the first turn would (knowledge-base index, embedder, morphology, the intent classifier)
        before the first buyer waits for it: a cold first turn takes seconds."""
        spec = await get_version(self.pool, DEFAULT_ID)
        offline = Runtime(search=self.runtime.search)  # never a model call for a warm-up
        await run_turn(compile_scenario(spec), TurnInput(message="Здравствуйте, доставка есть?"), offline)
        freeze_start_up_heap()

    async def scenario(self, context: ChatContext) -> CompiledScenario:
        """The live version of the account's scenario, compiled once per (scenario, version). An account whose
        scenario has no published version runs the default one rather than not answering."""
        key = (context.scenario_id, context.scenario_version)
        if (compiled := self._compiled.get(key)) is None:
            scenario_id = context.scenario_id if context.scenario_version is not None else DEFAULT_ID
            spec = await get_version(self.pool, scenario_id, context.scenario_version)
            compiled = self._compiled[key] = compile_scenario(spec)
        return compiled


class ChatSession:
    """One chat's ordered stream of turns. `wake` is the only entry: it never runs two drains at once."""

    def __init__(self, live: Live, chat_id: int) -> None:
        self.live = live
        self.chat_id = chat_id
        self.last_used = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self.results: list[Turned] = []  # the last few outcomes, for stats and tests

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> asyncio.Task[None]:
        self.last_used = time.monotonic()
        if self.busy:
            self._again = True  # the running drain reads the rows again before it stops
        else:
            self._task = asyncio.create_task(self._drain(), name=f"chat-{self.chat_id}")
        assert self._task is not None
        return self._task

    async def _drain(self) -> None:
        live = self.live
        while True:
            self._again = False
            after = 0  # within a pass each row is taken once; a new pass (woken meanwhile) starts over
            while read := await store.next_turn(live.pool, self.chat_id, after, live.config.history):
                try:
                    turned = await self.process(read)
                except Exception as exc:  # the row stays unprocessed; later rows wait, to keep the order
                    log.exception("chat %s: inbox row %s failed", self.chat_id, read.row.inbox_id)
                    await self._failed(read.row, exc)
                    return
                self.results = [*self.results[-9:], turned]
                after = read.row.inbox_id
                if not read.more:
                    break
            self.last_used = time.monotonic()
            if not self._again:
                return

    async def _failed(self, row: PendingRow, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        await store.mark_failed(self.live.pool, row.inbox_id, error)
        if row.attempts + 1 >= self.live.config.max_attempts:
            # Given up: a person must see this buyer. The row is closed so the chat's later messages move on.
            change = await store.set_mode(self.live.pool, self.chat_id, "operator", "handoff_node")
            await store.mark_processed(self.live.pool, row.inbox_id)
            if change is not None:
                await self.live.publish(_mode_event(change))
            self.results = [*self.results[-9:], Turned(inbox_id=row.inbox_id, outcome="failed")]

    async def process(self, read: NextTurn) -> Turned:
        live, row = self.live, read.row
        context, handoff, parts = read.chat, read.recorded_handoff, None
        if not read.recorded:
            turn = await self._turn(context, row, read.history)
            if isinstance(turn, str):
                await store.mark_processed(live.pool, row.inbox_id)
                return Turned(inbox_id=row.inbox_id, outcome=turn)
            handoff = turn.handoff
            parts = turn.outbound if turn.recorded else None
        sent = await self._send_pending(context, row, parts)  # the last part's store marks the row processed
        if not sent:
            await store.mark_processed(live.pool, row.inbox_id)
        return Turned(inbox_id=row.inbox_id, outcome="handed_off" if handoff else "answered", sent=sent)

    async def _turn(self, context: ChatContext, row: PendingRow, history: list[dict[str, Any]]) -> str | Recorded:
        """Runs and records the turn; returns an outcome when there is nothing to send (the row is done)."""
        live = self.live
        if context.mode != "bot":
            return "silent"  # an operator leads the chat: the bot stays quiet
        if not row.text.strip():
            # A photo, a voice message, a location without words: the offline engine cannot read them, and a
            # buyer who sent one deserves a person rather than a guess.
            change = await store.set_mode(live.pool, self.chat_id, "operator", "handoff_node")
            if change is not None:
                await live.publish(_mode_event(change))
            return "handed_off"
        if not (context.has_item and context.has_buyer):
            context = await self._learn_details(context)
        compiled = await live.scenario(context)
        turn = TurnInput(
            message=row.text,
            history=history,
            item=context.item,
            buyer=context.buyer,
            clarify_count=int(context.session_state.get("clarify_count") or 0),
        )
        result = await run_turn(compiled, turn, live.runtime)
        # One call: the mode locked (an operator may have taken the chat while the turn ran: then the turn is
        # kept, the reply is not), the turn, its parts, the session's state and the handoff.
        recorded = await store.record_bot_turn(
            live.pool, context, row.inbox_id, row.message_id, compiled.version, result, split_reply(result.reply)
        )
        if recorded.mode_change is not None:
            await live.publish(_mode_event(recorded.mode_change))
        return Recorded(recorded=recorded.recorded, handoff=result.handoff, outbound=recorded.outbound)

    async def _learn_details(self, context: ChatContext) -> ChatContext:
        """Webhooks carry no listing title or buyer name: a new chat asks Avito once. A failure here costs only
        context, never the answer."""
        try:
            chat = await self.live.accounts.get_chat(context.account_id, context.avito_chat_id)
            async with self.live.pool.acquire() as conn:
                if await store.set_details(conn, context, chat):
                    learnt = await store.load_chat(conn, context.id)
                else:
                    return context
            await self.live.publish(ChatUpdated(account_id=context.account_id, chat_id=context.id))
            return learnt or context
        except Exception as exc:
            log.warning("chat %s: could not read its details from Avito: %s", context.id, exc)
        return context

    async def _send_pending(self, context: ChatContext, row: PendingRow, parts: list[Outbound] | None) -> int:
        """Sends the row's pending parts: ``parts`` as the turn just queued them, or (None) as stored; storing the
        last one marks the row processed. Returns how many were sent."""
        live = self.live
        sent = 0
        if parts is None:
            parts = [o for o in await store.outbound_of(live.pool, row.inbox_id) if o.status == "pending"]
        recheck = row.attempts > 0  # an earlier attempt may have reached Avito before it died
        for n, part in enumerate(parts, 1):
            found = await self._already_on_avito(context, part) if recheck else None
            if found is None:
                # The last part asks the account to mark the chat read on Avito a little later (ReadMarks).
                [message] = await live.accounts.send_text(
                    context.account_id, context.avito_chat_id, part.text, mark_read=n == len(parts)
                )
                found = (message.id, message.created)
            finishes = row.inbox_id if n == len(parts) else None
            view = await store.store_sent_view(
                live.pool, part.id, found[0], context.account_user_id, found[1], finishes=finishes
            )
            await live.publish(MessageNew(account_id=context.account_id, chat_id=context.id, message=view))
            sent += 1
        return sent

    async def _already_on_avito(self, context: ChatContext, part: Outbound) -> tuple[str, int] | None:
        """The message Avito holds for a part an interrupted attempt may have sent, matched by text among the
        account's own messages written since the part was queued."""
        since = part.created_at.timestamp() - 5
        for message in await self.live.accounts.recent_messages(context.account_id, context.avito_chat_id, 50):
            if (
                message.get("author_id") == context.account_user_id
                and message.get("type") == "text"
                and (message.get("content") or {}).get("text") == part.text
                and int(message.get("created") or 0) >= since
            ) and not await store.is_our_message(self.live.pool, context.account_id, str(message["id"])):
                return str(message["id"]), int(message.get("created") or 0)
        return None


class SessionHost:
    """Hosts the chat sessions of the chats that hash to it; activates, wakes and passivates them."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.sessions: dict[int, ChatSession] = {}
        self.activations = 0
        self.passivations = 0

    def deliver(self, chat_ids: list[int]) -> None:
        for chat_id in chat_ids:
            self.wake(chat_id)

    def wake(self, chat_id: int) -> None:
        """Activates the chat's session if it is not active, and wakes it."""
        if (session := self.sessions.get(chat_id)) is None:
            session = self.sessions[chat_id] = ChatSession(self.live, chat_id)
            self.activations += 1
        session.wake()

    def passivate_idle(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        idle = [c for c, s in self.sessions.items() if not s.busy and now - s.last_used > self.live.config.idle_ttl]
        for chat_id in idle:
            del self.sessions[chat_id]
        self.passivations += len(idle)
        return len(idle)

    async def settle(self) -> None:
        """Waits until no session is working (tests and shutdown)."""
        while running := [s._task for s in self.sessions.values() if s.busy and s._task is not None]:
            await asyncio.gather(*running, return_exceptions=True)

    def stats(self) -> dict[str, int]:
        knowledge = self.live.knowledge
        return {
            "active": len(self.sessions),
            "busy": sum(s.busy for s in self.sessions.values()),
            "activations": self.activations,
            "passivations": self.passivations,
            # Questions embedded, and answered from an earlier embedding of the same text (KnowledgeBase), and
            # questions that skipped their retrieval signals too (the same text on the same index).
            "query_vectors_embedded": knowledge.vectors_embedded if knowledge is not None else 0,
            "query_vectors_reused": knowledge.vectors_reused if knowledge is not None else 0,
            "question_signals_reused": knowledge.signals_reused if knowledge is not None else 0,
        }


class SessionHostActor:
    """The Ray shell of a SessionHost: builds its own pool, knowledge base, model client and publisher from the
    settings, reaches Avito through the account actors, and hears of its chats' new rows from the database
    (`InboxListener`; it is host ``index`` of ``hosts``)."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        config: SessionConfig | None = None,
        *,
        index: int = 0,
        hosts: int = 1,
    ) -> None:
        self.settings = settings
        self.services = services
        self.config = config or SessionConfig()
        self.index = index
        self.hosts = hosts
        self._host: SessionHost | None = None
        self._listener: InboxListener | None = None
        self._starting = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None

    async def _ready(self) -> SessionHost:
        if self._host is None:
            async with self._starting:
                if self._host is None:
                    # Sessions leave no session state on a connection (no SET, LISTEN, advisory lock or cursor
                    # outlives a call), so a released connection needs no reset round trip. Every connection is
                    # opened now, not by the first burst of buyers (a new one costs a server process, its codecs'
                    # type lookups and cold catalog caches).
                    pool = await db.create_pool(
                        self.services.database_url, min_size=HOST_CONNECTIONS, max_size=HOST_CONNECTIONS, reset=False
                    )
                    llm = None
                    if self.settings.openrouter_api_key:
                        from graphs.llm import LLMClient

                        llm = LLMClient(self.settings)
                    live = Live(
                        pool,
                        KnowledgeBase(pool, embedder_for(self.settings)),
                        RayAccounts(self.settings, self.services.database_url),
                        Publisher(self.services.redis_url),
                        llm=llm,
                        config=self.config,
                    )
                    host = SessionHost(live)
                    self._listener = InboxListener(
                        self.services.database_url, host.wake, index=self.index, hosts=self.hosts
                    )
                    await self._listener.start()
                    self._host = host
                    self._reaper = asyncio.create_task(self._reap())
        return self._host

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(60.0, self.config.idle_ttl / 2))
            if self._host is not None:
                self._host.passivate_idle()

    async def deliver(self, chat_ids: list[int]) -> None:
        (await self._ready()).deliver(chat_ids)

    async def settle(self) -> None:
        await (await self._ready()).settle()

    async def stats(self) -> dict[str, int]:
        stats = (await self._ready()).stats()
        # Rows announced by the database for this host's chats (the dispatcher's sweep counts the rest).
        return {**stats, "announced": self._listener.heard if self._listener is not None else 0}

    async def warm_up(self) -> None:
        await (await self._ready()).live.warm_up()
