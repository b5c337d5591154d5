"""Figures of the assistant server, each beside a baseline measured in the same run.

Run: ``bash packaging/bootstrap.sh bench`` (or ``python -m tests.benchmarks.bench_server``).
The backend is the OpenAI-compatible double streaming as fast as it can, in its own
process; the server runs as ``python -m embedded_server`` in another; the client is here.

- one stream relayed through the server vs the same stream read from the double directly:
  tokens/s and time to first token (aims: at least half the direct rate, +10 ms at most);
  with ``BENCH_SERVER_BEFORE=DIR`` (a checkout of another version, e.g. made with
  ``git worktree add DIR REV``) that version's server is measured in the same loop too;
- 50 concurrent streams of 1,000 tokens through the server: errors and aggregate tokens/s;
- ``/health`` requests/s with wrk, against a bare FastAPI app under the same uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.benchmarks import save_results
from tests.fakes.ollama_double import free_port
from tests.fakes.openai_double import MODEL

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
STREAM_TOKENS = 2000
TTFT_SAMPLES = 40  # first-token times vary by milliseconds run to run: take many
CONCURRENT = 50
CONCURRENT_TOKENS = 1000
TOKEN = "bench-token"
REPO = Path(__file__).resolve().parents[2]
BARE_APP = (
    "from fastapi import FastAPI\napp = FastAPI()\n"
    "@app.get('/health')\nasync def health():\n    return {'status': 'ok'}\n"
)


@contextmanager
def process(
    argv: list[str], ready_url: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> Iterator[None]:
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(ready_url, timeout=1).status_code < 500:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{argv} did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@contextmanager
def double(tokens: int) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with process(
        [sys.executable, "-m", "tests.fakes.openai_double", str(port), str(tokens)], f"{url}/models"
    ):
        yield url


@contextmanager
def server(backend_url: str, tree: Path = REPO) -> Iterator[str]:
    """``python -m embedded_server`` from the source tree ``tree`` (this one by default)."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="elite-bench-server-")
    env = {
        "ASSISTANT_PORT": str(port),
        "ASSISTANT_API_TOKEN": TOKEN,
        "ASSISTANT_BACKEND": "openai",
        "ASSISTANT_BACKEND_URL": backend_url,
        "ASSISTANT_DATA_DIR": data,
        "ASSISTANT_RATE_LIMIT": "off",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(tree),
    }
    try:
        with process(
            [sys.executable, "-m", "embedded_server"],
            f"http://127.0.0.1:{port}/health",
            env,
            cwd=tree,
        ):
            yield f"http://127.0.0.1:{port}"
    finally:
        shutil.rmtree(data, ignore_errors=True)


async def read_direct(http: httpx.AsyncClient, url: str) -> tuple[float, float, int]:
    """(ttft s, tokens/s, tokens) reading the double's SSE stream ourselves."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True}
    start = time.perf_counter()
    first = None
    tokens = 0
    async with http.stream("POST", f"{url}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
            if delta:
                first = first or time.perf_counter()
                tokens += delta.count("tok ")
    end = time.perf_counter()
    assert first is not None
    return first - start, tokens / (end - first), tokens


async def read_relayed(http: httpx.AsyncClient, url: str) -> tuple[float, float, int]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    start = time.perf_counter()
    first = None
    tokens = 0
    async with http.stream(
        "POST", f"{url}/api/chat", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as response:
        async for line in response.aiter_lines():
            event = json.loads(line) if line else {}
            if event.get("type") == "token":
                first = first or time.perf_counter()
                tokens += event["content"].count("tok ")
            elif event.get("type") == "error":
                raise RuntimeError(event["message"])
    end = time.perf_counter()
    assert first is not None
    return first - start, tokens / (end - first), tokens


async def relay_vs_direct(backend: str, assistants: dict[str, str]) -> dict[str, float]:
    """Direct and each server's relay, interleaved (drift hits them alike); figures are
    prefixed with the server's name when there are several."""
    direct: list[tuple[float, float, int]] = []
    relayed: dict[str, list[tuple[float, float, int]]] = {name: [] for name in assistants}
    async with httpx.AsyncClient(timeout=60, trust_env=False) as http:
        await read_direct(http, backend)  # warm every path
        for url in assistants.values():
            await read_relayed(http, url)
        for _ in range(max(ROUNDS * 2, TTFT_SAMPLES)):
            direct.append(await read_direct(http, backend))
            for name, url in assistants.items():
                relayed[name].append(await read_relayed(http, url))
    assert all(r[2] == STREAM_TOKENS for runs in [direct, *relayed.values()] for r in runs)
    results = {
        "samples": len(direct),
        "direct_ttft_ms": statistics.median(r[0] for r in direct) * 1000,
        "direct_tokens_per_s": statistics.median(r[1] for r in direct),
    }
    for name, runs in relayed.items():
        prefix = "" if name == "this" else f"{name}_"
        results[f"{prefix}relayed_ttft_ms"] = statistics.median(r[0] for r in runs) * 1000
        results[f"{prefix}added_ttft_ms"] = (
            statistics.median(b[0] - a[0] for a, b in zip(direct, runs, strict=True)) * 1000
        )
        results[f"{prefix}relayed_tokens_per_s"] = statistics.median(r[1] for r in runs)
    return results


