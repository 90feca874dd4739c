"""Simulated buyers: questions from the intent examples, in new chats or existing ones, at a Poisson rate
(a mixin of ``SandboxState``; the loop runs as a task on the server's loop)."""

from __future__ import annotations

import asyncio
import logging
import random
import threading

from core.avito.sandbox.config import SandboxAccount, SandboxConfig
from core.avito.sandbox.content import buyer_texts
from core.avito.sandbox.errors import ApiError
from core.avito.sandbox.models import SbChat

log = logging.getLogger(__name__)


class BuyerSimulator:
    """Buyers who write on their own (mixed into ``SandboxState``: messages go in through its ``inject``, the rate
    through its ``configure``; ``_loop`` is set while the server runs)."""

    config: SandboxConfig
    _lock: threading.RLock
    _rng: random.Random
    accounts: dict[int, SandboxAccount]
    chats: dict[str, SbChat]
    blacklisted: dict[int, set[int]]
    _loop: asyncio.AbstractEventLoop | None
    _simulator: asyncio.Task[None] | None

    def start_simulator(self, rate: float) -> None:
        """Buyers write ``rate`` messages a minute (on average, Poisson) across all accounts; 0 stops them."""
        self.configure(simulator_rate=rate)

    def stop_simulator(self) -> None:
        self.configure(simulator_rate=0.0)

    def _restart_simulator(self) -> None:
        if self._loop is None:
            return  # started with the server, from the config

        def restart() -> None:
            if self._simulator is not None:
                self._simulator.cancel()
                self._simulator = None
            if self.config.simulator_rate > 0:
                self._simulator = asyncio.get_running_loop().create_task(self._simulate())

        self._loop.call_soon_threadsafe(restart)

    async def _simulate(self) -> None:
        while (rate := self.config.simulator_rate) > 0:
            await asyncio.sleep(self._rng.expovariate(rate / 60))
            try:
                self.simulate_one()
            except ApiError as exc:  # e.g. a blacklisted buyer: the next one will do
                log.debug("simulator: %s", exc.message)

    def simulate_one(self) -> tuple[str, str]:
        """One buyer message: a question in an existing buyer's chat, or a new chat opened with a question."""
        texts = buyer_texts()
        questions = [intent for intent in texts if intent not in ("greeting", "thanks")]
        with self._lock:
            account_id = self._rng.choice(list(self.accounts))
            open_chats = [
                c
                for c in self.chats.values()
                if c.account_id == account_id and c.buyer.id not in self.blacklisted[account_id]
            ]
            if open_chats and self._rng.random() < 0.6:
                chat = self._rng.choice(open_chats)
                intent = self._rng.choice([*questions, "thanks"])
                return self.inject(account_id, chat_id=chat.id, text=self._rng.choice(texts[intent]))
            text = self._rng.choice(texts[self._rng.choice(questions)])
            if self._rng.random() < 0.3:
                greeting = self._rng.choice(texts["greeting"]).rstrip()
                text = f"{greeting if greeting[-1] in '!.,?' else greeting + '!'} {text}"
            return self.inject(account_id, text=text)
