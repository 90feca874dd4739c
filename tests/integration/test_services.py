"""Who owns a DATA_DIR's embedded servers, and what other commands see while it does."""

import json
import os
from pathlib import Path

import asyncpg
import pytest

from core.errors import AlreadyRunning
from core.services import open_services, read_run_info
from core.settings import Settings

pytestmark = pytest.mark.integration


async def ping(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


async def test_owner_shares_with_commands_and_refuses_a_second_up(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with open_services(settings, "up") as owner:
        info = read_run_info(settings)
        assert info is not None and info.pid == os.getpid() and info.role == "up"
        assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o600
        with pytest.raises(AlreadyRunning, match="already running"), open_services(settings, "up"):
            pass
        with open_services(settings, "command") as guest:
            assert guest == owner
            assert await ping(guest.database_url) == 1
    assert read_run_info(settings) is None  # the owner cleaned up


async def test_stale_run_file_from_a_dead_owner_is_ignored(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    (tmp_path / "run.json").write_text(
        json.dumps({"pid": 999999, "role": "up", "database_url": "postgresql://gone", "redis_url": "redis://gone"})
    )
    with open_services(settings, "command") as services:
        assert services.database_url != "postgresql://gone"
        assert await ping(services.database_url) == 1


async def test_external_urls_bypass_the_embedded_servers(tmp_path: Path, database_url: str, redis_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, redis_url=redis_url)
    with open_services(settings, "up") as services:
        assert services.database_url == database_url
        assert not (tmp_path / "pg").exists()
