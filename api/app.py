"""The web application: Litestar (REST, webhooks, health) inside python-socketio's ASGI app (`/socket.io`).

`create_app` builds the Litestar app; `create_asgi` wraps it with the Socket.io server, which is what `avibot up`
serves. With ``live`` the app also runs the live path: the dispatcher in this process and the session hosts as
Ray actors (or, with ``LiveOptions(in_process=True)``, in this process — tests and benchmarks without Ray).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from redis.asyncio import Redis

from api.auth import AuthController, auth_middleware
from api.deps import DEPENDENCIES
from api.errors import EXCEPTION_HANDLERS
from api.health import healthz
from api.rest.accounts import AccountController
from api.rest.chats import ChatController
from api.rest.kb import KnowledgeBaseController
from api.rest.quick_replies import QuickReplyController
from api.rest.scenarios import ScenarioController
from api.rest.search import SearchController
from api.ui import browser_app, browser_app_index
from api.webhooks import WebhookTargets, avito_webhook
from core import db
from core.events import Publisher, close_manager
from core.kb.search import KnowledgeBase, embedder_for
from core.services import Services
from core.settings import Settings
from core.store.inbox import IngestQueue
from graphs.llm import LLMClient


class LiveOptions(msgspec.Struct, frozen=True, kw_only=True):
    # SessionHost actors; chats are spread over them by hash. One per two cores: a host uses a core at most, and
    # each costs ~390 MiB (models, knowledge base) — on 2 cores, two hosts missed the 10,000-session memory goal.
    hosts: int = msgspec.field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    in_process: bool = False  # hosts in this process instead of Ray actors
    sweep_every: float = 2.0  # seconds between the dispatcher's inbox sweeps
    poll_every: float = 60.0  # seconds between polls of unread chats (webhooks that never came); 0: off


def create_app(settings: Settings, services: Services, *, live: LiveOptions | None = None) -> Litestar:
    """Builds the app; connections open in its lifespan, never at import or build time."""
    # Resolved once here: actors in other processes (other working directories) must not look for the
    # generated key file themselves.
    settings = dataclasses.replace(settings, secret_key=settings.secret(), data_dir=settings.data_dir.resolve())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await db.create_pool(services.database_url, max_size=20)
        redis = Redis.from_url(services.redis_url)
        app.state.db_pool = pool
        app.state.redis = redis
        app.state.knowledge = KnowledgeBase(pool, embedder_for(settings))
        # The LLM engine when a key is configured; otherwise scenarios run on the offline engine.
        app.state.llm = LLMClient(settings) if settings.openrouter_api_key else None
        app.state.publisher = Publisher(services.redis_url)
        app.state.webhook_targets = WebhookTargets(pool)
        app.state.ingest_queue = IngestQueue(pool)  # webhooks' group commit
        await app.state.webhook_targets.reload()
        app.state.dispatcher = None
        # How operators' sends reach Avito: through the account actors when the live path runs on Ray (one
        # token and rate limit per account for bot and operators), else through account sessions in this process.
        app.state.accounts = _accounts(settings, services, live)
        stop_live = await _start_live(app, settings, services, live) if live is not None else None
        try:
            yield
        finally:
            if stop_live is not None:
                await stop_live()
            await app.state.accounts.aclose()
            await app.state.publisher.aclose()
            if (sio := app.state.get("socket_server")) is not None:
                await close_manager(sio.manager)
            if app.state.llm is not None:
                await app.state.llm.aclose()
            await redis.aclose()
            await pool.close()

    return Litestar(
        route_handlers=[
            healthz,
            avito_webhook,
            AuthController,
            AccountController,
            ChatController,
            QuickReplyController,
            KnowledgeBaseController,
            ScenarioController,
            SearchController,
            browser_app_index,
            browser_app,
        ],
        middleware=[auth_middleware],
        lifespan=[lifespan],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(title="avibot", version="0.1.0", path="/schema"),
        # Unexpected errors are logged with their traceback by api/errors.py's handler, and refused requests (4xx)
        # not at all; routine INFO chatter of libraries (each HTTP call to Avito) is not logged either.
        logging_config=LoggingConfig(root={"level": "WARNING", "handlers": ["queue_listener"]}, log_exceptions="debug"),
        state=State({"settings": settings, "services": services}),
    )


def _accounts(settings: Settings, services: Services, live: LiveOptions | None) -> Any:
    from actors.registry import LocalAccounts, RayAccounts

    if live is not None and not live.in_process:
        return RayAccounts(settings, services.database_url)
    return LocalAccounts(settings, services.database_url)


def create_asgi(settings: Settings, services: Services, *, live: LiveOptions | None = None) -> Any:
    """The app as served: Socket.io at /socket.io, everything else by Litestar (which also runs the lifespan)."""
    import socketio

    from api.realtime import create_socket_server

    app = create_app(settings, services, live=live)
    sio = create_socket_server(services.redis_url, app.state)
    app.state.socket_server = sio  # closed by the lifespan
    return socketio.ASGIApp(sio, other_asgi_app=app, socketio_path="socket.io")


async def _start_live(app: Litestar, settings: Settings, services: Services, options: LiveOptions) -> Any:
    """Starts the session hosts and the dispatcher; returns the coroutine function that stops them."""
    from actors.dispatcher import Dispatcher, RayHost
    from actors.inbox_listener import InboxListener
    from actors.registry import HOST_PREFIX, deployment_key, host_index
    from actors.sessions import Live, SessionHost, SessionHostActor
    from core.heap import freeze_start_up_heap

    listener = None
    if options.in_process:
        accounts = app.state.accounts
        live = Live(app.state.db_pool, app.state.knowledge, accounts, app.state.publisher, llm=app.state.llm)
        await live.warm_up()
        hosts: list[Any] = [SessionHost(live) for _ in range(options.hosts)]
        app.state.session_hosts = hosts
        # One listener for this process's hosts (a Ray host listens for itself).
        listener = InboxListener(
            services.database_url, lambda chat_id: hosts[host_index(chat_id, len(hosts))].wake(chat_id)
        )
        await listener.start()
    else:
        import ray

        remote = ray.remote(SessionHostActor)
        key = deployment_key(services.database_url)
        handles = [
            remote.options(
                name=f"{HOST_PREFIX}{key}:{n}", get_if_exists=True, num_cpus=0, max_restarts=-1, max_concurrency=10_000
            ).remote(settings, services, index=n, hosts=options.hosts)
            for n in range(options.hosts)
        ]
        # The knowledge base and models load before the first buyer waits for them.
        await asyncio.gather(*(h.warm_up.remote() for h in handles))
        hosts = [RayHost(h) for h in handles]
        app.state.session_hosts = handles
    freeze_start_up_heap()  # the web process's own libraries and Ray's client, loaded by now
    dispatcher = Dispatcher(app.state.db_pool, hosts, sweep_every=options.sweep_every)
    app.state.dispatcher = dispatcher
    dispatcher.start()
    poller = None
    if options.poll_every > 0:
        from actors.poller import Poller, local_poll, ray_poll

        poll = local_poll(accounts) if options.in_process else ray_poll(settings, services.database_url)
        poller = Poller(
            app.state.db_pool,
            poll,  # what it stores is announced by the database like a webhook's row: no wake-up from here
            publisher=app.state.publisher,
            every=options.poll_every,
        )
        poller.start()

    async def stop() -> None:
        if poller is not None:
            await poller.stop()
        if listener is not None:
            await listener.stop()
        await dispatcher.stop()
        if options.in_process:
            for host in hosts:
                await host.settle()
        else:
            import ray

            for handle in app.state.session_hosts:
                ray.kill(handle)

    return stop
