"""The demo's Avito: when no real account is connected, `avibot up` starts the sandbox in its own process and
connects the sandbox's shops, so `make demo` shows a living inbox with simulated buyers and nothing to set up.

Each start is a fresh sandbox (its chats live in memory); the shops are the same every time (deterministic
accounts), so reconnecting them updates the stored accounts instead of adding new ones.
"""

from __future__ import annotations

import asyncio

from core import db
from core.avito.connect import Connected, connect_account
from core.avito.sandbox import Sandbox, SandboxConfig
from core.settings import Settings
from core.store.accounts import has_real_account


def start_demo_sandbox(settings: Settings, database_url: str) -> tuple[Sandbox, list[Connected]] | None:
    """Starts the sandbox and connects its shops, unless a real account is connected (then None)."""

    async def real_account_connected() -> bool:
        conn = await db.connect(database_url)
        try:
            return await has_real_account(conn)
        finally:
            await conn.close()

    if asyncio.run(real_account_connected()):
        return None
    sandbox = Sandbox(SandboxConfig(), port=settings.sandbox_port).start()
    try:
        connected = asyncio.run(_connect_all(settings, database_url, sandbox))
    except BaseException:
        sandbox.stop()
        raise
    return sandbox, connected


async def _connect_all(settings: Settings, database_url: str, sandbox: Sandbox) -> list[Connected]:
    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    try:
        return [
            await connect_account(
                pool,
                settings,
                client_id=account.client_id,
                client_secret=account.client_secret,
                api_url=sandbox.url,
                is_sandbox=True,
            )
            for account in sandbox.accounts
        ]
    finally:
        await pool.close()
