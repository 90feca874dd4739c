"""`avibot sandbox`: the Avito sandbox as a standalone server, with demo shops to connect avibot to."""

from __future__ import annotations

import contextlib
import ipaddress
import shlex
import socket
from typing import TYPE_CHECKING

import click

from core.cli import fail

if TYPE_CHECKING:
    from core.avito.sandbox import SandboxState


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port} ({exc.strerror}); pass --port with a free port.")


def banner(state: SandboxState) -> str:
    """One paragraph: where the sandbox is, and each account with its credentials and the command connecting it."""
    url = state.public_url
    accounts = list(state.accounts.values())
    lines = [f"Avito sandbox at {url} with {len(accounts)} account(s); Ctrl-C stops it."]
    for account in accounts:
        lines.append(
            f"  {account.user_id}  «{account.name}»  client_id {account.client_id}  "
            f"client_secret {account.client_secret}"
        )
        add = ["avibot", "account", "add", "--client-id", account.client_id]
        add += ["--client-secret", account.client_secret, "--api-url", url]
        lines.append(f"    {shlex.join(add)}")
    config = state.config
    if config.simulator_rate > 0:
        lines.append(f"  Simulated buyers write {config.simulator_rate:g} message(s) a minute.")
    lines.append(f"  Control API: {url}/sandbox/accounts, {url}/sandbox/config (GET/PATCH), {url}/sandbox/inject.")
    return "\n".join(lines)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback only by default).")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host that is not loopback. The sandbox has no security: whoever reaches it reads every "
    "account's credentials.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True, help="Port to listen on.")
@click.option(
    "--accounts",
    "account_count",
    type=click.IntRange(1, 100),
    default=2,
    show_default=True,
    help="How many demo shops (Avito accounts) the sandbox has, each with its own credentials, items and chats.",
)
@click.option(
    "--simulator-rate",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Simulated buyers' messages per minute over all accounts (Poisson); 0: no simulated buyers.",
)
@click.option(
    "--token-ttl",
    type=click.FloatRange(min=0, min_open=True),
    default=86400.0,
    show_default=True,
    help="Seconds an access token lives; after that the API answers 403, as Avito does.",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="API requests per account per minute before 429 with Retry-After; 0: no limit.",
)
@click.option(
    "--duplicates",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability that a webhook is delivered twice.",
)
@click.option(
    "--webhook-delay",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds each webhook delivery waits before it is sent.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for the generated accounts, chats and buyers, so runs repeat. Accounts are the same across "
    "restarts without it too.",
)
def sandbox(
    host: str,
    allow_remote: bool,
    port: int,
    account_count: int,
    simulator_rate: float,
    token_ttl: float,
    rate_limit: int,
    duplicates: float,
    webhook_delay: float,
    seed: int | None,
) -> None:
    """Run the Avito sandbox: a local server speaking the Avito API for demo shops, until Ctrl-C.

    It answers OAuth tokens, chats, messages, sends, image uploads and webhook subscriptions as Avito does
    (expired tokens give 403; webhooks echo the account's own messages, and may come late or twice); with
    --simulator-rate, simulated buyers write to the shops. On start it prints each account's user id, name and
    credentials with the `avibot account add … --api-url` command that connects avibot to it.

    Behaviours can also be changed while it runs: PATCH /sandbox/config, POST /sandbox/faults,
    POST /sandbox/inject (a buyer message), POST /sandbox/simulator; GET /sandbox/accounts lists the accounts.
    """
    if not allow_remote and not _is_loopback(host):
        fail(
            f"--host {host} is not a loopback address; the sandbox hands out credentials to anyone, so add "
            "--allow-remote if that is really meant.",
            2,
        )
    _check_port_free(host, port)

    from core.avito.sandbox import SandboxConfig, demo_accounts, run_sandbox

    config = SandboxConfig(
        accounts=demo_accounts(account_count, seed),
        token_ttl=token_ttl,
        rate_limit=rate_limit,
        webhook_duplicate_probability=duplicates,
        webhook_delay=webhook_delay,
        simulator_rate=simulator_rate,
        seed=seed,
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has shut down gracefully and re-raises it
        run_sandbox(host, port, config, on_started=lambda state: click.echo(banner(state)))
    click.echo("Avito sandbox stopped.")
