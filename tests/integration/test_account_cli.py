"""`avibot account …` against the Avito sandbox, with embedded servers the CLI starts for itself."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.avito.sandbox import Sandbox, SandboxConfig
from tests.integration.test_cli import env_for, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=3)) as server:
        yield server


def test_add_list_remove(tmp_path: Path, sandbox: Sandbox) -> None:
    env = env_for(tmp_path / "data")
    shop = sandbox.accounts[0]
    add = ["account", "add", "--client-id", shop.client_id, "--client-secret", shop.client_secret]
    added = run([*add, "--api-url", sandbox.url], env)
    assert added.returncode == 0, added.stderr
    assert f"Connected «{shop.name}» (Avito user {shop.user_id}) as account 1." in added.stdout
    assert shop.client_secret not in added.stdout + added.stderr  # a credential is never printed
    [subscription] = sandbox.state.subscriptions[shop.user_id]
    assert "/webhooks/avito/" in subscription and subscription.rsplit("/", 1)[1] not in added.stdout

    again = run([*add, "--api-url", sandbox.url], env)
    assert "Reconnected" in again.stdout  # same account, same webhook secret
    assert sandbox.state.subscriptions[shop.user_id] == [subscription]

    listing = run(["account", "list", "--json"], env)
    assert listing.returncode == 0, listing.stderr
    listed = json.loads(listing.stdout)
    assert listed == [{"id": 1, "avito_user_id": shop.user_id, "name": shop.name, "state": "active",
                       "sandbox": True, "scenario": "default", "api_url": sandbox.url}]  # fmt: skip

    wrong = run(
        ["account", "add", "--client-id", shop.client_id, "--client-secret", "nope", "--api-url", sandbox.url], env
    )
    assert wrong.returncode == 1 and "Avito refused" in wrong.stderr and "Traceback" not in wrong.stderr

    notice = run(["account", "set", "1", "--handoff-notice", "Вам ответит менеджер"], env)
    assert notice.returncode == 0 and "«Вам ответит менеджер»" in notice.stdout, notice.stderr
    operator = run(["user", "add", "anna", "--role", "operator"], env, stdin="anna-password-1\n")
    assert operator.returncode == 0, operator.stderr
    granted = run(["user", "grant", "anna", "1"], env)
    assert granted.returncode == 0 and "now sees accounts: 1" in granted.stdout, granted.stderr
    revoked = run(["user", "grant", "anna", "1", "--revoke"], env)
    assert "now sees accounts: none" in revoked.stdout
    assert run(["user", "grant", "nobody", "1"], env).returncode == 1

    removed = run(["account", "remove", "1"], env)
    assert removed.returncode == 0 and "Removed" in removed.stdout
    assert run(["account", "list", "--json"], env).stdout.strip() == "[]"
    missing = run(["account", "remove", "7"], env)
    assert missing.returncode == 1 and "не найден" in missing.stderr
