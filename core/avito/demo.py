"""The demo's Avito: when no account is connected (other than the demo's own), `avibot up` starts the sandbox
alongside (a thread of its own) and connects the sandbox's shops, so `make demo` shows a living inbox with
simulated buyers and nothing to set up. Once another account is connected the demo shops are paused.

The sandbox's world (shops, buyers, chats and messages) is kept in DATA_DIR/demo-sandbox.json across restarts,
as Avito keeps it, so the chats in the database still exist on the sandbox and replies there reach the buyer. The
shops are the same every time, so reconnecting them updates the stored accounts instead of adding new ones. Shops
whose world is new to the database (just connected, or the world file was lost) get their history synced.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from core import db
from core.avito.connect import Connected, connect_account
from core.avito.sandbox import Sandbox, SandboxConfig
from core.settings import Settings
from core.store.accounts import has_external_account, pause_builtin_sandbox_accounts, update_settings

log = logging.getLogger(__name__)

DEMO_HANDOFF_NOTICE = "Вам ответит менеджер, подождите немного."
STATE_FILE = "demo-sandbox.json"  # in DATA_DIR


def start_demo_sandbox(settings: Settings, database_url: str) -> tuple[Sandbox, list[Connected]] | None:
    """Starts the sandbox and connects its shops, unless another account is connected (then None)."""

    async def other_account_connected() -> bool:
        conn = await db.connect(database_url)
        try:
            if await has_external_account(conn):
                await pause_builtin_sandbox_accounts(conn)  # their sandbox is not running: nothing to send to
                return True
            return False
        finally:
            await conn.close()

    if asyncio.run(other_account_connected()):
        return None
    state_file = settings.data_dir / STATE_FILE
    sandbox = Sandbox(SandboxConfig(), port=settings.sandbox_port, state_file=state_file).start()
    try:
        connected = asyncio.run(_connect_all(settings, database_url, sandbox))
    except BaseException:
        sandbox.stop()
        raise
    return sandbox, connected


async def connect_sandbox(
    pool: asyncpg.Pool,
    settings: Settings,
    sandbox: Sandbox,
    *,
    builtin: bool = False,
    subscribe: bool = True,
    count: int | None = None,
) -> list[Connected]:
    """Connects the sandbox's shops (the first ``count`` of them) as accounts; ``builtin``: the demo's own."""
    return [
        await connect_account(
            pool,
            settings,
            client_id=account.client_id,
            client_secret=account.client_secret,
            api_url=sandbox.url,
            is_sandbox=True,
            builtin_sandbox=builtin,
            subscribe=subscribe,
        )
        for account in sandbox.accounts[:count]
    ]


async def _connect_all(settings: Settings, database_url: str, sandbox: Sandbox) -> list[Connected]:
    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    try:
        connected = await connect_sandbox(pool, settings, sandbox, builtin=True)
        for shop in connected:  # the demo shows the messenger's takeover notice; real accounts opt in
            if "handoff_notice" not in shop.account.settings:
                await update_settings(pool, shop.account.id, {"handoff_notice": DEMO_HANDOFF_NOTICE})
        return connected
    finally:
        await pool.close()


async def start_demo_activity(
    settings: Settings, database_url: str, sandbox: Sandbox, connected: list[Connected]
) -> None:
    """Once the app serves: stores the history of the shops whose sandbox world the database has not seen (the
    shop was just connected, or the world was started afresh), then lets simulated buyers write. Buyers wait for
    the sync, so a message of theirs is not stored as history before its webhook comes (it would go unanswered)."""
    from actors.account import AccountSession

    fresh_world = not sandbox.state.restored
    for shop in (shop for shop in connected if shop.created or fresh_world):
        session = AccountSession(settings, database_url, shop.account.id)
        try:
            result = await session.sync_history()
            log.info("demo shop «%s»: %d chats of history stored", shop.account.name, result.chats)
        except Exception as exc:  # the demo goes on without the past; `avibot account sync` retries it
            log.warning("The history of the demo shop «%s» was not synced: %s", shop.account.name, exc)
        finally:
            await session.aclose()
    sandbox.start_simulator(settings.demo_buyers_per_minute)
