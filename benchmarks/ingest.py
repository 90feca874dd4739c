"""Webhook ingest: how many Avito deliveries per second `POST /webhooks/avito/{secret}` stores, and how fast it
acknowledges them — the real app (``create_app`` without the live path, so only the durable half runs: decode,
the `ingest_message` transaction in PostgreSQL, the answer, then the events published to Valkey after it) in its
own process, served as `avibot up` serves it, against embedded PostgreSQL and Valkey, with one connected account.

Beside it, in the same run with the same server settings, a bare Litestar endpoint at the same path that decodes
the same JSON and answers 200: the ceiling of the web stack alone, as the reference ratio.

    python benchmarks/ingest.py [--chats 3000] [--concurrency 8,32,128] [--seconds 8] [--rate 500]
                                [--open-seconds 10] [--reference-rate 250] [--loop asyncio|uvloop]

Deliveries are what the sandbox sends (core/avito/sandbox/webhooks.py): the v3 envelope with a distinct message
id each, into a few thousand u2i chats (each chat's first delivery, which creates the chat, in a phase of its
own), with buyers' texts from the intent examples. The load generator is this process: a raw HTTP/1.1 client on
keep-alive connections with prebuilt requests (a few µs each, so the cores stay with the server).

- closed loop: N connections each sending back to back for ``--seconds`` (after a 1 s warm-up) → webhooks/s;
- open loop: a fixed ``--rate`` for ``--open-seconds`` → ack latency, measured from each request's scheduled
  send time (a late request is not forgiven; no coordinated omission); then the same at ``--reference-rate``.

Prints one JSON object: both servers' phases (throughput, p50/p99 ack, CPU in cores per process group), the
app/bare ratio, the goals, and the exactly-once check: every acknowledged delivery is one message row and one
inbox row, nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import hmac
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psutil  # noqa: E402
import uvloop  # noqa: E402
from live_stack import (  # noqa: E402
    SECRET_KEY,
    AppProcess,
    CpuMeter,
    Services,
    open_connections,
    percentiles,
    post_bytes,
    revision,
    tree,
)

from core import db  # noqa: E402
from core.avito.sandbox.content import buyer_texts  # noqa: E402
from core.bootstrap import prepare  # noqa: E402
from core.embedded import free_port  # noqa: E402
from core.security import SecretBox  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.store.accounts import Credentials, upsert_account  # noqa: E402

ACCOUNT_USER_ID = 301_000_001
GOAL_WEBHOOKS_PER_S = 1500
GOAL_P99_MS = 50.0


class Deliveries:
    """Avito's webhook deliveries for one account, as prebuilt HTTP requests with distinct message ids."""

    def __init__(self, secret: str, chats: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.path = f"/webhooks/avito/{secret}"
        self.chats = [
            (f"u2i-{self.rng.getrandbits(96):024x}", 500_000_001 + n, 4_300_000_001 + self.rng.randrange(40))
            for n in range(chats)
        ]
        self.texts = [text for texts in buyer_texts().values() for text in texts]

    def make(self, chat: int | None = None) -> tuple[str, bytes]:
        rng = self.rng
        chat_id, buyer, item = self.chats[rng.randrange(len(self.chats)) if chat is None else chat]
        message_id = f"{rng.getrandbits(128):032x}"
        created = int(time.time())
        event = {
            "id": f"{rng.getrandbits(128):032x}",
            "version": "v3.0.0",
            "timestamp": created,
            "payload": {
                "type": "message",
                "value": {
                    "id": message_id,
                    "chat_id": chat_id,
                    "user_id": ACCOUNT_USER_ID,
                    "author_id": buyer,
                    "created": created,
                    "type": "text",
                    "chat_type": "u2i",
                    "content": {"text": rng.choice(self.texts)},
                    "item_id": item,
                    "published_at": datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z"),
                    "read": None,
                },
            },
        }
        body = json.dumps(event, ensure_ascii=False).encode()
        signature = hmac.new(b"sandbox", body, hashlib.sha256).hexdigest()
        return message_id, post_bytes(self.path, body, {"x-avito-messenger-signature": signature})

    def stream(self, prebuilt: int) -> Iterator[tuple[str, bytes]]:
        """``prebuilt`` requests made now (before the clock starts), then more on the fly if the server is faster."""
        ready = [self.make() for _ in range(prebuilt)]

        def requests() -> Iterator[tuple[str, bytes]]:
            yield from ready
            while True:
                yield self.make()

        return requests()


class Tally:
    def __init__(self) -> None:
        self.stored: list[str] = []  # message ids answered 200 "stored": "message"
        self.other: collections.Counter[str] = collections.Counter()

    def add(self, message_id: str, status: int, body: bytes) -> None:
        if status == 200 and b'"stored":"message"' in body:
            self.stored.append(message_id)
        else:
            self.other[f"{status} {body[:80].decode(errors='replace')}"] += 1


async def closed_loop(
    port: int, requests: Iterator[tuple[str, bytes]], concurrency: int, seconds: float, warmup: float, tally: Tally
) -> dict[str, Any]:
    connections = await open_connections(port, concurrency)
    latencies: list[float] = []
    clock = time.perf_counter
    begin = clock()
    measure_from, end = begin + warmup, begin + warmup + seconds

    async def worker(conn: Any) -> None:
        while (started := clock()) < end:
            message_id, data = next(requests)
            status, body = await conn.request(data)
            done = clock()
            tally.add(message_id, status, body)
            if started >= measure_from and done <= end:
                latencies.append(done - started)

    await asyncio.gather(*(worker(c) for c in connections))
    for conn in connections:
        conn.close()
    return {"concurrency": concurrency, "webhooks_per_s": round(len(latencies) / seconds), **percentiles(latencies)}


async def each_chat_once(
    port: int, requests: list[tuple[str, bytes]], concurrency: int, tally: Tally
) -> dict[str, Any]:
    """One delivery per chat (each creates its chat), closed loop."""
    pending = iter(requests)
    connections = await open_connections(port, concurrency)
    latencies: list[float] = []
    begin = time.perf_counter()

    async def worker(conn: Any) -> None:
        for message_id, data in pending:
            started = time.perf_counter()
            status, body = await conn.request(data)
            latencies.append(time.perf_counter() - started)
            tally.add(message_id, status, body)

    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - begin
    for conn in connections:
        conn.close()
    return {"concurrency": concurrency, "webhooks_per_s": round(len(requests) / elapsed), **percentiles(latencies)}


async def open_loop(
    port: int, requests: list[tuple[str, bytes]], rate: float, seconds: float, tally: Tally, pool: int = 64
) -> dict[str, Any]:
    """A fixed rate regardless of how fast answers come; latency counted from each request's scheduled time."""
    count = len(requests)
    free: asyncio.Queue[Any] = asyncio.Queue()
    for conn in await open_connections(port, pool):
        free.put_nowait(conn)
    from_schedule: list[float] = []
    from_send: list[float] = []
    late: list[float] = []
    clock = time.perf_counter  # uvloop's loop.time() has millisecond resolution

    async def one(message_id: str, data: bytes, scheduled: float) -> None:
        conn = await free.get()
        sent = clock()
        try:
            status, body = await conn.request(data)
        finally:
            free.put_nowait(conn)
        done = clock()
        tally.add(message_id, status, body)
        from_schedule.append(done - scheduled)
        from_send.append(done - sent)

    tasks = []
    start = clock() + 0.1
    for n, (message_id, data) in enumerate(requests):
        scheduled = start + n / rate
        if (delay := scheduled - clock()) > 0:
            await asyncio.sleep(delay)
        late.append(clock() - scheduled)
        tasks.append(asyncio.create_task(one(message_id, data, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = clock() - start
    while not free.empty():
        free.get_nowait().close()
    return {
        "rate": rate,
        "seconds": seconds,
        "achieved_per_s": round(count / elapsed),
        "ack": percentiles(from_schedule),
        "ack_from_send": percentiles(from_send),
        "scheduler_late_p99_ms": percentiles(late).get("p99_ms"),
    }


async def measure(
    app: AppProcess, services: Services, deliveries: Deliveries, args: argparse.Namespace, tally: Tally
) -> dict[str, Any]:
    meter = CpuMeter(lambda: {"app": tree(app.pid), **services.groups(), "client": [psutil.Process()]})
    result: dict[str, Any] = {}
    first = [deliveries.make(n) for n in range(len(deliveries.chats))]
    meter.start()
    result["new_chats"] = await each_chat_once(app.port, first, 32, tally)
    result["new_chats"]["cpu_cores"] = meter.stop()
    result["closed_loop"] = []
    for concurrency in args.concurrency:
        requests = deliveries.stream(int(6000 * (args.seconds + 1)))
        meter.start()
        phase = await closed_loop(app.port, requests, concurrency, args.seconds, 1.0, tally)
        phase["cpu_cores"] = meter.stop()
        result["closed_loop"].append(phase)
    result["max_webhooks_per_s"] = max(p["webhooks_per_s"] for p in result["closed_loop"])
    for key, rate in (("open_loop", args.rate), ("open_loop_reference", args.reference_rate)):
        if rate <= 0:
            continue
        fixed = [deliveries.make() for _ in range(int(rate * args.open_seconds))]
        meter.start()
        result[key] = await open_loop(app.port, fixed, rate, args.open_seconds, tally)
        result[key]["cpu_cores"] = meter.stop()
    return result


async def check_stored(database_url: str, account_id: int, tally: Tally) -> dict[str, Any]:
    conn = await db.connect(database_url)
    try:
        stored = [r["avito_message_id"] for r in await conn.fetch(
            "SELECT avito_message_id FROM messages WHERE account_id = $1", account_id)]  # fmt: skip
        inbox = await conn.fetchval("SELECT count(*) FROM inbox WHERE account_id = $1 AND kind = 'message'", account_id)
        inbox_per_message = await conn.fetchval(
            "SELECT count(*) FROM (SELECT message_id FROM inbox WHERE account_id = $1 AND kind = 'message' "
            "GROUP BY message_id HAVING count(*) <> 1) x",
            account_id,
        )
        chats = await conn.fetchval("SELECT count(*) FROM chats WHERE account_id = $1", account_id)
    finally:
        await conn.close()
    acked, rows = set(tally.stored), set(stored)
    return {
        "acknowledged": len(tally.stored),
        "acknowledged_distinct": len(acked),
        "message_rows": len(stored),
        "message_rows_distinct": len(rows),
        "inbox_rows": inbox,
        "messages_without_exactly_one_inbox_row": inbox_per_message,
        "acknowledged_but_missing": len(acked - rows),
        "stored_but_not_acknowledged": len(rows - acked),
        "chats": chats,
        "not_acknowledged": dict(tally.other),
        "ok": len(acked) == len(tally.stored) == len(stored) == len(rows) == inbox
        and not (acked - rows)
        and not (rows - acked)
        and inbox_per_message == 0
        and not tally.other,
    }


async def setup(services: Services, settings: Settings) -> tuple[int, str, dict[str, Any]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await prepare(services.database_url, settings, demo=False)
    pool = await db.create_pool(services.database_url, max_size=2)
    try:
        info, secret, _ = await upsert_account(
            pool,
            SecretBox(SECRET_KEY),
            avito_user_id=ACCOUNT_USER_ID,
            name="Велосипеды Казань",
            credentials=Credentials(client_id="bench", client_secret="bench"),
            api_url="http://127.0.0.1:9",
            is_sandbox=True,
        )
        server_settings = {
            name: await pool.fetchval(f"SHOW {name}")
            for name in ("synchronous_commit", "fsync", "shared_buffers", "max_connections")
        }
    finally:
        await pool.close()
    return info.id, secret, server_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--concurrency", default="8,32,128", help="closed-loop connection counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per closed-loop level")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop deliveries per second")
    parser.add_argument("--open-seconds", type=float, default=10.0)
    parser.add_argument("--reference-rate", type=float, default=250.0, help="a second open-loop rate (0: none)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop",
                        help="the servers' event loop (`avibot up` runs uvloop)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]

    report: dict[str, Any] = {
        "revision": revision(),
        "cpus": os.cpu_count(),
        "server_loop": args.loop,
        "chats": args.chats,
    }
    with tempfile.TemporaryDirectory(prefix="avibot-bench-") as tmp, Services(Path(tmp)) as services:
        settings = Settings(data_dir=Path(tmp) / "data", secret_key=SECRET_KEY, host="127.0.0.1", port=free_port())
        account_id, secret, report["postgres"] = asyncio.run(setup(services, settings))
        deliveries = Deliveries(secret, args.chats, args.seed)
        tally = Tally()
        with AppProcess("ingest", settings.port, services, settings.data_dir, loop=args.loop) as app:
            report["app"] = uvloop.run(measure(app, services, deliveries, args, tally))
        report["exactly_once"] = asyncio.run(check_stored(services.database_url, account_id, tally))
        bare_tally = Tally()
        with AppProcess("bare", free_port(), services, settings.data_dir, loop=args.loop) as bare:
            report["bare"] = uvloop.run(measure(bare, services, Deliveries(secret, args.chats, args.seed + 1),
                                                args, bare_tally))  # fmt: skip
    app_max, bare_max = report["app"]["max_webhooks_per_s"], report["bare"]["max_webhooks_per_s"]
    report["app_to_bare_ratio"] = round(app_max / bare_max, 3)
    p99 = report["app"]["open_loop"]["ack"]["p99_ms"]
    report["goals"] = {
        f"webhooks_per_s >= {GOAL_WEBHOOKS_PER_S}": app_max >= GOAL_WEBHOOKS_PER_S,
        f"p99 ack <= {GOAL_P99_MS:g} ms at {args.rate:g}/s": p99 <= GOAL_P99_MS,
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
