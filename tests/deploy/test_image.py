"""The server's container image (``packaging/server/Dockerfile``), built and run on the
test Docker engine against the test PostgreSQL and Redis and a runner double.

No registry can be reached here: the base image is made from Debian's packages
(debootstrap, then ``docker import``; kept in the engine for the next run) and passed as
``BASE_IMAGE``. Needs the engine (``DOCKER_HOST``), debootstrap, and the services; CI has
them all, and ``ELITE_REQUIRE_DOCKER=1`` makes their absence a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.fakes.ollama_double import OllamaDouble, build_app, free_port, serve_in_thread
from tests.server.conftest import postgres_database, require_service

# The first test builds the base image (debootstrap, about a minute on a new machine) and
# the server's image (several minutes when the server's code changed): more than the
# suite's default per-test limit.
# one image build, one engine: the docker tests run in one worker
pytestmark = [pytest.mark.timeout(1200), pytest.mark.xdist_group("docker")]
REPO = Path(__file__).resolve().parents[2]
BASE = "elite-test/python-base:bookworm"
IMAGE = "elite-assistant-server:test"
TOKEN = "image-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr[-3000:]}")
    return done


def _engine() -> None:
    answers = shutil.which("docker") and docker("version", check=False).returncode == 0
    if answers and shutil.which("debootstrap"):
        return
    if os.environ.get("ELITE_REQUIRE_DOCKER") == "1":
        pytest.fail("ELITE_REQUIRE_DOCKER=1 but no Docker engine or no debootstrap")
    pytest.skip("needs a Docker engine (DOCKER_HOST) and debootstrap")


def _mirror() -> str:
    for source in Path("/etc/apt/sources.list.d").glob("*.sources"):
        found = re.search(r"^URIs:\s*(\S+)", source.read_text(), re.M)
        if found and "debian" in found.group(1):
            return found.group(1)
    return "http://deb.debian.org/debian"


def _base_image(tmp: Path) -> None:
    """Debian bookworm with python3 and venv, as an image (about a minute, once)."""
    if docker("image", "inspect", BASE, check=False).returncode == 0:
        return
    rootfs = tmp / "rootfs"
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(rootfs),
            _mirror(),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    # The host's CA bundle: pip inside the build verifies the index with it.
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "-", BASE], stdin=tar.stdout, check=True, timeout=600)
    tar.wait()


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    _engine()
    _base_image(tmp_path_factory.mktemp("base"))
    docker(
        *("build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE}"),
        *("-f", "packaging/server/Dockerfile", "-t", IMAGE, str(REPO)),
        timeout=900,
    )
    return IMAGE


@pytest.fixture
def runner() -> Iterator[str]:
    yield from serve_in_thread(build_app(OllamaDouble()))


def test_the_image_is_the_server_alone_non_root_with_its_labels(image: str) -> None:
    inspected = json.loads(docker("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["elite-assistant-server"] and config["Cmd"] == ["serve"]
    assert "/data" in config["Volumes"]
    assert config["Healthcheck"]["Test"][0] == "CMD"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "elite-assistant-server"
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    no_qt = docker(
        "run", "--rm", "--entrypoint", "python3", image, "-c", "import PySide6", check=False
    )
    assert no_qt.returncode != 0 and "No module named 'PySide6'" in no_qt.stderr
    version = docker("run", "--rm", image, "--version").stdout
    assert "0.1.0" in version
    size_mb = inspected["Size"] / 1e6
    assert size_mb < 600, size_mb  # the figure is in the docs (deployment/image.md)


def test_the_image_serves_keys_chats_and_keeps_its_data(image: str, runner: str) -> None:
    database_admin = require_service("ELITE_TEST_POSTGRES_URL", "PostgreSQL server")
    redis_url = require_service("ELITE_TEST_REDIS_URL", "Redis server")
    port = free_port()
    name = f"elite-image-test-{uuid.uuid4().hex[:8]}"
    with postgres_database(database_admin) as database_url:
        env = {
            "ASSISTANT_PORT": str(port),
            "ASSISTANT_API_TOKEN": TOKEN,
            "ASSISTANT_DATABASE_URL": database_url,
            "ASSISTANT_REDIS_URL": redis_url,
            "ASSISTANT_BACKEND_URL": runner,
        }
        run = ["run", "-d", "--name", name, "--network", "host", "--read-only"]
        run += ["--tmpfs", "/tmp", "-v", f"{name}-data:/data"]
        for key, value in env.items():
            run += ["-e", f"{key}={value}"]
        docker(*run, image)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _ready(url), 60, "the container's /ready")
            created = docker("exec", name, "elite-assistant-server", "keys", "create", "ci-image")
            key = {"Authorization": f"Bearer {created.stdout.strip()}"}
            body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
            answer = httpx.post(f"{url}/v1/chat/completions", json=body, headers=key, timeout=30)
            assert answer.status_code == 200, answer.text
            assert docker("exec", name, "id", "-u").stdout.strip() == "10001"
            # Backups of its PostgreSQL (the image's pg_dump) into the /data volume.
            backup = ["exec", "-e", "ASSISTANT_BACKUP_DIR=/data/backups", name]
            made = docker(*backup, "elite-assistant-server", "backup", "create", timeout=120)
            archive = made.stdout.split()[0]
            assert "1 conversations" in made.stdout
            verified = docker(*backup, "elite-assistant-server", "backup", "verify", archive)
            assert "match the manifest" in verified.stdout

            docker("restart", name, timeout=120)
            wait_for(lambda: _ready(url), 60, "/ready after the restart")
            listed = httpx.get(f"{url}/api/conversations", headers=key).json()
            assert listed["total"] == 1  # the key and its conversation are still there
            wait_for(lambda: _health(name) == "healthy", 90, "Docker's HEALTHCHECK")
        finally:
            docker("rm", "-f", name, check=False)
            docker("volume", "rm", f"{name}-data", check=False)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _health(name: str) -> str:
    state = json.loads(docker("inspect", name).stdout)[0]["State"]
    return str(state.get("Health", {}).get("Status", ""))
