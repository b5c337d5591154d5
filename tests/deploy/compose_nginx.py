"""The Compose deployment's nginx configuration run on loopback: the replicas' name and
the certificate paths made local, a self-signed certificate made for it (``certs/tls.crt``,
for 127.0.0.1 and localhost: it is its own CA, what a client's ``ca_file`` names)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import wait_for
from tests.fakes.ollama_double import free_port

COMPOSE = Path(__file__).resolve().parents[2] / "packaging" / "compose"


def _certificate(where: Path) -> None:
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", str(where / "tls.key")),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            *("-out", str(where / "tls.crt")),
        ],
        check=True,
        capture_output=True,
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, verify=False, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def compose_nginx(prefix: Path, server: str) -> Iterator[str]:
    """nginx with ``packaging/compose/nginx/assistant.conf`` in front of ``server`` (its
    URL), checked with ``nginx -t``; yields nginx's https URL."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    (prefix / "certs").mkdir(parents=True)
    _certificate(prefix / "certs")
    https, http = free_port(), free_port()
    site = (
        (COMPOSE / "nginx" / "assistant.conf")
        .read_text()
        .replace("server app:8000", f"server {server.removeprefix('http://')}")
        .replace("/etc/nginx/certs", str(prefix / "certs"))
        .replace("listen 8443 ssl", f"listen 127.0.0.1:{https} ssl")
        .replace("listen 8080;", f"listen 127.0.0.1:{http};")
        .replace("/var/log/nginx/access.log", str(prefix / "access.log"))
    )
    (prefix / "site.conf").write_text(site)
    (prefix / "nginx.conf").write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{ client_body_temp_path {prefix}/body; "
        f"proxy_temp_path {prefix}/proxy; include {prefix}/site.conf; }}\n"
    )
    argv = [nginx, "-c", str(prefix / "nginx.conf"), "-p", str(prefix)]
    checked = subprocess.run([*argv, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([*argv, "-g", "daemon off;"])
    url = f"https://127.0.0.1:{https}"
    try:
        wait_for(lambda: _answers(f"{url}/health"), 20, "nginx")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
