"""Full-text search over messages for the messenger: chats with matching messages, newest match first.

What operators expect of a query: every word must be found in the same message (AND); a word matches by its
Russian stem («доставки» finds «доставка»), and a word of three letters or more also as the start of a word
(«велос» finds «велосипед»); case and ё/е do not matter; stop words («и», «в», «на») are ignored, so a query of
only stop words or punctuation finds nothing. The user's text reaches SQL only as parameters: the words are
stemmed by PostgreSQL's 'russian' configuration (the same that fills `messages.search`) and the tsquery is built
from those lexemes, quoted, never parsed from what was typed.

Highlights are offsets, not markup: ts_headline (same parser, same dictionaries as the match) wraps the matched
words of the few returned messages in two private-use characters, and `highlight_offsets` turns them into
(offset, length) pairs in code points over the message's whole text.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import msgspec

from core.db import queries
from core.errors import InvalidInput
from core.store.chat_list import ChatRow, chat_rows

Conn = asyncpg.Connection | asyncpg.Pool

MIN_QUERY = 2  # characters; one letter would match half the messages and tell the operator nothing
MAX_QUERY = 200
MAX_WORDS = 8
PREFIX_FROM = 3  # letters from which a word also matches as the start of a longer word
MATCHES_PER_CHAT = 3
# How a page is found. Few matches (by the planner's estimate): the exact path reads them all through the GIN
# index and groups them by chat. Many: walking the scope's messages newest first finds the newest chats after a
# few thousand rows, where reading every match would take hundreds of milliseconds. The walk is bounded; a query
# whose matches it does not meet in time goes the exact way after all. Both read only the tab asked for: each
# message carries its chat's mode, and the «Оператор» tab has its own two indexes (migration 0012), so its few
# chats are not found among the bot's many.
EXACT_UP_TO = 3000  # estimated matching messages
WALK_STEP = 4000  # messages per round trip of the walk
WALK_BUDGET = 32_000  # messages walked at most
EXACT_MATCH_COST = 2.5  # reading a match the exact way costs about as much as walking this many messages
# The first page's walk goes on past the page to count chats, up to TOTAL_CAP of them or TOTAL_WALK messages;
# beyond, the total is a lower bound («100+», «57+»).
TOTAL_CAP = 100
TOTAL_WALK = 4000
_NEWEST = (datetime.max.replace(tzinfo=UTC), 2**63 - 1)
# ts_headline's delimiters: private-use code points, blanked in the text before marking.
MARK_START, MARK_STOP = "\ue000", "\ue001"

_WORD = re.compile(r"[^\W_]+")


class SearchMatch(msgspec.Struct, frozen=True, kw_only=True):
    message_id: int
    created_at: datetime
    author_kind: str
    text: str  # the message's whole text
    highlights: list[tuple[int, int]]  # (offset, length) in code points over ``text``


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    chat: ChatRow
    match_count: int
    matches: list[SearchMatch]  # newest first, at most MATCHES_PER_CHAT


class SearchPage(msgspec.Struct, frozen=True, kw_only=True):
    total_chats: int  # chats found in all (every page repeats the first page's count)
    total_is_exact: bool  # false: at least total_chats (the count stops at TOTAL_CAP; show «100+»)
    items: list[SearchHit]
    next_cursor: str | None


def query_words(text: str) -> list[str]:
    """The words of a query as they are matched: lower case, ё as е, each once, in the order typed."""
    if len(text.strip()) < MIN_QUERY:
        raise InvalidInput("Введите для поиска хотя бы два символа.")
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"Слишком длинный запрос: сократите его до {MAX_QUERY} символов.")
    words = _WORD.findall(text.lower().replace("ё", "е"))
    return list(dict.fromkeys(words))[:MAX_WORDS]


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def query_terms(words: list[str], stems: list[str]) -> list[str]:
    """The tsquery's terms, ANDed by the caller: per word, its stems or (from PREFIX_FROM letters) the word as a
    prefix. ``stems`` is PostgreSQL's reading of each word ('' for a stop word, which is left out)."""
    terms = []
    for word, stem in zip(words, stems, strict=True):
        if stem:
            terms.append(f"({stem} | {_quoted(word)}:*)" if len(word) >= PREFIX_FROM else f"({stem})")
    return terms