async def concurrent_streams(assistant: str) -> dict[str, float]:
    async with httpx.AsyncClient(
        timeout=120, trust_env=False, limits=httpx.Limits(max_connections=CONCURRENT)
    ) as http:
        start = time.perf_counter()
        results = await asyncio.gather(
            *(read_relayed(http, assistant) for _ in range(CONCURRENT)), return_exceptions=True
        )
        elapsed = time.perf_counter() - start
    errors = [r for r in results if isinstance(r, BaseException)]
    tokens = sum(r[2] for r in results if not isinstance(r, BaseException))
    return {
        "errors": len(errors),
        "tokens": tokens,
        "aggregate_tokens_per_s": tokens / elapsed,
        "complete": tokens == CONCURRENT * CONCURRENT_TOKENS,
    }


def wrk_rps(url: str) -> float | None:
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(
        ["wrk", "-t2", "-c32", "-d5s", url], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def health_rps(assistant: str) -> dict[str, float | None]:
    port = free_port()
    app_dir = Path(tempfile.mkdtemp(prefix="elite-bench-bare-"))
    (app_dir / "bare_app.py").write_text(BARE_APP)
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bare_app:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--app-dir",
        str(app_dir),
    ]
    try:
        with process(argv, f"http://127.0.0.1:{port}/health"):
            bare = wrk_rps(f"http://127.0.0.1:{port}/health")
        ours = wrk_rps(f"{assistant}/health")
    finally:
        shutil.rmtree(app_dir, ignore_errors=True)
    return {"health_rps": ours, "bare_fastapi_rps": bare}


def main() -> int:
    results: dict[str, object] = {"rounds": ROUNDS}
    before = os.environ.get("BENCH_SERVER_BEFORE")
    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(double(STREAM_TOKENS))
        assistants = {"this": stack.enter_context(server(backend))}
        if before:
            assistants["before"] = stack.enter_context(server(backend, Path(before)))
        results.update(asyncio.run(relay_vs_direct(backend, assistants)))
        results.update(health_rps(assistants["this"]))
    with double(CONCURRENT_TOKENS) as backend, server(backend) as assistant:
        results.update(asyncio.run(concurrent_streams(assistant)))
    r = results
    added = float(r["added_ttft_ms"])  # type: ignore[arg-type]
    ratio = float(r["relayed_tokens_per_s"]) / float(r["direct_tokens_per_s"])  # type: ignore[arg-type]
    lines = [
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        f"medians of {r['samples']} streams of {STREAM_TOKENS} tokens, direct and relayed "
        "interleaved",
        f"one stream, direct from the double:   {r['direct_tokens_per_s']:,.0f} tok/s, "
        f"first token {r['direct_ttft_ms']:.1f} ms",
        f"one stream, relayed by the server:    {r['relayed_tokens_per_s']:,.0f} tok/s, "
        f"first token {r['relayed_ttft_ms']:.1f} ms",
        f"relay / direct rate: {ratio:.2f} (aim >= 0.5); added first-token time (median of "
        f"pairwise differences): {added:+.1f} ms (aim <= 10 ms)",
        f"{CONCURRENT} concurrent streams x {CONCURRENT_TOKENS} tokens: {r['errors']} errors, "
        f"all tokens arrived: {r['complete']}, aggregate {r['aggregate_tokens_per_s']:,.0f} tok/s",
        f"/health with wrk (2 threads, 32 connections, 5 s): {r['health_rps']} req/s "
        f"(bare FastAPI app under the same uvicorn: {r['bare_fastapi_rps']} req/s)",
    ]
    if before:
        before_ratio = float(r["before_relayed_tokens_per_s"]) / float(r["direct_tokens_per_s"])  # type: ignore[arg-type]
        lines.insert(
            4,
            f"the version in {before}, same loop: {r['before_relayed_tokens_per_s']:,.0f} tok/s "
            f"(relay / direct {before_ratio:.2f}), added first-token time "
            f"{float(r['before_added_ttft_ms']):+.1f} ms",  # type: ignore[arg-type]
        )
    sys.stdout.write("\n".join(lines) + "\n")
    save_results("server", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
