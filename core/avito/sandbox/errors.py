"""The sandbox's one exception: an Avito-style error answer."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An Avito-style error answer: ``{"error": {"code", "message"[, "fields"]}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        fields: Any = None,
        oauth: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.fields = fields
        # /token errors: OAuth's {"error", "error_description"} (Avito's shape there is unconfirmed).
        self.oauth = oauth
