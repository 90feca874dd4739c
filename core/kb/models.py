"""What every knowledge-base import produces, whatever its source (JSON file, ocStore feed or database)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

# Category slugs, also enforced by a CHECK constraint in migrations/0005.
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class CategoryIn(msgspec.Struct, frozen=True, kw_only=True):
    slug: str  # matches SLUG
    title: str


class ArticleIn(msgspec.Struct, frozen=True, kw_only=True):
    external_id: str  # stable id in the source; re-imports update by it, replay reports it in `sources`
    title: str
    text: str
    category: str | None = None  # a CategoryIn.slug of the same import, or of an existing category
    tags: list[str] = []
    # Product facts from shops: {"price": 28500, "currency": "RUB", "available": true, "url": …, "picture": …}
    meta: dict[str, Any] = {}
    avito_item_ids: list[int] = []


class Skipped(msgspec.Struct, frozen=True):
    external_id: str
    reason: str


class KbImport(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed source, not yet written. Parsers reject a bad source whole (InvalidInput naming the place)."""

    source: str  # json, ocstore-yml, ocstore-db
    categories: list[CategoryIn] = []
    articles: list[ArticleIn] = []
    # Entries the parser dropped on purpose (e.g. an offer without a name); reported, never silent.
    skipped: list[Skipped] = []


class ImportReport(msgspec.Struct, frozen=True, kw_only=True):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0  # only with --replace: articles of the same source absent from this import
    categories_created: int = 0
    skipped: list[Skipped] = []
