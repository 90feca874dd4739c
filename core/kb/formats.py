"""Which parser reads an uploaded or named file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from core.kb.models import KbImport

FileFormat = Literal["json", "yml"]


def format_of(path: Path) -> FileFormat:
    return "yml" if path.suffix.lower() in (".yml", ".yaml", ".xml") else "json"


def parse_file(fmt: FileFormat, data: bytes) -> KbImport:
    """JSON in the knowledge-base format, or an ocStore (Yandex Market) YML feed."""
    if fmt == "yml":
        from core.kb.ocstore_yml import parse_yml

        return parse_yml(data)
    from core.kb.json_import import parse_json

    return parse_json(data)
