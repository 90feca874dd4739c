"""The whole live path for a benchmark, assembled as tests/integration/test_live_path.py assembles it: embedded
PostgreSQL and Valkey, the database prepared as `avibot up` prepares it (default scenario, demo knowledge base),
the Avito sandbox in a thread of this process, the app with the live path (`LiveOptions(hosts=N)`: SessionHost
Ray actors of a local Ray) in a process of its own, and the sandbox's accounts connected to it.

`ReplyClock` times each buyer message from its injection into the sandbox to the moment the bot's answer is in
the sandbox chat: it wraps the sandbox's ``send_text`` (what its send-message route calls), so the clock stops
when the reply has been appended — not when a poll happens to notice it.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from core import db
from core.avito.connect import connect_account
from core.avito.sandbox import Sandbox, SandboxConfig
from core.avito.sandbox.config import demo_accounts
from core.avito.sandbox.content import buyer_texts
from core.bootstrap import prepare
from core.embedded import free_port
from core.settings import Settings

from . import SECRET_KEY, AppProcess, Services, app_groups, get_json

# Intents a buyer opens with that the default scenario answers rather than hands to a person.
ANSWERED_INTENTS = ("delivery", "price", "availability", "payment", "pickup", "product_info", "returns", "greeting")


class ReplyClock:
    """Injection → reply latency per message, matched per chat in order (a chat's session answers in order)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, collections.deque[tuple[float, bool, str]]] = collections.defaultdict(
            collections.deque
        )
        self.replies: list[tuple[str, bool, float, float]] = []  # (message id, first in chat, injected, replied)
        self.unmatched = 0  # sends with no waiting message (a reply's second part; an operator's message)
        self._waiting = 0
        state = sandbox.state
        original = state.send_text

        def send_text(account_id: int, chat_id: str, text: str) -> dict[str, Any]:
            answer = original(account_id, chat_id, text)
            self._replied(chat_id, time.monotonic())
            return answer

        state.send_text = send_text  # type: ignore[method-assign]
        self.state = state

    def inject(self, account_id: int, text: str, chat_id: str | None = None) -> tuple[str, str]:
        injected = time.monotonic()
        chat, message = self.state.inject(account_id, text=text, chat_id=chat_id)
        with self._lock:
            self._pending[chat].append((injected, chat_id is None, message))
            self._waiting += 1
        return chat, message

    def _replied(self, chat_id: str, at: float) -> None:
        with self._lock:
            waiting = self._pending.get(chat_id)
            if not waiting:
                self.unmatched += 1
                return
            injected, first, message = waiting.popleft()
            self._waiting -= 1
            self.replies.append((message, first, injected, at))

    def waiting(self) -> int:
        with self._lock:
            return self._waiting

    def acked_at(self) -> dict[str, float]:
        """Message id → when the app answered its webhook delivery 2xx (the sandbox's own record)."""
        with self.state._lock:
            deliveries = list(self.state.deliveries)
        acked: dict[str, float] = {}
        for d in deliveries:
            if 200 <= d.status < 300 and d.message_id not in acked:
                acked[d.message_id] = d.at
        return acked

    def delivery_failures(self) -> dict[str, object]:
        """How the sandbox's webhook deliveries went wrong: attempts that failed (0: timeout or refused; else the
        status), and messages whose every attempt failed — the app learns of those only by its unread poll."""
        with self.state._lock:
            deliveries = list(self.state.deliveries)
        failed: dict[str, int] = {}
        delivered: set[str] = set()
        tried: set[str] = set()
        for d in deliveries:
            if d.dropped:
                continue
            tried.add(d.message_id)
            if 200 <= d.status < 300:
                delivered.add(d.message_id)
            else:
                failed[str(d.status)] = failed.get(str(d.status), 0) + 1
        return {"failed_attempts_by_status": failed, "messages_never_delivered": len(tried - delivered)}


