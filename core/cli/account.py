"""`avibot account …`: connect, list, sync and disconnect Avito accounts."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from core.cli import fail, with_database
from core.cli.progress import Progress
from core.services import Services
from core.settings import Settings

if TYPE_CHECKING:
    from actors.account import SyncResult


@click.group()
def account() -> None:
    """The Avito accounts whose chats avibot answers."""


@account.command("add")
@click.option("--client-id", required=True, help="The account's client_id (Avito → Настройки → API).")
@click.option(
    "--client-secret",
    prompt=True,
    hide_input=True,
    help="The account's client_secret; asked for (not echoed) when not given.",
)
@click.option(
    "--api-url", default="https://api.avito.ru", show_default=True, help="Avito's API; the sandbox's URL in tests."
)
@click.option("--no-subscribe", is_flag=True, help="Do not subscribe the webhook (e.g. PUBLIC_URL is not set yet).")
@click.option(
    "--sync/--no-sync",
    default=True,
    show_default=True,
    help="Store the account's chat history after connecting (as `avibot account sync`).",
)
def add(client_id: str, client_secret: str, api_url: str, no_subscribe: bool, sync: bool) -> None:
    """Connect an account: checks the credentials, stores them encrypted, subscribes the webhook at
    PUBLIC_URL/webhooks/avito/<secret>, then stores its chat history. Running it again for the same account
    replaces its credentials."""

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.avito.client import AvitoError
        from core.avito.connect import connect_account

        pool = await db.create_pool(services.database_url, min_size=1, max_size=2)
        try:
            connected = await connect_account(
                pool,
                settings,
                client_id=client_id,
                client_secret=client_secret,
                api_url=api_url.rstrip("/"),
                is_sandbox=not api_url.startswith("https://api.avito.ru"),
                subscribe=not no_subscribe,
            )
        except AvitoError as exc:
            fail(f"Avito refused: {exc}. Check the client_id and client_secret (Avito → Настройки → API).")
        finally:
            await pool.close()
        info = connected.account
        verb = "Connected" if connected.created else "Reconnected"
        click.echo(f"{verb} «{info.name}» (Avito user {info.avito_user_id}) as account {info.id}.")
        if no_subscribe:
            click.echo("The webhook is not subscribed: run `avibot account add` again once PUBLIC_URL is set.")
        else:
            click.echo(f"Avito delivers its messages to {connected.webhook_url_masked}")
        if sync:
            click.echo("Syncing its history…")
            await _sync(services, settings, info.id, restart=False)

    _interruptible(
        lambda: with_database(run), "`avibot account list` shows the account, `avibot account sync ID` continues."
    )


@account.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "include_removed", is_flag=True, help="Include removed accounts.")
def list_(as_json: bool, include_removed: bool) -> None:
    """Connected accounts (credentials are never shown)."""

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.store.accounts import list_accounts

        pool = await db.create_pool(services.database_url, min_size=1, max_size=1)  # with the JSON codecs
        try:
            accounts = await list_accounts(pool, include_removed=include_removed)
        finally:
            await pool.close()
        if as_json:
            click.echo(json.dumps([
                {"id": a.id, "avito_user_id": a.avito_user_id, "name": a.name, "state": a.state,
                 "sandbox": a.is_sandbox, "scenario": a.scenario_id or "default", "api_url": a.api_url}
                for a in accounts
            ], ensure_ascii=False))  # fmt: skip
            return
        if not accounts:
            click.echo("No accounts connected. Connect one with `avibot account add --client-id … --client-secret …`.")
        for a in accounts:
            kind = "sandbox" if a.is_sandbox else "avito"
            click.echo(f"{a.id:>4}  {a.avito_user_id:>12}  {a.state:<8} {kind:<8} «{a.name}»  {a.state_detail}")

    with_database(run)


@account.command("remove")
@click.argument("account_id", type=int)
def remove(account_id: int) -> None:
    """Disconnect an account: its webhook URL stops working and its chats leave the inbox; history is kept."""

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.store.accounts import get_account, remove_account

        pool = await db.create_pool(services.database_url, min_size=1, max_size=1)  # with the JSON codecs
        try:
            info = await get_account(pool, account_id)
            removed = await remove_account(pool, account_id)
        finally:
            await pool.close()
        if not removed:
            click.echo(f"Account {account_id} «{info.name}» was already removed.")
        else:
            click.echo(f"Removed «{info.name}»: Avito's deliveries to its webhook URL are now refused (404).")

    with_database(run)


@account.command("set")
@click.argument("account_id", type=int)
@click.option(
    "--handoff-notice",
    default=None,
    help="What the buyer is told when an operator takes the chat, e.g. «Вам ответит менеджер»; '' for nothing.",
)
def set_(account_id: int, handoff_notice: str | None) -> None:
    """Change how an account behaves."""
    if handoff_notice is None:
        fail("nothing to change; see avibot account set --help")
    if len(handoff_notice) > 1000:
        fail("the handoff notice is longer than Avito's 1000 characters; shorten it.")

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.store.accounts import update_settings

        pool = await db.create_pool(services.database_url, min_size=1, max_size=1)  # with the JSON codecs
        try:
            info = await update_settings(pool, account_id, {"handoff_notice": handoff_notice.strip()})
        finally:
            await pool.close()
        notice = info.settings.get("handoff_notice") or ""
        click.echo(f"«{info.name}»: " + (f"handoff notice «{notice}»" if notice else "no handoff notice"))

    with_database(run)


@account.command("sync")
@click.argument("account_id", type=int)
@click.option("--restart", is_flag=True, help="Start over instead of continuing an interrupted sync.")
def sync_(account_id: int, restart: bool) -> None:
    """Store an account's chats (u2i and u2u, with listings and buyers) and their messages as history, which the
    bot does not answer. Safe to interrupt (Ctrl-C) and run again: it continues where it stopped; after a finished
    sync, a new run stores only what is new. Avito's paging reaches the latest ~1100 chats, and the latest ~1100
    messages of each."""

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.store.accounts import get_account

        pool = await db.create_pool(services.database_url, min_size=1, max_size=1)  # with the JSON codecs
        try:
            info = await get_account(pool, account_id)
        finally:
            await pool.close()
        if info.state == "removed":
            fail(f"Account {account_id} «{info.name}» is removed; connect it again with `avibot account add`.")
        if not restart and info.sync_state.get("offset") is not None and not info.sync_state.get("done"):
            done = int(info.sync_state.get("chats") or 0)
            click.echo(f"Continuing the interrupted sync of «{info.name}» ({done} chats were done).")
        else:
            click.echo(f"Syncing the history of «{info.name}»…")
        await _sync(services, settings, account_id, restart=restart)

    _interruptible(lambda: with_database(run), f"`avibot account sync {account_id}` continues.")


async def _sync(services: Services, settings: Settings, account_id: int, *, restart: bool) -> SyncResult:
    """The history sync in this process, with its progress on stderr and its result on stdout."""
    from actors.account import AccountSession
    from core.avito.client import AvitoError

    session = AccountSession(settings, services.database_url, account_id)
    progress = _StoppableProgress("Syncing", "chats")
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None

    def ctrl_c() -> None:
        progress.interrupted = True
        task.cancel()

    loop.add_signal_handler(signal.SIGINT, ctrl_c)
    try:
        result = await session.sync_history(progress, restart=restart)
    except asyncio.CancelledError:
        if progress.interrupted:
            raise KeyboardInterrupt from None
        raise
    except AvitoError as exc:
        progress.close()
        fail(
            f"the history sync stopped: {exc}. What was stored is kept; "
            f"run `avibot account sync {account_id}` to continue."
        )
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        progress.close()
        await session.aclose()
    verb = "Continued and finished" if result.resumed else "Synced"
    click.echo(f"{verb}: {result.chats} chats, {result.messages} new messages stored as history.")
    if result.truncated:
        click.echo("Avito's paging stops at offset 1000: older chats are out of its reach (new ones come by webhook).")
    return result


class _StoppableProgress(Progress):
    """The sync's progress, which also ends the sync at the next chat once Ctrl-C was pressed. Ctrl-C cancels the
    sync's task as well; this is for a cancellation lost on its way (Python 3.11's asyncio.wait_for, which asyncpg
    uses, drops one that arrives just as the call it waits for finishes), so that Ctrl-C always stops the sync."""

    interrupted = False

    def __call__(self, done: int, total: int | None) -> None:
        super().__call__(done, total)
        if self.interrupted:
            raise KeyboardInterrupt


def _interruptible(command: Callable[[], object], hint: str) -> None:
    """Runs a command that syncs; Ctrl-C keeps what was stored and says how to continue."""
    try:
        command()
    except KeyboardInterrupt:
        click.echo("", err=True)
        click.secho(f"Interrupted. What was stored is kept; {hint}", fg="yellow", err=True)
        sys.exit(130)