def highlight_offsets(marked: str) -> list[tuple[int, int]]:
    """(offset, length) pairs of the spans ts_headline wrapped in MARK_START/MARK_STOP, over the unmarked text."""
    spans: list[tuple[int, int]] = []
    position, start = 0, None
    for char in marked:
        if char == MARK_START:
            start = position
        elif char == MARK_STOP:
            if start is not None and position > start:
                spans.append((start, position - start))
            start = None
        else:
            position += 1
    return spans


class _Cursor(msgspec.Struct, frozen=True, array_like=True):
    """Where the next page starts (chats whose newest match is older than (at, chat_id)), and the first page's
    total, which later pages repeat rather than count again."""

    at: datetime
    chat_id: int
    total: int
    total_is_exact: bool


def _encode_cursor(cursor: _Cursor) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(cursor)).decode().rstrip("=")


def _decode_cursor(text: str) -> _Cursor:
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), type=_Cursor)
    except (ValueError, TypeError, msgspec.DecodeError, msgspec.ValidationError):
        raise InvalidInput("Неверная ссылка на страницу результатов: повторите поиск.") from None


async def terms_for(conn: Conn, text: str) -> list[str]:
    """The tsquery terms for what the operator typed (raises InvalidInput when too short or too long)."""
    words = query_words(text)
    if not words:
        return []
    return query_terms(words, [r["stems"] for r in await conn.fetch(queries.search_stems, words)])


@dataclass(slots=True)
class _Ranked:
    """Chats in result order (up to limit + 1: the extra one says there is a next page), with their newest match
    and, where the path knows it, their match count."""

    chats: list[tuple[int, datetime]]
    counts: dict[int, int]
    total: int
    total_is_exact: bool


