"""The Litestar application: REST, webhooks, health, and (later) the built UI and Socket.io."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from redis.asyncio import Redis

from api.auth import AuthController, auth_middleware
from api.deps import DEPENDENCIES
from api.errors import EXCEPTION_HANDLERS
from api.health import healthz
from api.rest.kb import KnowledgeBaseController
from api.rest.scenarios import ScenarioController
from core import db
from core.kb.search import KnowledgeBase, embedder_for
from core.services import Services
from core.settings import Settings
from graphs.llm import LLMClient


def create_app(settings: Settings, services: Services) -> Litestar:
    """Builds the app; connections open in its lifespan, never at import or build time."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await db.create_pool(services.database_url)
        redis = Redis.from_url(services.redis_url)
        app.state.db_pool = pool
        app.state.redis = redis
        app.state.knowledge = KnowledgeBase(pool, embedder_for(settings))
        # The LLM engine when a key is configured; otherwise scenarios run on the offline engine.
        app.state.llm = LLMClient(settings) if settings.openrouter_api_key else None
        try:
            yield
        finally:
            if app.state.llm is not None:
                await app.state.llm.aclose()
            await redis.aclose()
            await pool.close()

    return Litestar(
        route_handlers=[healthz, AuthController, KnowledgeBaseController, ScenarioController],
        middleware=[auth_middleware],
        lifespan=[lifespan],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(title="avibot", version="0.1.0", path="/schema"),
        state=State({"settings": settings, "services": services}),
    )
