"""A team's topology on loopback: nginx in front of three server replicas on one
PostgreSQL database and one Redis, with a pool of runners (two Ollama doubles and the
built-in runner with its bundled model), each a real process the tests can kill.

Needs nginx (Debian's ``nginx-light``), ``ELITE_TEST_POSTGRES_URL`` and
``ELITE_TEST_REDIS_URL``: CI has them all; without them the tests skip, unless
``ELITE_REQUIRE_SERVICES=1`` makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.topology import Cluster, builtin_runner, ollama_runner, running_cluster
from tests.conftest import model_installed
from tests.server.conftest import postgres_database, redis_test_url, require_service

REDIS_DB = 10  # the cluster's own databases of the test Redis (one a test worker)


def _need_nginx() -> None:
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return
    if os.environ.get("ELITE_REQUIRE_SERVICES") == "1":
        pytest.fail("ELITE_REQUIRE_SERVICES=1 but nginx is not installed (nginx-light)")
    pytest.skip("nginx is not installed (apt-get install nginx-light)")


@pytest.fixture(scope="session")  # one topology for the package's tests (its group: one worker)
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _need_nginx()
    admin_url = require_service("ELITE_TEST_POSTGRES_URL", "PostgreSQL server")
    redis_url = redis_test_url(REDIS_DB)
    if not model_installed():
        pytest.fail("the cluster's pool has the built-in runner: install '.[local]'")
    tmp = tmp_path_factory.mktemp("cluster")
    # 3 s answers (60 words, 50 ms apart): time to kill things mid-answer.
    runners = [ollama_runner(tmp, "ollama-a"), ollama_runner(tmp, "ollama-b"), builtin_runner(tmp)]
    with (
        postgres_database(admin_url) as database_url,
        running_cluster(tmp, runners, database_url, redis_url) as cluster,
    ):
        yield cluster
