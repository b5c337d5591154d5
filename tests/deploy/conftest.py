"""The deployment tests' shared fixture: a server for Prometheus to scrape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """The assistant server on loopback, answering from the Ollama double."""
    double = OllamaDouble()
    for url in serve_in_thread(build_app(double)):
        double.url = url
        settings = Settings(backend_url=url, data_dir=tmp_path / "srv", rate_limit="off")
        yield from serve_in_thread(create_app(settings))
