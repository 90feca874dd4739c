"""Fixtures only the integration tests use (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mariadb import ocstore_database


@pytest.fixture(scope="session")
def mariadb_dsn() -> Iterator[str]:
    """A real MariaDB on loopback holding the test ocStore shop (tests/data/ocstore), for the whole session."""
    with ocstore_database() as dsn:
        yield dsn
