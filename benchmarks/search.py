"""Message search at scale: `core.store.search.search` (the call behind `GET /api/v1/search`) over 1,000,000
generated Russian messages, beside a naive `ILIKE '%q%'` scan as the reference.

    python benchmarks/search.py [--messages 1000000] [--chats 20000] [--accounts 5] [--rounds 3]
                                [--database-url URL]

The data: ~20,000 u2i chats of a few shops, each a buyer's questions (the offline intent examples, with cities,
order numbers and the odd rare word), the bot's answers (sentences of the demo knowledge base, prices, titles) and,
in the chats handed over, operators' replies signed with their names — written in time order, bulk-loaded with
COPY into the migrated schema (the search indexes are rebuilt after the load, as `pg_restore` would), then
VACUUM ANALYZE. Then a fixed set of queries — common and rare words, prefixes, two words, names, nothing found,
in both tabs — runs through the store function with the account scope of an operator granted two of the shops
(and of an admin who sees them all), ``--rounds`` times each after a warm-up round. The ILIKE reference groups the
same way (chats by their newest match) but scans text for the query as typed.

Prints one JSON object: load times, row counts, p50/p95/p99 per scope and per query kind, the slowest queries, the
reference's numbers, and the goal (p95 ≤ 50 ms). With ``--database-url`` it runs against that database instead
of a fresh embedded server, loading the data only when the messages table is empty.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import asyncpg  # noqa: E402
from live_stack import revision  # noqa: E402

from core import db  # noqa: E402
from core.avito.sandbox.content import FIRST_NAMES, KB_PATH, SELLER_REPLIES, buyer_texts, demo_products  # noqa: E402
from core.embedded import EmbeddedPostgres  # noqa: E402
from core.migrate import migrate  # noqa: E402
from core.store import search as store  # noqa: E402

GOAL_P95_MS = 50.0
START = datetime(2025, 6, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
CITIES = ["Казань", "Самару", "Уфу", "Набережные Челны", "Москву", "Екатеринбург", "Нижний Новгород", "Пермь"]
# Words an operator may look for once in a while: each in a few hundred messages at most.
RARE = [
    "трещина", "гравийник", "карбоновый", "эксцентрик", "покрышка", "грипсы", "дропаут", "кассета", "втулка",
    "спицы", "обод", "переключатель", "манетка", "каретка", "подседельный", "рассрочку", "самокат", "самовывозом",
    "Шимано", "Deore", "Altus", "Tourney", "гидравлические", "амортизационная", "восьмёрка",
]  # fmt: skip
OPERATOR_NAMES = ["Анна", "Гульнара", "Ильдар", "Светлана", "Рустам", "Дарья"]
OPERATOR_LINES = [
    "Здравствуйте, меня зовут {name}, я менеджер магазина. Чем помочь?",
    "{name} на связи. Проверила по складу: {title} есть, можем отложить до {day}.",
    "Отправим в {city} транспортной компанией, срок 3–5 дней. {name}",
    "Понимаю ваше недовольство, оформим возврат. Номер заявки {order}. {name}",
    "Можно оплатить картой при получении или переводом. {name}, менеджер.",
    "Созвонимся? Оставьте номер, {name} перезвонит в течение часа.",
]
DAYS = ["понедельника", "вторника", "среды", "четверга", "пятницы", "субботы", "воскресенья"]

# The fixed query set: (kind, query). Kinds are reported separately.
QUERIES: list[tuple[str, str]] = [
    *[("common", q) for q in ["доставка", "велосипед", "здравствуйте", "цена", "оплата", "картой", "наличии",
                              "гарантия", "размер", "Казань", "спасибо", "актуально", "возврат", "курьер",
                              "скидка"]],
    *[("rare", q) for q in ["трещина", "гравийник", "карбоновый", "эксцентрик", "грипсы", "дропаут", "манетка",
                            "рассрочку", "Шимано", "Deore", "Tourney", "восьмерка"]],
    *[("prefix", q) for q in ["велос", "достав", "самов", "гаран", "карбон", "аморт", "перекл", "Kryp", "электро",
                              "подрост"]],
    *[("two_words", q) for q in ["доставка Казань", "оплата картой", "горный велосипед", "детский велосипед",
                                 "вернуть деньги", "Stels Navigator", "гидравлические тормоза", "отложите завтра",
                                 "Merida Scultura"]],
    *[("name", q) for q in ["Гульнара", "Ильдар", "Рустам"]],
    *[("none", q) for q in ["экскаватор", "бульдозер синий"]],
]  # fmt: skip


# --- data ---------------------------------------------------------------------------------------------------------


class Texts:
    """Message texts: a buyer's, the bot's, an operator's."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.buyer = [t for texts in buyer_texts().values() for t in texts]
        kb = json.loads(KB_PATH.read_text(encoding="utf-8"))
        sentences = [s.strip() for a in kb["articles"] for s in re.split(r"(?<=[.!?])\s+", a["text"]) if len(s) > 20]
        self.bot = sentences + SELLER_REPLIES
        self.products = demo_products()

    def client(self) -> str:
        rng = self.rng
        text = rng.choice(self.buyer)
        roll = rng.random()
        if roll < 0.08:
            text = f"{text} В {rng.choice(CITIES)} отправите?"
        elif roll < 0.14:
            text = f"{rng.choice(self.products).title.split(' (')[0]} — {text}"
        elif roll < 0.17:
            text = f"{text} Заказ {rng.randrange(10000, 99999)}"
        if rng.random() < 0.006:
            text = f"{text} {rng.choice(['У меня', 'Смотрю', 'Нужна', 'Вопрос про'])} {rng.choice(RARE).lower()}"
        return text

    def bot_reply(self) -> str:
        rng = self.rng
        if rng.random() < 0.25:
            product = rng.choice(self.products)
            return f"{product.title}: {product.price:,} ₽. {rng.choice(self.bot)}".replace(",", " ")
        return rng.choice(self.bot)

    def operator(self, name: str) -> str:
        rng = self.rng
        return rng.choice(OPERATOR_LINES).format(
            name=name, title=rng.choice(self.products).title, day=rng.choice(DAYS), city=rng.choice(CITIES),
            order=rng.randrange(100000, 999999),
        )  # fmt: skip


