"""The built-in runner started the way the supervisor starts it (its command line from
:func:`~elite_panel.stack.runners.runner_spec`), for the tests and benchmarks that need
the real one."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from elite_panel.core.kinds import RunnerKind
from elite_panel.core.profiles import Profile
from elite_panel.stack.runners import runner_spec
from tests.fakes.ollama_double import free_port

START_TIMEOUT_S = 60


@contextmanager
def running_builtin_runner(
    models_dir: Path | None = None, embedding: Path | None = None
) -> Iterator[str]:
    """The runner on a free port, serving the bundled chat model (and ``embedding``, the
    converted embedding model, when given); yields its OpenAI API's URL (``…/v1``)."""
    port = free_port()
    profile = Profile.model_validate({"runner": {"kind": "builtin", "port": port}})
    spec, endpoint = runner_spec(profile, RunnerKind.BUILTIN, "", models_dir, embedding)
    assert spec.argv is not None and endpoint.embedding_model == embedding
    proc = subprocess.Popen(spec.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, "the runner exited"
            try:
                if httpx.get(f"{url}/models", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the built-in runner did not answer in time"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