async def search(
    conn: Conn,
    account_ids: list[int],
    text: str,
    *,
    mode: str | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> SearchPage:
    """One page of the chats of ``account_ids`` (never any other) with messages matching ``text``, in chats of
    mode ``mode`` (None: both), newest match first; each with its match count and newest matches (whole texts,
    highlight offsets into them)."""
    after = _decode_cursor(cursor) if cursor else None
    terms = await terms_for(conn, text)
    if not terms or not account_ids:
        return SearchPage(total_chats=0, total_is_exact=True, items=[], next_cursor=None)
    tsquery = " & ".join(terms)
    ranked = None
    if (estimate := await _most_matches(conn, account_ids, terms, mode)) > EXACT_UP_TO:
        ranked = await _walk(conn, account_ids, tsquery, mode, after, limit, estimate)
    if ranked is None:
        ranked = await _exact(conn, account_ids, tsquery, mode, after, limit)
    page = ranked.chats[:limit]
    chat_ids = [chat_id for chat_id, _ in page]
    missing = [chat_id for chat_id in chat_ids if chat_id not in ranked.counts]
    if missing:
        ranked.counts.update((r["chat_id"], r["match_count"])
                             for r in await conn.fetch(queries.search_chat_stats, missing, tsquery))  # fmt: skip
    rows = {row.id: row for row in await chat_rows(conn, chat_ids, account_ids)}
    matches: dict[int, list[SearchMatch]] = {}
    for r in await conn.fetch(queries.search_matches, chat_ids, tsquery, MATCHES_PER_CHAT):
        matches.setdefault(r["chat_id"], []).append(
            SearchMatch(message_id=r["id"], created_at=r["created_at"], author_kind=r["author_kind"], text=r["text"],
                        highlights=highlight_offsets(r["marked"]))
        )  # fmt: skip
    items = [
        SearchHit(chat=rows[chat_id], match_count=ranked.counts.get(chat_id, 0), matches=matches.get(chat_id, []))
        for chat_id in chat_ids
        if chat_id in rows
    ]
    total, exact = (after.total, after.total_is_exact) if after else (ranked.total, ranked.total_is_exact)
    next_cursor = None
    if len(ranked.chats) > limit:
        last_id, last_at = page[-1]
        next_cursor = _encode_cursor(_Cursor(last_at, last_id, total, exact))
    return SearchPage(total_chats=total, total_is_exact=exact, items=items, next_cursor=next_cursor)


async def _most_matches(conn: Conn, account_ids: list[int], terms: list[str], mode: str | None) -> float:
    """About how many messages of the tab match at most: the planner's estimate for the rarest word. (Its estimate
    for all the words at once assumes they are independent, and words that go together — «горный велосипед» — are
    not.)"""
    estimates = []
    for term in terms:
        plan = msgspec.json.decode(await conn.fetchval(queries.search_estimate, account_ids, term, mode))
        estimates.append(float(plan[0]["Plan"]["Plan Rows"]))
    return min(estimates)


async def _exact(
    conn: Conn, account_ids: list[int], tsquery: str, mode: str | None, after: _Cursor | None, limit: int
) -> _Ranked:
    after_at, after_id = (after.at, after.chat_id) if after else (None, None)
    if mode == "operator":  # the tab's own index (see search.sql)
        found = await conn.fetch(queries.search_chats_operator, account_ids, tsquery, after_at, after_id, limit + 1)
    else:
        found = await conn.fetch(queries.search_chats, account_ids, tsquery, mode, after_at, after_id, limit + 1)
    return _Ranked(
        chats=[(r["chat_id"], r["last_match_at"]) for r in found],
        counts={r["chat_id"]: r["match_count"] for r in found},
        total=found[0]["total"] if found else 0,
        total_is_exact=True,
    )


async def _walk(
    conn: Conn,
    account_ids: list[int],
    tsquery: str,
    mode: str | None,
    after: _Cursor | None,
    limit: int,
    estimate: float,
) -> _Ranked | None:
    """The newest-first path; None as soon as, at its pace, the page would take more than the budget or longer
    than reading the ``estimate`` matches the exact way (which the caller then does)."""
    newest: dict[int, datetime] = {}  # chat → its newest match met on the walk
    shown: set[int] = set()  # chats met below the cursor whose newest match is above it: on an earlier page
    counts: dict[int, int] = {}
    edge = (after.at, _NEWEST[1]) if after else _NEWEST
    walked = 0
    while True:
        if mode == "operator":  # the tab's own index (see search.sql)
            rows = await conn.fetch(queries.search_walk_operator, account_ids, tsquery, *edge, WALK_STEP)
        else:
            rows = await conn.fetch(queries.search_walk, account_ids, tsquery, *edge, WALK_STEP, mode)
        met = [r["chat_id"] for r in rows if r["matched"] and r["chat_id"] not in newest]
        for r in rows:
            if r["matched"]:
                newest.setdefault(r["chat_id"], r["created_at"])
        step = rows[-1]["walked"] if rows else 0
        walked += step
        done = step < WALK_STEP  # the scope's oldest message reached
        if rows:
            edge = (rows[-1]["created_at"], rows[-1]["id"])
        if after and met:
            # Below the cursor, a chat may still have a newer match above it: then it was on an earlier page.
            for r in await conn.fetch(queries.search_chat_stats, list(dict.fromkeys(met)), tsquery):
                counts[r["chat_id"]] = r["match_count"]
                if (r["last_match_at"], r["chat_id"]) >= (after.at, after.chat_id):
                    shown.add(r["chat_id"])
        # A chat whose newest match is at the edge's time may tie with one not walked yet: older ones are settled.
        settled = [(c, at) for c, at in newest.items() if c not in shown and (done or at > edge[0])]
        if done or len(settled) > TOTAL_CAP or (len(settled) > limit and (after or walked >= TOTAL_WALK)):
            break
        if len(settled) <= limit:
            needed = walked * (limit + 1) / max(len(settled), 0.5)  # messages to walk for a page, at this pace
            if needed > WALK_BUDGET or needed - walked > estimate * EXACT_MATCH_COST:
                return None
    settled.sort(key=lambda pair: (pair[1], pair[0]), reverse=True)
    total, exact = (len(settled), True) if done else (min(len(settled), TOTAL_CAP), False)
    return _Ranked(chats=settled[: limit + 1], counts=counts, total=total, total_is_exact=exact)
