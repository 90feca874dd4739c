"""Turn latency on the live path: from a buyer's message appearing in the Avito sandbox to the bot's reply
appearing in the same sandbox chat — webhook delivery, ingest, dispatch, the chat's session on a SessionHost Ray
actor running the default scenario on the offline engine with the demo knowledge base, the send through the
account's AccountActor — the whole stack as `tests/integration/test_live_path.py` assembles it (see
benchmarks/live_stack/stack.py), with the app and its local Ray in a process of their own.

    python benchmarks/turn_latency.py [--rate 50] [--seconds 20] [--per-chat 3] [--accounts 2]
                                      [--account-rate R] [--steps 10,20,30,40,60,80,100,150] [--step-seconds 10]

Buyer messages are injected into the sandbox at a fixed rate (open loop), spread over the accounts, one in
``--per-chat`` opening a new chat (whose first turn also asks Avito for the chat's card), the others following up
in a recent chat of the same account. Texts are buyers' openers that the default scenario answers at once (checked
offline first; see `answered_texts`), so each message is owed exactly one reply. Each message is timed from
`state.inject` to the moment the sandbox's send handler has appended the bot's reply (`ReplyClock`), and from
injection to the app's 2xx to its webhook (the sandbox's own delivery record).

Then the rate steps up from low (``--steps``, ``--step-seconds`` each) until a step is not sustained: p99 over 1 s,
or replies still missing 20 s after the step's last message. Every phase waits for all its replies (up to 240 s)
before the next starts, and a phase's latencies include the late ones. Each turn also brings the app the sandbox's
echo of the bot's reply (a second webhook) and a mark-read call to Avito after the reply. ``--account-rate`` sets
each account's own request limit (`rate_limit_per_second`, read by its AccountActor; the product default is
`actors.account.DEFAULT_RATE` with a burst of `DEFAULT_BURST`).

Prints one JSON object: per phase the achieved rate, reply latency (all, new chats, follow-ups), webhook ack
latency, the scenario's own run time (`bot_turns.latency_ms`), routes, missing replies and CPU per process
group (``sandbox_and_driver`` is this process, not the product; ``others`` is load this run did not make); the
highest sustained rate; the goals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from live_stack import CpuMeter, percentiles, revision  # noqa: E402
from live_stack.stack import LiveStack, answered_texts  # noqa: E402

from actors.account import DEFAULT_BURST, DEFAULT_RATE  # noqa: E402
from api.app import LiveOptions  # noqa: E402
from core.heap import freeze_start_up_heap  # noqa: E402

GOAL_P50_MS = 30.0
GOAL_P99_MS = 150.0
SUSTAINED_P99_MS = 1000.0
GRACE_S = 20.0
DRAIN_S = 240.0


def run_phase(stack: LiveStack, rate: float, seconds: float, per_chat: int, texts: list[str], seed: int) -> dict:
    rng = random.Random(seed)
    clock = stack.clock
    users = stack.account_users
    count = int(rate * seconds)
    first_reply = len(clock.replies)
    [last_turn] = asyncio.run(stack.fetch("SELECT coalesce(max(id), 0) AS id FROM bot_turns"))
    chats: dict[int, list[str]] = {user: [] for user in users}
    sent: dict[int, int] = dict.fromkeys(users, 0)
    injected: set[str] = set()
    late: list[float] = []
    # This process is the Avito sandbox and the buyers. Its heap (the stack's clients, the scenario run that picked
    # the texts, the sandbox's growing world) is frozen before the clock starts, as the product's processes freeze
    # theirs (core/heap.py): a full collection here took 180–300 ms, during which no webhook went out and no reply
    # was taken, and the phase measured that pause as the product's latency.
    freeze_start_up_heap()
    meter = CpuMeter(stack.groups_with_driver)
    meter.start()
    begin = time.monotonic() + 0.05
    for n in range(count):
        due = begin + n / rate
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        late.append(time.monotonic() - due)
        user = users[n % len(users)]
        text = rng.choice(texts)
        if sent[user] % per_chat == 0 or not chats[user]:
            chat, message = clock.inject(user, text)
            chats[user].append(chat)
        else:
            chat, message = clock.inject(user, text, rng.choice(chats[user][-50:]))
        sent[user] += 1
        injected.add(message)
    injected_for = time.monotonic() - begin
    cpu = meter.stop()  # the steady state: while messages arrive at the rate
    missing = stack.wait_replies(GRACE_S)
    # Whatever is still owed is waited for (not counted as sustained), so the next phase starts on an empty stack.
    stack.wait_replies(DRAIN_S)
    replies = [r for r in clock.replies[first_reply:] if r[0] in injected]
    acked = clock.acked_at()
    turns = asyncio.run(stack.fetch("SELECT latency_ms, route, handoff FROM bot_turns WHERE id > $1", last_turn["id"]))
    routes: dict[str, int] = {}
    for turn in turns:
        key = f"{turn['route']}{' (handoff)' if turn['handoff'] else ''}"
        routes[key] = routes.get(key, 0) + 1
    latency = percentiles([replied - at for _, _, at, replied in replies])
    by_second: dict[int, list[float]] = {}
    acks_by_second: dict[int, list[float]] = {}
    for message, _, at, replied in replies:
        by_second.setdefault(int(at - begin), []).append(replied - at)
        if message in acked:
            acks_by_second.setdefault(int(at - begin), []).append(acked[message] - at)
    return {
        "rate": rate,
        "messages": count,
        "achieved_per_s": round(count / injected_for, 1),
        "chats_opened": sum(len(c) for c in chats.values()),
        "reply": latency,
        "reply_new_chat": percentiles([replied - at for _, first, at, replied in replies if first]),
        "reply_follow_up": percentiles([replied - at for _, first, at, replied in replies if not first]),
        # Where in the phase the slow replies were: a stall shows as a run of slow seconds, saturation as a climb.
        "reply_max_ms_by_second": [round(1000 * max(by_second.get(n, [0.0]))) for n in range(int(seconds) + 1)],
        "webhook_ack_max_ms_by_second": [
            round(1000 * max(acks_by_second.get(n, [0.0]))) for n in range(int(seconds) + 1)
        ],
        "webhook_ack": percentiles([acked[m] - at for m, _, at, _ in replies if m in acked]),
        "scenario_run": percentiles([t["latency_ms"] / 1000 for t in turns]),
        "routes": routes,
        f"missing_replies_{GRACE_S:g}s_after_last": missing,
        "last_reply_s_after_last_message": round(max((r[3] for r in replies), default=begin) - begin - injected_for, 2),
        "never_replied": len(injected) - len(replies),
        "injector_late_p99_ms": percentiles(late).get("p99_ms"),
        "cpu_cores": cpu,
        "sustained": missing == 0 and latency.get("p99_ms", float("inf")) <= SUSTAINED_P99_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="buyer messages per second in the main phase")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--per-chat", type=int, default=3, help="messages per chat (one opens it)")
    parser.add_argument("--accounts", type=int, default=2, help="sandbox accounts (the sandbox's default is 2)")
    parser.add_argument("--account-rate", type=float, default=None, help="each account's request limit per second")
    parser.add_argument("--hosts", type=int, default=LiveOptions().hosts, help="SessionHost actors (the app's default)")
    parser.add_argument("--steps", default="10,20,30,40,60,80,100,150", help="rates to step up through ('' for none)")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the sandbox's webhook client

    report: dict[str, Any] = {
        "revision": revision(),
        "cpus": os.cpu_count(),
        "accounts": args.accounts,
        "hosts": args.hosts,
        "account_rate_limit": args.account_rate or f"default ({DEFAULT_RATE:g}/s, burst {DEFAULT_BURST})",
    }
    with tempfile.TemporaryDirectory(prefix="avibot-bench-") as tmp:
        stack = LiveStack(Path(tmp), accounts=args.accounts, hosts=args.hosts, account_rate=args.account_rate)
        with stack:
            texts = asyncio.run(answered_texts(stack.services.database_url, stack.settings))
            report["texts"] = len(texts)
            # Warm-up: every account's actor started and its token fetched, caches filled; not reported.
            t0 = time.monotonic()
            for user in stack.account_users:
                stack.clock.inject(user, texts[0])
            if stack.wait_replies(120):
                raise RuntimeError("the warm-up messages were not answered within 120 s")
            warm = run_phase(stack, 10.0, 3.0, args.per_chat, texts, args.seed - 1)
            report["setup"] = {**stack.timings, "warm_up_s": round(time.monotonic() - t0, 1),
                                              "warm_up_never_replied": warm["never_replied"]}  # fmt: skip
            report["main"] = run_phase(stack, args.rate, args.seconds, args.per_chat, texts, args.seed)
            report["steps"] = []
            for n, rate in enumerate(float(r) for r in args.steps.split(",") if r.strip()):
                step = run_phase(stack, rate, args.step_seconds, args.per_chat, texts, args.seed + 1 + n)
                report["steps"].append(step)
                if not step["sustained"]:
                    break
            sustained = [p["rate"] for p in [report["main"], *report["steps"]] if p["sustained"]]
            report["max_sustained_per_s"] = max(sustained) if sustained else None
            report["not_sustained_at_per_s"] = next((p["rate"] for p in report["steps"] if not p["sustained"]), None)
            report["hosts_stats"] = stack.stats()
            report["unmatched_sends"] = stack.clock.unmatched
    main_reply = report["main"]["reply"]
    report["goals"] = {
        f"p50 <= {GOAL_P50_MS:g} ms at {args.rate:g}/s": main_reply.get("p50_ms", float("inf")) <= GOAL_P50_MS,
        f"p99 <= {GOAL_P99_MS:g} ms at {args.rate:g}/s": main_reply.get("p99_ms", float("inf")) <= GOAL_P99_MS,
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
