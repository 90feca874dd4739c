"""Dependencies every handler may ask for by name; the app's lifespan puts them in `app.state`."""

from __future__ import annotations

import asyncpg
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from redis.asyncio import Redis

DbPool = NamedDependency[asyncpg.Pool]
RedisClient = NamedDependency[Redis]


def _pool(state: State) -> asyncpg.Pool:
    return state.db_pool


def _redis(state: State) -> Redis:
    return state.redis


DEPENDENCIES = {
    "db_pool": Provide(_pool, sync_to_thread=False),
    "redis": Provide(_redis, sync_to_thread=False),
}
