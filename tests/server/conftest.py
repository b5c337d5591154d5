"""Fixtures of the server tests: the backend doubles, databases, and app clients.

``ELITE_TEST_POSTGRES_URL`` and ``ELITE_TEST_REDIS_URL`` point at real servers (CI starts
them); without them those tests skip, unless ``ELITE_REQUIRE_SERVICES=1`` makes that a
failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes import ollama_double, openai_double

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def run_server(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m embedded_server ARGS`` (the ``elite-assistant-server`` command) in
    ``env``; it is expected to end by itself (a refusal, or a command that is not serve)."""
    return subprocess.run(
        [sys.executable, "-m", "embedded_server", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def require_service(variable: str, what: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    if os.environ.get("ELITE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"ELITE_REQUIRE_SERVICES=1 but {variable} is not set ({what})")
    pytest.skip(f"{variable} is not set: no {what} to test against")


# Tests run in parallel (pytest-xdist): each worker empties Redis databases of its own.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def redis_test_url(base: int) -> str:
    """This worker's Redis database numbered from ``base`` (the server tests' from 1, the
    cluster's from 10), emptied."""
    import redis

    url = require_service("ELITE_TEST_REDIS_URL", "Redis server").rsplit("/", 1)[0]
    url = f"{url}/{base + WORKER}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="module")
def double() -> Iterator[ollama_double.OllamaDouble]:
    state = ollama_double.OllamaDouble()
    for url in ollama_double.serve_in_thread(ollama_double.build_app(state)):
        state.url = url
        yield state


@pytest.fixture(autouse=True)
def _reset_double(request: pytest.FixtureRequest) -> None:
    if "double" in request.fixturenames:
        state = request.getfixturevalue("double")
        state.drop_final, state.delay_s, state.hang, state.num_ctx = False, 0.0, False, None
        state.vocabulary, state.shown_overrides, state.shows_verbose = None, {}, 0
        state.answer = ollama_double.OllamaDouble.answer
        fresh = ollama_double.OllamaDouble()
        state.installed, state.unloaded, state.loaded = fresh.installed, [], None


@pytest.fixture(scope="module")
def openai_backend() -> Iterator[openai_double.OpenAIDouble]:
    state = openai_double.OpenAIDouble()
    for url in ollama_double.serve_in_thread(openai_double.build_app(state)):
        state.url = f"{url}/v1"
        yield state


def execute_sql(dsn: str, sql: str) -> None:
    """Run one SQL statement on the PostgreSQL database ``dsn`` (a ``postgresql://`` URL)."""

    async def run() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server; dropped afterwards."""
    name = f"elite_{uuid.uuid4().hex[:12]}"
    admin = make_url(admin_url)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    execute_sql(dsn, f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            execute_sql(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except asyncpg.InsufficientPrivilegeError:  # an autovacuum worker (big databases)
            execute_sql(dsn, f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assistant.db'}"
        return
    admin = require_service("ELITE_TEST_POSTGRES_URL", "PostgreSQL server")
    with postgres_database(admin) as url:
        yield url


MakeClient = Callable[..., Any]


@pytest.fixture
def make_client(tmp_path: Path, double: ollama_double.OllamaDouble) -> Iterator[MakeClient]:
    """``make_client(**settings)`` → an entered TestClient; defaults to the Ollama double."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "api_token": TOKEN,
            "backend": "ollama",
            "backend_url": double.url,
            "data_dir": tmp_path / "data",
            "rate_limit": "off",
        }
        values.update(overrides)
        # A loopback peer, as the panel is (TestClient's default peer is "testclient").
        client = TestClient(create_app(Settings(**values)), client=("127.0.0.1", 50000))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    result: TestClient = make_client()
    return result


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