class LiveStack:
    def __init__(self, root: Path, *, accounts: int, hosts: int, account_rate: float | None, seed: int = 5) -> None:
        self.root = root
        self.accounts = accounts
        self.hosts = hosts
        self.account_rate = account_rate
        self.seed = seed
        self.services = Services(root / "services")
        self.settings = Settings(data_dir=root / "data", secret_key=SECRET_KEY, host="127.0.0.1", port=free_port())
        self.sandbox = Sandbox(SandboxConfig(accounts=demo_accounts(accounts, seed), history_chats=0, seed=seed))
        self.clock = ReplyClock(self.sandbox)
        self.app: AppProcess | None = None
        self.account_users: list[int] = []
        self.timings: dict[str, float] = {}

    def __enter__(self) -> LiveStack:
        t0 = time.monotonic()
        self.services.__enter__()
        try:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            asyncio.run(prepare(self.services.database_url, self.settings))
            self.timings["prepare_s"] = round(time.monotonic() - t0, 1)
            self.sandbox.start()
            t1 = time.monotonic()
            self.app = AppProcess("live", self.settings.port, self.services, self.settings.data_dir, hosts=self.hosts)
            self.app.__enter__()
            self.timings["app_and_ray_start_s"] = round(time.monotonic() - t1, 1)
            asyncio.run(self._connect())
        except BaseException:
            self.__exit__()
            raise
        return self

    async def _connect(self) -> None:
        pool = await db.create_pool(self.services.database_url, max_size=2)
        try:
            for account in self.sandbox.accounts:
                connected = await connect_account(
                    pool,
                    self.settings,
                    client_id=account.client_id,
                    client_secret=account.client_secret,
                    api_url=self.sandbox.url,
                    is_sandbox=True,
                )
                self.account_users.append(connected.account.avito_user_id)
            if self.account_rate is not None:
                # An account's own limit (actors/account.py reads it when its actor starts, i.e. on first use).
                await pool.execute(
                    "UPDATE accounts SET settings = settings || jsonb_build_object("
                    "'rate_limit_per_second', $1::float8, 'rate_limit_burst', $2::int)",
                    self.account_rate,
                    max(40, int(self.account_rate * 2)),
                )
        finally:
            await pool.close()

    def __exit__(self, *exc: object) -> None:
        if self.app is not None:
            self.app.__exit__()
            self.app = None
        self.sandbox.stop()
        self.services.__exit__()

    # --- use ---------------------------------------------------------------------------------------------------

    @property
    def app_pid(self) -> int:
        assert self.app is not None
        return self.app.pid

    def stats(self) -> dict[str, Any]:
        assert self.app is not None
        return get_json(f"{self.app.url}/_bench/stats")  # type: ignore[no-any-return]

    def groups(self) -> dict[str, list[psutil.Process]]:
        """The product's processes by role (what `sessions.py` weighs)."""
        return {**app_groups(self.app_pid), **self.services.groups()}

    def groups_with_driver(self) -> dict[str, list[psutil.Process]]:
        """…and this process — the Avito sandbox and the benchmark's injector — for CPU accounting."""
        return {**self.groups(), "sandbox_and_driver": [psutil.Process()]}

    def wait_replies(self, within: float) -> int:
        """Waits until every injected message has its reply (or ``within`` s pass); returns how many still wait."""
        deadline = time.monotonic() + within
        while (waiting := self.clock.waiting()) and time.monotonic() < deadline:
            time.sleep(0.01)
        return waiting

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        conn = await db.connect(self.services.database_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()


async def answered_texts(database_url: str, settings: Settings, limit: int = 200) -> list[str]:
    """Buyers' opening messages (the intent examples of ANSWERED_INTENTS) that the default scenario, on the
    offline engine with the demo knowledge base, answers at once: no handoff (which would silence the chat's later
    messages) and no clarifying question. Run once here, so every injected message is owed exactly one reply."""
    from core.kb.search import KnowledgeBase, embedder_for
    from core.scenarios import default_scenario
    from graphs.compiler import TurnInput, compile_scenario, run_turn
    from graphs.runtime import Runtime

    pool = await db.create_pool(database_url, max_size=2)
    try:
        runtime = Runtime(search=KnowledgeBase(pool, embedder_for(settings)).search)
        compiled = compile_scenario(default_scenario())
        by_intent = buyer_texts()
        candidates = [t for intent in ANSWERED_INTENTS for t in by_intent.get(intent, ())[:40]]
        kept = []
        for text in candidates:
            result = await run_turn(compiled, TurnInput(message=text), runtime)
            nodes = {step.get("node") for step in result.trace}
            if result.reply.strip() and not result.handoff and "clarify_sent" not in nodes and not result.error:
                kept.append(text)
            if len(kept) >= limit:
                break
        return kept
    finally:
        await pool.close()
