"""Serves one app for a benchmark, in a process of its own, as `avibot up` serves it: uvicorn with its defaults
(httptools when installed), log level warning, lifespan on, on uvloop (``uvloop.run(server.serve())``) as in
`avibot up`; ``--loop asyncio`` runs the standard library's loop instead.

    python benchmarks/live_stack/server.py --app ingest|bare|live --port P --data-dir D \
        --database-url URL --redis-url URL [--hosts 2] [--in-process] [--loop asyncio|uvloop]

- ``ingest``: ``create_app(settings, services)`` without the live path: only the webhook's durable half runs.
- ``bare``: the reference — a Litestar endpoint at the same path that decodes the same JSON and answers 200.
- ``live``: ``create_asgi(settings, services, live=LiveOptions(hosts=N))``, the session hosts as Ray actors of a
  local Ray started here (``actors.cluster.start``, as `avibot up` does), or in this process with ``--in-process``.
  It also answers ``GET /_bench/stats``: every SessionHost's `stats` and the dispatcher's counters.

Prints ``READY <pid>`` on stdout once it accepts connections; SIGINT stops it gracefully (and its Ray with it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import uvicorn  # noqa: E402
from litestar import Litestar, Request, Response, get, post  # noqa: E402

from core.services import Services  # noqa: E402
from core.settings import Settings  # noqa: E402


@post("/webhooks/avito/{secret:str}", status_code=200)
async def bare_webhook(request: Request[Any, Any, Any], secret: str) -> Response[dict[str, Any]]:
    payload = msgspec.json.decode(await request.body())
    if not isinstance(payload, dict):
        return Response({"error": "The body must be a JSON object."}, status_code=400)
    return Response({"ok": True, "stored": "message"})


@get("/healthz")
async def bare_health() -> dict[str, bool]:
    return {"ok": True}


@get("/_bench/stats", exclude_from_auth=True)
async def bench_stats(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state = request.app.state
    hosts = state.get("session_hosts") or []
    if hosts and hasattr(hosts[0], "stats") and not hasattr(hosts[0].stats, "remote"):
        stats = [host.stats() for host in hosts]
    else:
        stats = list(await asyncio.gather(*(host.stats.remote() for host in hosts)))
    dispatcher = state.get("dispatcher")
    return {
        "hosts": stats,
        "dispatched": dispatcher.dispatched if dispatcher else 0,
        "swept": dispatcher.swept if dispatcher else 0,
    }


def build(args: argparse.Namespace) -> Any:
    settings = Settings(data_dir=Path(args.data_dir), secret_key=args.secret_key, host="127.0.0.1", port=args.port)
    services = Services(args.database_url, args.redis_url)
    if args.app == "bare":
        return Litestar(route_handlers=[bare_webhook, bare_health], openapi_config=None)
    if args.app == "ingest":
        from api.app import create_app

        return create_app(settings, services)
    from api.app import LiveOptions, create_asgi

    asgi = create_asgi(settings, services, live=LiveOptions(hosts=args.hosts, in_process=args.in_process))
    asgi.other_asgi_app.register(bench_stats)  # the Litestar app inside python-socketio's ASGI wrapper
    return asgi


async def serve(server: uvicorn.Server) -> None:
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 — uvicorn has no "started" event
        await asyncio.sleep(0.02)
    if server.started:
        print(f"READY {__import__('os').getpid()}", flush=True)
    await serving


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", choices=["ingest", "bare", "live"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--secret-key", default="bench-secret-key-" + "k" * 40)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop")
    args = parser.parse_args()
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    ray_started = args.app == "live" and not args.in_process
    if ray_started:
        from actors import cluster

        cluster.start(None)  # in the main thread, before the event loop, as `avibot up` does
    try:
        config = uvicorn.Config(build(args), host="127.0.0.1", port=args.port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(serve(server))
        else:
            asyncio.run(serve(server))
    except KeyboardInterrupt:
        pass
    finally:
        if ray_started:
            from actors import cluster

            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
