"""Memory of 10,000 active chat sessions: 10,000 distinct chats driven through the live path (one buyer message
each, answered by the bot), the sessions confirmed active in the SessionHost actors (`SessionHostActor.stats`),
then the memory of every process the product runs — the app process, Ray's processes (GCS, raylet, agents, idle
workers) and its actors (the SessionHosts, one AccountActor per account), PostgreSQL (postmaster, backends,
helpers) and Valkey — measured with psutil, in total and per group. The stack is benchmarks/live_stack/stack.py
(the app and its local Ray in a process of their own; the Avito sandbox, which stands in for Avito and is not
counted, in this one).

    python benchmarks/sessions.py [--chats 10000] [--accounts 2] [--hosts 2] [--account-rate 1000] [--window 200]

Messages are injected as fast as the stack answers them, at most ``--window`` unanswered at a time. Each
account's request limit is raised with ``--account-rate`` (its `rate_limit_per_second` setting) only so that
10,000 chats — a `get_chat` and a send each — are driven as fast as the stack answers, not at the default per
account; memory does not depend on it.

Prints one JSON object: how the chats were driven, the hosts' stats, RSS / PSS / USS per process group before
the chats (after start-up and a warm-up) and after, the growth per session, and the goal. RSS counts shared pages
once per process that maps them (PostgreSQL's shared buffers in every backend that touched them); PSS divides
them among their sharers, so its sum is what the machine really holds for these processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psutil  # noqa: E402
from live_stack import memory, revision  # noqa: E402
from live_stack.stack import LiveStack, answered_texts  # noqa: E402

from api.app import LiveOptions  # noqa: E402

GOAL_GIB = 1.5
MIB = 1024 * 1024


def totals(groups: dict[str, dict[str, Any]]) -> dict[str, float]:
    return {key: round(sum(g[key] for g in groups.values()), 1) for key in ("rss_mib", "pss_mib", "uss_mib")}


def snapshot(stack: LiveStack) -> dict[str, Any]:
    groups = memory(stack.groups())
    return {"total": totals(groups), "groups": groups}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=2, help="sandbox accounts (the sandbox's default is 2)")
    parser.add_argument("--hosts", type=int, default=LiveOptions().hosts, help="SessionHost actors (the app's default)")
    parser.add_argument("--account-rate", type=float, default=1000.0, help="each account's request limit per s")
    parser.add_argument("--window", type=int, default=200, help="unanswered messages at most")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the sandbox's webhook client

    report: dict[str, Any] = {
        "revision": revision(),
        "cpus": os.cpu_count(),
        "chats": args.chats,
        "accounts": args.accounts,
        "hosts": args.hosts,
        "account_rate_limit": args.account_rate,
    }
    with tempfile.TemporaryDirectory(prefix="avibot-bench-") as tmp:
        stack = LiveStack(Path(tmp), accounts=args.accounts, hosts=args.hosts, account_rate=args.account_rate)
        with stack:
            texts = asyncio.run(answered_texts(stack.services.database_url, stack.settings))
            clock = stack.clock
            users = stack.account_users
            for user in users:  # every account's actor started before the baseline
                clock.inject(user, texts[0])
            if stack.wait_replies(120):
                raise RuntimeError("the warm-up messages were not answered within 120 s")
            warm_chats = len(users)
            time.sleep(2)
            report["setup"] = stack.timings
            report["before"] = snapshot(stack)

            began = time.monotonic()
            peak_waiting = 0
            for n in range(args.chats):
                while (waiting := clock.waiting()) >= args.window:
                    time.sleep(0.002)
                peak_waiting = max(peak_waiting, waiting)
                clock.inject(users[n % len(users)], texts[n % len(texts)])
            missing = stack.wait_replies(300)
            elapsed = time.monotonic() - began
            report["drive"] = {
                "seconds": round(elapsed, 1),
                "chats_per_s": round(args.chats / elapsed, 1),
                "missing_replies": missing,
                "peak_unanswered": peak_waiting,
                "unmatched_sends": clock.unmatched,
                "webhooks": clock.delivery_failures(),
            }
            [row] = asyncio.run(stack.fetch(
                "SELECT (SELECT count(*) FROM chats) AS chats, (SELECT count(*) FROM bot_turns) AS turns, "
                "(SELECT count(*) FROM inbox WHERE processed_at IS NULL AND kind = 'message') AS unprocessed"
            ))  # fmt: skip
            report["database"] = dict(row)
            stats = stack.stats()
            active = sum(h["active"] for h in stats["hosts"])
            report["hosts_stats"] = stats
            report["active_sessions"] = active
            report["all_active"] = active == args.chats + warm_chats
            time.sleep(2)
            report["after"] = snapshot(stack)
            report["sandbox_and_driver_not_counted_rss_mib"] = round(psutil.Process().memory_info().rss / MIB, 1)

    before, after = report["before"], report["after"]
    growth = {}
    for name, group in after["groups"].items():
        was = before["groups"].get(name, {"rss_mib": 0.0, "uss_mib": 0.0})
        growth[name] = {"rss_mib": round(group["rss_mib"] - was["rss_mib"], 1),
                        "uss_mib": round(group["uss_mib"] - was["uss_mib"], 1)}  # fmt: skip
    report["growth"] = growth
    hosts_growth = growth.get("session_hosts", {}).get("uss_mib", 0.0)
    report["session_hosts_kib_per_session"] = round(hosts_growth * 1024 / max(1, args.chats), 1)
    total_rss_gib = after["total"]["rss_mib"] / 1024
    total_pss_gib = after["total"]["pss_mib"] / 1024
    report["total_rss_gib"] = round(total_rss_gib, 3)
    report["total_pss_gib"] = round(total_pss_gib, 3)
    report["goals"] = {
        f"{args.chats} active sessions": report["all_active"],
        f"RSS of all processes <= {GOAL_GIB:g} GiB": total_rss_gib <= GOAL_GIB,
        f"PSS of all processes <= {GOAL_GIB:g} GiB": total_pss_gib <= GOAL_GIB,
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
