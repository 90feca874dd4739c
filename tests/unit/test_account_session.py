"""The pieces of the account actor that need no Avito: splitting long replies, the rate limiter."""

import asyncio
import time

import pytest

from actors.account import MAX_TEXT, RateLimiter, split_reply


def test_a_short_reply_is_one_part() -> None:
    assert split_reply("  Да, доставляем.  ") == ["Да, доставляем."]
    assert split_reply("   ") == []


def test_a_long_reply_is_split_at_sentence_ends_within_the_limit() -> None:
    sentence = "Доставка по Казани стоит 400 рублей и занимает один день. "
    text = sentence * 40  # ~2,400 characters
    parts = split_reply(text)
    assert len(parts) == 3 and all(0 < len(p) <= MAX_TEXT for p in parts)
    assert all(p.endswith(".") for p in parts)  # no sentence cut in half
    assert " ".join(parts) == text.strip()  # nothing lost or reordered


def test_paragraphs_are_preferred_and_a_huge_word_is_cut_hard() -> None:
    text = "А" * 700 + "\n\n" + "Б" * 700
    assert split_reply(text) == ["А" * 700, "Б" * 700]
    assert [len(p) for p in split_reply("x" * 2500)] == [1000, 1000, 500]


@pytest.mark.parametrize("limit", [10, 50])
def test_no_part_ever_exceeds_the_limit(limit: int) -> None:
    text = "слово " * 200 + "оченьдлинноеслововообщебезпробелов" * 5
    parts = split_reply(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


async def test_the_rate_limiter_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=50, burst=5)
    started = time.perf_counter()
    await asyncio.gather(*(limiter.acquire() for _ in range(15)))
    elapsed = time.perf_counter() - started
    # 5 at once, then 10 more at 50/s: ~0.2 s, never faster.
    assert elapsed >= 0.18  # the limiter made the last ten wait (a lower bound: load can only slow it)


async def test_a_spare_call_never_takes_a_token_a_reply_waits_for() -> None:
    limiter = RateLimiter(rate=50, burst=4, reserve=2)
    order: list[str] = []

    async def reply(n: int) -> None:
        await limiter.acquire()
        order.append(f"reply{n}")

    async def spare() -> None:
        await limiter.acquire_spare()
        order.append("spare")

    await spare()  # 4 tokens, above the reserve of 2: taken at once
    assert order == ["spare"]
    # 3 left: the replies take them and wait for more; the spare call goes only once they are served and the
    # bucket has refilled above the reserve again.
    await asyncio.gather(*(reply(n) for n in range(5)), spare())
    assert order[-1] == "spare" and sorted(order[1:-1]) == [f"reply{n}" for n in range(5)]
