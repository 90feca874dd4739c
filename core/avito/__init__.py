"""Avito: the API client (``client``), its payloads (``payloads``) and a local stand-in server (``sandbox``)."""

from core.avito.client import (
    AvitoClient,
    AvitoError,
    MessageTooLong,
    OAuthTokenSource,
    RetryPolicy,
    TokenSource,
    exchange_code,
)

__all__ = [
    "AvitoClient",
    "AvitoError",
    "MessageTooLong",
    "OAuthTokenSource",
    "RetryPolicy",
    "TokenSource",
    "exchange_code",
]
