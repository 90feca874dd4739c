"""Connecting an Avito account: check the credentials, learn the account's user id, store it (encrypted), and
subscribe Avito's webhook to ``PUBLIC_URL/webhooks/avito/{secret}``.

Reconnecting a known account (same Avito user) replaces its credentials and keeps its webhook secret, so it is
safe to run again — `avibot up` does so for the sandbox's accounts on every start, as the sandbox's port changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from core.avito.client import AvitoClient, OAuthTokenSource, http_session
from core.avito.payloads import TokenResponse
from core.security import SecretBox
from core.settings import Settings
from core.store.accounts import AccountInfo, Credentials, save_token, upsert_account


class Connected(msgspec.Struct, frozen=True, kw_only=True):
    account: AccountInfo
    created: bool
    webhook_url: str

    @property
    def webhook_url_masked(self) -> str:
        """The URL with its secret shortened, for output: the full URL is a credential."""
        base, _, secret = self.webhook_url.rpartition("/")
        return f"{base}/{secret[:4]}…"


WEBHOOK_PATH = "/webhooks/avito"  # + "/{secret}": where the app takes Avito's deliveries (api/webhooks.py)


def webhook_url(settings: Settings, secret: str) -> str:
    return f"{settings.base_url}{WEBHOOK_PATH}/{secret}"


async def connect_account(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    client_id: str,
    client_secret: str,
    api_url: str,
    is_sandbox: bool = False,
    builtin_sandbox: bool = False,
    subscribe: bool = True,
) -> Connected:
    """Raises AvitoError (with Avito's answer) when the credentials or the API refuse."""
    box = SecretBox(settings.secret())
    tokens_seen: list[TokenResponse] = []

    async def remember(token: TokenResponse) -> None:
        tokens_seen.append(token)

    async with http_session(timeout=15) as http:
        tokens = OAuthTokenSource(http, client_id, client_secret, base_url=api_url, on_refresh=remember)
        client = AvitoClient(tokens, 0, base_url=api_url, http=http)
        me = await client.get_self()
        info, secret, created = await upsert_account(
            pool,
            box,
            avito_user_id=me.id,
            name=me.name or f"Аккаунт {me.id}",
            credentials=Credentials(client_id=client_id, client_secret=client_secret),
            api_url=api_url,
            is_sandbox=is_sandbox,
            builtin_sandbox=builtin_sandbox,
        )
        url = webhook_url(settings, secret)
        if subscribe:
            client.user_id = me.id
            await client.subscribe_webhook(url)
        if tokens_seen:  # the token just obtained serves the account's actor too
            token = tokens_seen[-1]
            expires_at = datetime.now(UTC) + timedelta(seconds=token.expires_in)
            await save_token(pool, box, info.id, token.access_token, expires_at)
    return Connected(account=info, created=created, webhook_url=url)
