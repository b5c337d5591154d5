"""A local Docker image that answers like Ollama from the recorded responses: the test
double of the ``ollama/ollama`` container (no registry is reachable in CI).

Built from the host's static busybox: ``nc -ll`` listens on the port of ``OLLAMA_HOST``
(as Ollama does) and a shell handler answers each request with the fixture recorded for its
method and path (``tests/fakes/ollama_fixtures.json``). Each request is logged on stderr, so
the container's log has lines to stream. Run: ``python -m tests.fakes.ollama_image``.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

IMAGE = "elite-test/ollama-double:latest"
DIGEST_LABEL = "org.elite-test.rootfs-sha256"
FIXTURES = Path(__file__).with_name("ollama_fixtures.json")
# (method, path) → fixture id: the responses the handler serves.
ROUTES = {
    ("GET", "/"): "root-get",
    ("GET", "/api/version"): "version",
    ("GET", "/api/tags"): "tags",
    ("GET", "/api/ps"): "ps",
    ("POST", "/api/show"): "show",
    ("POST", "/api/chat"): "chat-stream",
    ("POST", "/api/pull"): "pull-stream",
}

SERVE = """#!/bin/sh
# Listen where Ollama would: OLLAMA_HOST (host:port), default 127.0.0.1:11434.
port="${OLLAMA_HOST##*:}"
[ -n "$port" ] || port=11434
echo "ollama double listening on port $port" >&2
exec nc -ll -p "$port" -e /handler.sh
"""

HANDLER = """#!/bin/sh
read -r method path _proto
length=0
while read -r line; do
    line=$(printf '%s' "$line" | tr -d '\\r')
    [ -z "$line" ] && break
    case "$line" in
        [Cc]ontent-[Ll]ength:*) length=$(printf '%s' "${line#*:}" | tr -d ' ') ;;
    esac
done
[ "$length" -gt 0 ] 2>/dev/null && head -c "$length" >/dev/null
echo "$(date -u +%H:%M:%S) $method $path" >&2
name=$(printf '%s_%s' "$method" "$path" | tr '/' '_')
file="/responses/$name"
if [ -f "$file" ]; then
    status=$(cat "$file.status")
    type=$(cat "$file.type")
else
    file=/responses/not_found status="404 Not Found" type=application/json
fi
printf 'HTTP/1.1 %s\\r\\nContent-Type: %s\\r\\n' "$status" "$type"
printf 'Content-Length: %s\\r\\nConnection: close\\r\\n\\r\\n' "$(wc -c < "$file")"
cat "$file"
"""


def _responses() -> dict[str, bytes]:
    fixtures = {f["id"]: f for f in json.loads(FIXTURES.read_text(encoding="utf-8"))}
    files: dict[str, bytes] = {"not_found": b'{"error":"not found"}'}
    for (method, path), fixture_id in ROUTES.items():
        response: dict[str, Any] = fixtures[fixture_id]["response"]
        if "stream" in response:
            body = "".join(json.dumps(chunk) + "\n" for chunk in response["stream"]).encode()
        elif "body" in response:
            body = json.dumps(response["body"]).encode()
        else:
            body = str(response.get("body_text", "")).encode()
        name = f"{method}_{path}".replace("/", "_")
        files[name] = body
        files[f"{name}.status"] = f"{response['status']} OK".encode()
        files[f"{name}.type"] = str(response.get("content_type") or "text/plain").encode()
    return files


def rootfs() -> bytes:
    """The image's file system as a tar: busybox, its applets, the scripts, the answers."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise RuntimeError("busybox is needed to build the image: apt-get install busybox-static")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        add("bin/busybox", Path(busybox).read_bytes(), 0o755)
        for applet in ("sh", "nc", "cat", "head", "tr", "wc", "date", "printf", "echo", "sleep"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        add("serve.sh", SERVE.encode(), 0o755)
        add("handler.sh", HANDLER.encode(), 0o755)
        for name, body in _responses().items():
            add(f"responses/{name}", body)
    return buffer.getvalue()


def build(client: Any) -> str:
    """Import the image into the engine behind ``client`` (a docker SDK client), unless the
    engine has it already with the same files (a label holds their digest): each run would
    otherwise leave the previous one behind, untagged."""
    import docker.errors

    data = rootfs()
    digest = hashlib.sha256(data).hexdigest()
    try:
        if client.images.get(IMAGE).labels.get(DIGEST_LABEL) == digest:
            return IMAGE
    except docker.errors.ImageNotFound:
        pass
    client.api.import_image_from_data(
        data,
        repository=IMAGE.split(":")[0],
        tag="latest",
        changes=['CMD ["/serve.sh"]', "ENV PATH=/bin", f"LABEL {DIGEST_LABEL}={digest}"],
    )
    return IMAGE


if __name__ == "__main__":
    import docker

    sys.stdout.write(build(docker.from_env()) + "\n")