class Dataset:
    """Chats spread over accounts and a year; each chat a burst of messages alternating buyer and bot, and in chats
    handed over, operator replies from the handoff on."""

    def __init__(self, messages: int, chats: int, accounts: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.accounts = accounts
        self.chats: list[dict[str, Any]] = []
        mean = messages / chats
        sizes = [max(2, round(self.rng.expovariate(1 / mean))) for _ in range(chats)]
        scale = messages / sum(sizes)
        sizes = [max(2, round(s * scale)) for s in sizes]
        sizes[-1] += messages - sum(sizes)  # exactly ``messages`` in all
        while sizes[-1] < 2:  # the rounding took too much from the last chat: even it out
            donor = max(range(chats), key=sizes.__getitem__)
            sizes[donor] -= 2 - sizes[-1]
            sizes[-1] = 2
        for n, size in enumerate(sizes):
            operator = self.rng.random() < 0.15
            self.chats.append({
                "n": n, "account": n % accounts, "size": size, "start": START + SPAN * self.rng.random(),
                "mode": "operator" if operator else "bot", "handoff": self.rng.randrange(1, size + 1) if operator
                else size + 1, "operator": self.rng.randrange(len(OPERATOR_NAMES)),
            })  # fmt: skip

    def timeline(self) -> list[tuple[datetime, int, int]]:
        """(created_at, chat, position) of every message, oldest first."""
        rng = self.rng
        out = []
        for chat in self.chats:
            at = chat["start"]
            for seq in range(chat["size"]):
                # A buyer answers in minutes, the bot in seconds; a chat may go quiet for days.
                at += timedelta(seconds=rng.expovariate(1 / (600 if seq % 2 == 0 else 8)))
                if rng.random() < 0.03:
                    at += timedelta(days=rng.random() * 10)
                out.append((at, chat["n"], seq))
        out.sort()
        return out


def message_rows(
    dataset: Dataset, texts: Texts, account_ids: list[int], chat_ids: list[int], last: dict[int, tuple]
) -> Iterator[tuple]:
    for at, n, seq in dataset.timeline():
        chat = dataset.chats[n]
        if seq % 2 == 0:
            direction, author, text = "in", "client", texts.client()
        elif seq >= chat["handoff"]:
            direction, author, text = "out", "operator", texts.operator(OPERATOR_NAMES[chat["operator"]])
        else:
            direction, author, text = "out", "bot", texts.bot_reply()
        account = account_ids[chat["account"]]
        last[n] = (at, text, author)
        yield (account, chat_ids[n], f"bench-{n}-{seq}", direction, author, "text", text, at)


async def load(conn: asyncpg.Connection, args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    t0 = time.perf_counter()
    rng = random.Random(args.seed)
    dataset = Dataset(args.messages, args.chats, args.accounts, args.seed)
    texts = Texts(rng)
    account_ids = [
        await conn.fetchval(
            "INSERT INTO accounts (avito_user_id, name, credentials, webhook_secret) VALUES ($1, $2, $3, $4) "
            "RETURNING id",
            700_000_001 + a, f"Магазин {a + 1}", b"bench", f"bench-webhook-secret-{a:04d}-" + "s" * 32,
        )
        for a in range(args.accounts)
    ]  # fmt: skip
    user_ids = [
        await conn.fetchval(
            "INSERT INTO users (login, password_hash, role, display_name) VALUES ($1, 'x', 'operator', $2) "
            "RETURNING id",
            f"bench-op-{i}", name,
        )
        for i, name in enumerate(OPERATOR_NAMES)
    ]  # fmt: skip
    await conn.copy_records_to_table(
        "buyers", columns=["avito_user_id", "name"],
        records=[(900_000_001 + c["n"], f"{rng.choice(FIRST_NAMES)} {rng.choice('АБВГДЕЗИКЛМНОПРСТ')}.")
                 for c in dataset.chats],
    )  # fmt: skip
    buyers = dict(await conn.fetch("SELECT avito_user_id, id FROM buyers WHERE avito_user_id > 900000000"))
    await conn.copy_records_to_table(
        "chats", columns=["account_id", "avito_chat_id", "chat_type", "buyer_id", "mode", "operator_id", "created_at"],
        records=[(account_ids[c["account"]], f"u2i-bench-{c['n']}", "u2i", buyers[900_000_001 + c["n"]], c["mode"],
                  user_ids[c["operator"]] if c["mode"] == "operator" else None, c["start"]) for c in dataset.chats],
    )  # fmt: skip
    chat_ids = [
        r["id"] for r in await conn.fetch("SELECT id FROM chats WHERE avito_chat_id LIKE 'u2i-bench-%' ORDER BY id")
    ]
    report["setup_s"] = round(time.perf_counter() - t0, 1)

    # The search indexes are built once after the load instead of updated row by row.
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages' AND indexdef LIKE '%USING gin%'"
    )
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    t0 = time.perf_counter()
    last: dict[int, tuple] = {}
    rows = message_rows(dataset, texts, account_ids, chat_ids, last)
    columns = ["account_id", "chat_id", "avito_message_id", "direction", "author_kind", "type", "text", "created_at"]
    while batch := [row for _, row in zip(range(50_000), rows, strict=False)]:
        await conn.copy_records_to_table("messages", columns=columns, records=batch)
    report["copy_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    await conn.execute("SET maintenance_work_mem = '512MB'")
    for index in indexes:
        await conn.execute(index["indexdef"])
    report["index_s"] = round(time.perf_counter() - t0, 1)
    await conn.executemany(
        "UPDATE chats SET last_message_at = $2, last_message_text = $3, last_message_author = $4 WHERE id = $1",
        [(chat_ids[n], at, text, author) for n, (at, text, author) in last.items()],
    )
    t0 = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    report["vacuum_analyze_s"] = round(time.perf_counter() - t0, 1)
    return report


# --- measuring ------------------------------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> dict[str, float | int]:
    """p50/p95/p99/max in milliseconds (nearest rank)."""
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] * 1000

    return {"n": len(ordered), "p50_ms": round(rank(50), 2), "p95_ms": round(rank(95), 2),
            "p99_ms": round(rank(99), 2), "max_ms": round(ordered[-1] * 1000, 2)}  # fmt: skip


ILIKE = """
SELECT m.chat_id, max(m.created_at) AS last_at, count(*) AS match_count
FROM messages m JOIN chats c ON c.id = m.chat_id
WHERE m.account_id = ANY($1::bigint[]) AND ($2::text IS NULL OR c.mode = $2) AND m.text ILIKE $3
GROUP BY m.chat_id ORDER BY last_at DESC LIMIT 20
"""


def like_pattern(query: str) -> str:
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def measure(pool: asyncpg.Pool, scopes: dict[str, list[int]], rounds: int) -> dict[str, Any]:
    report: dict[str, Any] = {}
    cases = [(kind, q, mode) for kind, q in QUERIES for mode in (None, "bot", "operator")]
    for scope_name, accounts in scopes.items():
        for _kind, q, mode in cases:  # warm-up: the first touch of each index page is not what operators see
            await store.search(pool, accounts, q, mode=mode)
        by_kind: dict[str, list[float]] = {}
        every: list[float] = []
        slowest: list[tuple[float, str, str | None, int]] = []
        for _ in range(rounds):
            for kind, q, mode in cases:
                t0 = time.perf_counter()
                page = await store.search(pool, accounts, q, mode=mode)
                took = time.perf_counter() - t0
                by_kind.setdefault(kind, []).append(took)
                every.append(took)
                slowest.append((took, q, mode, page.total_chats))
        slowest.sort(reverse=True)
        report[scope_name] = {
            "accounts": len(accounts),
            "all": percentiles(every),
            "by_kind": {kind: percentiles(samples) for kind, samples in by_kind.items()},
            "slowest": [{"q": q, "mode": mode, "ms": round(t * 1000, 1), "total_chats": total}
                        for t, q, mode, total in slowest[:5]],
        }  # fmt: skip
    # The reference: one round over the queries, operator scope, both tabs (each a full scan; more rounds and the
    # tab filters add nothing but time).
    accounts = scopes["operator"]
    samples = []
    for _, q in QUERIES:
        mode = None
        t0 = time.perf_counter()
        await pool.fetch(ILIKE, accounts, mode, like_pattern(q))
        samples.append(time.perf_counter() - t0)
    report["ilike_reference_operator"] = percentiles(samples)
    return report


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    conn = await db.connect(url)
    report: dict[str, Any] = {"revision": revision(), "queries": len(QUERIES), "cases_per_round": len(QUERIES) * 3}
    try:
        await migrate(conn)
        if await conn.fetchval("SELECT count(*) = 0 FROM messages"):
            report["load"] = await load(conn, args)
        report["messages"] = await conn.fetchval("SELECT count(*) FROM messages")
        report["chats"] = await conn.fetchval("SELECT count(*) FROM chats")
        account_ids = [r["id"] for r in await conn.fetch("SELECT id FROM accounts ORDER BY id")]
    finally:
        await conn.close()
    pool = await db.create_pool(url, max_size=2)
    try:
        scopes = {"operator": account_ids[:2], "admin": account_ids}
        report.update(await measure(pool, scopes, args.rounds))
    finally:
        await pool.close()
    p95 = report["operator"]["all"]["p95_ms"]
    report["goal"] = {
        "p95_ms": GOAL_P95_MS,
        "met": p95 <= GOAL_P95_MS and report["admin"]["all"]["p95_ms"] <= GOAL_P95_MS,
    }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--chats", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="measured passes over the query set")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database-url", help="an existing database (loaded once) instead of a fresh server")
    args = parser.parse_args()
    if args.database_url:
        report = asyncio.run(run(args.database_url, args))
    else:
        with tempfile.TemporaryDirectory(prefix="avibot-bench-") as tmp:
            server = EmbeddedPostgres(Path(tmp))
            try:
                report = asyncio.run(run(server.start(), args))
            finally:
                server.stop()
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
