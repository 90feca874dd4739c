"""Pytest fixtures for the local OpenAI-compatible server (tests/llm_server.py).

Registered in tests/conftest.py with ``pytest_plugins = ["tests.llm_fixtures"]``. One server runs for the whole
session (starting uvicorn per test would cost more than the tests); ``llm_server`` hands each test a server
with no requests recorded and nothing scripted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.llm_server import LLMServer


@pytest.fixture(scope="session")
def llm_server_session() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture
def llm_server(llm_server_session: LLMServer) -> LLMServer:
    """The session's server, reset for this test: ``.base_url``, ``.script(...)``, ``.requests``."""
    llm_server_session.reset()
    return llm_server_session
