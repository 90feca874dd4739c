"""`GET /healthz`: is every service the app depends on answering?"""

from __future__ import annotations

import asyncio
import time

import anyio
from litestar import Response, get

from actors import cluster
from api.deps import DbPool, RedisClient

CHECK_TIMEOUT = 3.0


async def _timed(check) -> dict[str, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            extra = await check()
    except Exception as exc:  # a health check reports failures, it does not raise them
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result: dict[str, object] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    result.update(extra or {})
    return result


@get("/healthz", tags=["system"], exclude_from_auth=True)
async def healthz(db_pool: DbPool, redis: RedisClient) -> Response[dict[str, object]]:
    async def postgres() -> dict[str, object]:
        return {"version": await db_pool.fetchval("SHOW server_version")}

    async def redis_check() -> dict[str, object]:
        await redis.ping()
        return {}

    async def ray_check() -> dict[str, object]:
        result = await anyio.to_thread.run_sync(cluster.health)
        if not result.pop("ok"):
            raise RuntimeError(result.get("error", "no live Ray node"))
        return result

    checks = dict(
        zip(
            ("postgres", "redis", "ray"),
            await asyncio.gather(_timed(postgres), _timed(redis_check), _timed(ray_check)),
            strict=True,
        )
    )
    ok = all(c["ok"] for c in checks.values())
    return Response({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)
