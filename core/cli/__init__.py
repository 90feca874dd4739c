"""The `avibot` command line."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click

from core import settings as settings_module
from core.errors import AvibotError
from core.services import Services, open_services, read_run_info, write_run_info
from core.settings import Settings, get_settings

T = TypeVar("T")


def _environment_help() -> str:
    rows = "\n".join(f"  {name:<20} {doc}" for name, doc in settings_module.describe())
    return f"Configuration comes from the environment (or ./.env):\n\n\b\n{rows}"


def fail(message: str, code: int = 1) -> None:
    click.secho(f"avibot: {message}", fg="red", err=True)
    sys.exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except AvibotError as exc:
        fail(str(exc), 2)
        raise  # unreachable; keeps type checkers content


def with_database(run: Callable[[Services, Settings], Awaitable[T]], *, migrate_first: bool = True) -> T:
    """Runs `run` against the DATA_DIR's servers (the running instance's, or started just for this command),
    on an up-to-date schema."""
    settings = _settings()

    async def migrated(services: Services) -> T:
        from core.bootstrap import migrate_database

        if migrate_first:
            await migrate_database(services.database_url)
        return await run(services, settings)

    try:
        with open_services(settings, "command") as services:
            return asyncio.run(migrated(services))
    except AvibotError as exc:
        fail(str(exc))
        raise


@click.group(epilog=_environment_help(), context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """avibot — one inbox and an AI bot for Avito chats."""


@main.command()
def up() -> None:
    """Start everything: embedded services, migrations, Ray and the web app on HOST:PORT.

    Stops cleanly on Ctrl-C. Data is kept in DATA_DIR between runs.
    """
    from actors import cluster
    from core.avito.demo import start_demo_sandbox
    from core.bootstrap import prepare

    settings = _settings()
    _check_port_free(settings)
    try:
        with open_services(settings, "up") as services:
            # The database first: a bad DATABASE_URL should fail in a second, not after Ray's start-up.
            prepared = asyncio.run(prepare(services.database_url, settings))
            if prepared.applied:
                click.echo(f"Applied {len(prepared.applied)} migration(s).")
            if prepared.demo_articles:
                click.echo(f"Loaded the demo knowledge base ({prepared.demo_articles} articles).")
            demo = start_demo_sandbox(settings, services.database_url)
            try:
                # Ray starts in the main thread, before the event loop, so it can install its signal handlers.
                ray_address = cluster.start(services.ray_address)
                try:
                    _publish_run_info(settings, ray_address, cluster.session_dir())
                    _run_loop(_serve(settings, services, prepared.admin_password, demo))
                finally:
                    cluster.stop()
            finally:
                if demo is not None:
                    demo[0].stop()
    except AvibotError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        pass


def _check_port_free(settings: Settings) -> None:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.host, settings.port))
        except OSError as exc:
            fail(f"cannot listen on {settings.host}:{settings.port} ({exc.strerror}); set PORT to a free port.")


def _publish_run_info(settings: Settings, ray_address: str, ray_session_dir: str | None) -> None:
    """Tells other `avibot` commands on this DATA_DIR where Ray and the app are (when we own the services)."""
    info = read_run_info(settings)
    if info is not None and info.pid == os.getpid():
        write_run_info(
            settings,
            dataclasses.replace(
                info, ray_address=ray_address, ray_session_dir=ray_session_dir, http_url=settings.base_url
            ),
        )


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """The server's event loop: uvloop (with uvicorn's httptools parser, both from uvicorn[standard]), which
    answers webhooks with less CPU per request than the standard loop; the standard one where it is missing."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


async def _serve(settings: Settings, services: Services, admin_password: str | None, demo: Any) -> None:
    import uvicorn

    from api.app import LiveOptions, create_asgi

    config = uvicorn.Config(
        create_asgi(settings, services, live=LiveOptions()),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    background: set[asyncio.Task[None]] = set()
    # uvicorn exposes no "started" event; polling its flag for the banner costs nothing.
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if server.started:
        click.secho(f"avibot is running at {settings.base_url}  (Ctrl-C stops it)", fg="green")
        if admin_password:
            click.secho(
                f"First run: log in as «admin» with password {admin_password}\n"
                f"(also saved in {settings.data_dir / 'initial-admin-password'})",
                fg="yellow",
            )
        if demo is not None:
            from core.avito.demo import start_demo_activity

            sandbox, connected = demo
            # In the background, so /healthz does not wait: the shops' history, then buyers (webhooks have
            # somewhere to go now). Referenced until the server stops; asyncio.run cancels it then.
            background.add(asyncio.create_task(start_demo_activity(settings, services.database_url, *demo)))
            shops = ", ".join(f"«{c.account.name}»" for c in connected)
            click.echo(
                f"No Avito account is connected, so the Avito sandbox runs at {sandbox.url} with the shops {shops}; "
                f"simulated buyers write {settings.demo_buyers_per_minute:g} messages a minute "
                "(DEMO_BUYERS_PER_MINUTE). Connect a real account with `avibot account add`."
            )
    await serving


@main.command()
def migrate() -> None:
    """Apply pending database migrations (a no-op when there are none)."""

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.migrate import migrate as apply

        conn = await db.connect(services.database_url)
        try:
            applied = await apply(conn)
            rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        finally:
            await conn.close()
        click.echo(f"Applied {len(applied)} migration(s); schema is at {rows[-1]['version']:04d}_{rows[-1]['name']}.")

    with_database(run, migrate_first=False)


@main.group()
def user() -> None:
    """Manage the people who log in."""


@user.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice(["admin", "operator"]), required=True, help="What the user may do.")
@click.option("--name", "display_name", default="", help="Name shown to colleagues (default: the login).")
def user_add(login: str, role: str, display_name: str) -> None:
    """Create a user. The password is asked for, or read from standard input when it is not a terminal."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            fail("the passwords differ; nothing was changed.")
    else:
        password = sys.stdin.readline().rstrip("\r\n")

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.store.users import create_user

        conn = await db.connect(services.database_url)
        try:
            created = await create_user(conn, login, password, role, display_name)  # type: ignore[arg-type]
        finally:
            await conn.close()
        click.echo(f"Created {created.role} «{created.login}» (id {created.id}).")

    with_database(run)


@user.command("grant")
@click.argument("login")
@click.argument("account_ids", nargs=-1, type=int, required=True)
@click.option("--revoke", is_flag=True, help="Take the accounts away instead.")
def user_grant(login: str, account_ids: tuple[int, ...], revoke: bool) -> None:
    """Let an operator see these accounts' chats (ids from `avibot account list`); admins see every account."""

    async def run(services: Services, settings: Settings) -> None:
        from core import db
        from core.store.users import get_user_by_login, grant_accounts, revoke_accounts

        conn = await db.connect(services.database_url)
        try:
            found = await get_user_by_login(conn, login)
            if found is None:
                fail(f"no user «{login}»; create it with: avibot user add {login} --role operator")
            change = revoke_accounts if revoke else grant_accounts
            granted = await change(conn, found.id, list(account_ids))
        finally:
            await conn.close()
        shown = ", ".join(map(str, granted)) or "none"
        click.echo(
            f"«{login}» ({found.role}) now sees accounts: {shown}"
            + (" (admins see all)" if found.role == "admin" else "")
        )

    with_database(run)


def _register_subcommands() -> None:
    from core.cli.account import account
    from core.cli.kb import kb
    from core.cli.replay import replay
    from core.cli.sandbox import sandbox

    main.add_command(kb)
    main.add_command(replay)
    main.add_command(sandbox)
    main.add_command(account)


_register_subcommands()
