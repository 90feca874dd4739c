"""`avibot account …`: connect, list and disconnect Avito accounts."""

from __future__ import annotations

import json

import click

from core.cli import fail, with_database
from core.services import Services
from core.settings import Settings


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
def add(client_id: str, client_secret: str, api_url: str, no_subscribe: bool) -> None:
    """Connect an account: checks the credentials, stores them encrypted, subscribes the webhook at
    PUBLIC_URL/webhooks/avito/<secret>. Running it again for the same account replaces its credentials."""

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

    with_database(run)


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
