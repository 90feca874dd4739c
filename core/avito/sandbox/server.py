"""Running the sandbox: standalone until interrupted (``run_sandbox``), or in a thread of a test (``Sandbox``)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from core.avito.sandbox.app import create_sandbox_app
from core.avito.sandbox.config import SandboxAccount, SandboxConfig
from core.avito.sandbox.state import SandboxState


def _uvicorn_config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        interface="asgi3",
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws="none",
        loop="uvloop",  # less CPU per request than asyncio's own loop: in benchmarks the sandbox shares the cores
        timeout_graceful_shutdown=2,
    )


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8090,
    config: SandboxConfig | None = None,
    *,
    on_started: Callable[[SandboxState], None] | None = None,
) -> None:
    """Serves the sandbox until interrupted (the demo's stand-in for api.avito.ru); ``on_started`` is called once
    it accepts connections. Ctrl-C stops it gracefully and then raises ``KeyboardInterrupt``, as uvicorn does."""
    state = SandboxState(config)
    state.public_url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    server_config = _uvicorn_config(create_sandbox_app(state))
    server_config.host, server_config.port = host, port
    server = uvicorn.Server(server_config)

    async def serve() -> None:
        serving = asyncio.create_task(server.serve())
        # uvicorn has no "started" event; polling its flag costs nothing.
        while not server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if server.started and on_started is not None:
            on_started(state)
        await serving

    asyncio.run(serve())


class Sandbox:
    """The sandbox in a daemon thread of this process, on a loopback port bound before the thread starts."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: Path | None = None,
    ) -> None:
        """``state_file``: keep the world there across restarts (see ``persistence``); in memory only without."""
        self.state = SandboxState(config, state_file=state_file)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.state.public_url = self.url
        self._server = uvicorn.Server(_uvicorn_config(create_sandbox_app(self.state)))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="avito-sandbox", daemon=True
        )

    @property
    def accounts(self) -> list[SandboxAccount]:
        return list(self.state.accounts.values())

    def start_simulator(self, rate: float) -> None:
        """Simulated buyers write ``rate`` messages a minute across all accounts (0 stops them)."""
        self.state.start_simulator(rate)

    def start(self) -> Sandbox:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Avito sandbox did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
