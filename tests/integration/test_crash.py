"""`kill -9` of `avibot up` while buyers keep writing: after a restart every message is stored once and answered
exactly once — checked on the sandbox's side, which survives the crash (it runs as its own process)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.embedded import free_port
from tests.integration.test_cli import AVIBOT, ROOT, Up, env_for, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = ["Сколько стоит доставка по Казани?", "Можно оплатить картой?", "Здравствуйте", "Есть самовывоз?"]


class ExternalSandbox:
    def __init__(self, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                [*AVIBOT, "sandbox", "--port", str(port), "--accounts", "2", "--seed", "4"],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/sandbox/accounts", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.2)
        # Avito's redelivery policy is unknown; this sandbox keeps retrying for about a minute, longer than the
        # restart takes (a longer outage is what the polling fallback is for).
        answer = httpx.patch(f"{self.url}/sandbox/config", json={"webhook_retries": 9, "webhook_retry_backoff": 0.25})
        answer.raise_for_status()

    def accounts(self) -> list[dict]:
        return httpx.get(f"{self.url}/sandbox/accounts").json()

    def connect(self, env: dict[str, str]) -> list[dict]:
        """Connects every shop with `avibot account add` (as an admin would) into ``env``'s DATA_DIR; the shops."""
        shops = self.accounts()
        for shop in shops:
            added = run(["account", "add", "--client-id", shop["client_id"], "--client-secret", shop["client_secret"],
                         "--api-url", self.url], env)  # fmt: skip
            assert added.returncode == 0, added.stderr
        return shops

    def inject(self, user_id: int, text: str, chat_id: str | None = None) -> dict:
        body: dict = {"user_id": user_id, "text": text}
        if chat_id:
            body["chat_id"] = chat_id
        answer = httpx.post(f"{self.url}/sandbox/inject", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def history(self, chat_id: str) -> list[dict]:
        return httpx.get(f"{self.url}/sandbox/chats/{chat_id}/messages", timeout=10).json()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[ExternalSandbox]:
    server = ExternalSandbox(free_port(), tmp_path / "sandbox.log")
    yield server
    server.stop()


def test_kill_minus_9_mid_stream_loses_nothing_and_answers_once(tmp_path: Path, sandbox: ExternalSandbox) -> None:
    data_dir, port = tmp_path / "data", free_port()
    env = env_for(data_dir, PORT=str(port))
    shops = sandbox.connect(env)

    up = Up(data_dir, port)
    injected: list[dict] = []
    chats: list[tuple[int, str]] = []
    try:
        up.wait_healthy(180)
        assert "sandbox runs at" not in up.wait_output("avibot is running at")  # our accounts, not the demo's

        # 8 chats, then a stream of follow-ups; the server is killed in the middle of it.
        for n in range(8):
            user_id = shops[n % 2]["user_id"]
            first = sandbox.inject(user_id, QUESTIONS[n % len(QUESTIONS)])
            injected.append(first)
            chats.append((user_id, first["chat_id"]))

        def stream() -> None:
            for n in range(40):
                user_id, chat_id = chats[n % len(chats)]
                injected.append(sandbox.inject(user_id, QUESTIONS[(n + 1) % len(QUESTIONS)], chat_id))
                time.sleep(0.05)

        writer = threading.Thread(target=stream)
        writer.start()
        time.sleep(0.8)
        up.proc.send_signal(signal.SIGKILL)
        up.proc.wait(10)
        writer.join(30)
    finally:
        if up.proc.poll() is None:
            up.proc.send_signal(signal.SIGKILL)
            up.proc.wait(10)

    again = Up(data_dir, port)
    try:
        again.wait_healthy(180)
        # Wait until every chat is settled on the sandbox's side: as many of our messages as we sent.
        deadline = time.monotonic() + 120
        while True:
            counts = _state(again.env, [m["message_id"] for m in injected])
            if (counts["pending"] == 0 and counts["injected"] == len(injected)) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert counts["injected"] == len(injected), counts  # every buyer message stored…
        assert counts["duplicates"] == 0, counts  # …once
        assert counts["pending"] == 0 and counts["outbound_pending"] == 0, counts  # …and processed
        assert counts["turns"] == counts["answered_rows"], counts  # one turn per answered row, never two

        # On Avito's side: each of our sends exactly once, and nothing we did not record as sent.
        sent_by_chat = counts["sent_by_chat"]
        for user_id, chat_id in chats:
            ours = [m for m in sandbox.history(chat_id) if m["author_id"] == user_id]
            assert len(ours) == sent_by_chat.get(chat_id, 0), (chat_id, ours, sent_by_chat.get(chat_id))
            assert len({m["id"] for m in ours}) == len(ours)
        assert sum(sent_by_chat.values()) >= len(chats)  # the bot did answer
    finally:
        again.proc.send_signal(signal.SIGINT)
        again.proc.wait(60)


def _state(env: dict[str, str], injected: list[str]) -> dict:
    """What the database holds, read with a small script through the running instance's servers."""
    script = """
import asyncio, json, sys
from core.services import open_services
from core.settings import get_settings
import asyncpg

async def main(url):
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow('''
            SELECT (SELECT count(*) FROM messages WHERE avito_message_id = ANY($1::text[])) AS injected,
                   (SELECT count(*) - count(DISTINCT avito_message_id) FROM messages) AS duplicates,
                   (SELECT count(*) FROM inbox WHERE processed_at IS NULL) AS pending,
                   (SELECT count(*) FROM outbound WHERE status = 'pending') AS outbound_pending,
                   (SELECT count(*) FROM bot_turns) AS turns,
                   (SELECT count(*) FROM inbox i WHERE EXISTS (SELECT 1 FROM bot_turns t WHERE t.inbox_id = i.id))
                       AS answered_rows''', json.loads(sys.stdin.read()))
        sent = await conn.fetch('''
            SELECT c.avito_chat_id, count(*) AS n FROM outbound o JOIN chats c ON c.id = o.chat_id
            WHERE o.status = 'sent' GROUP BY c.avito_chat_id''')
        print(json.dumps({**dict(row), "sent_by_chat": {r["avito_chat_id"]: r["n"] for r in sent}}))
    finally:
        await conn.close()

with open_services(get_settings(), "command") as services:
    asyncio.run(main(services.database_url))
"""
    result = subprocess.run([AVIBOT[0], "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
                            input=json.dumps(injected))  # fmt: skip
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.strip().splitlines()[-1])
    state["sent_by_chat"] = Counter(state["sent_by_chat"])
    return state
