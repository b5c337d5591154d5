"""Figures of the runner pool and of replicas behind nginx, each beside a baseline measured
in the same run.

Run: ``python -m tests.benchmarks.bench_cluster`` (the nginx part needs nginx, and
``ELITE_TEST_POSTGRES_URL``/``ELITE_TEST_REDIS_URL`` as the tests do; without them it is
left out and says so).

- Routing: three Ollama doubles of different speeds (5, 10 and 20 ms a token), each in its
  own process and generating two answers at once while the others wait (as
  ``OLLAMA_NUM_PARALLEL=2``). A steady mixed load (Poisson arrivals, 70 % autocompletes of
  8 tokens, 30 % chats of 48) is sent through the pool three times, the same arrivals each
  time: with our routing, with random choice among the runners that have the model (Open
  WebUI's) and with round-robin. Figures: p95 time to first token, and each runner's mean
  requests in flight against the fair share (the mean total over three). Aims: p95 at most
  0.7x random's; no runner above 1.3x its fair share.
- A runner killed under that load (our routing, default health policy): the time from its
  death to the last request sent to it, and how many requests failed before a token (aim:
  none; those are retried elsewhere).
- Requests/s of short chats (wrk, 32 connections) straight to one replica, through nginx to
  one replica, and through nginx to three, on the test PostgreSQL and Redis.
- The first token through the Compose deployment's nginx (TLS, ``proxy_buffering on`` for
  ``/api/``) against the same server directly: medians of 40 answers each, alternating, over
  kept-alive connections (aim: at most 5 ms more).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from embedded_server.backends.base import BackendError
from embedded_server.backends.ollama_backend import OllamaBackend
from embedded_server.backends.pool import HealthPolicy, Pick, Runner, RunnerPool, least_busy
from embedded_server.metrics import ServerMetrics
from tests.benchmarks import save_results
from tests.cluster.topology import TOKEN, Process, ollama_runner, running_cluster

SPEEDS = {"fast": 0.005, "medium": 0.01, "slow": 0.02}  # seconds a token
SLOTS = 2
RATE = float(os.environ.get("BENCH_CLUSTER_RATE", "12"))  # requests/s
SECONDS = float(os.environ.get("BENCH_CLUSTER_SECONDS", "15"))
MIX = ((0.7, 8), (0.3, 48))  # (share, tokens): autocompletes and chats
MESSAGES = [{"role": "user", "content": "complete this"}]


@contextmanager
def doubles(tmp: Path) -> Iterator[list[Process]]:
    runners = []
    with ExitStack() as stack:
        for name, delay in SPEEDS.items():
            runner = ollama_runner(tmp, name, words=48, delay_s=delay)
            runner.env["ELITE_DOUBLE_SLOTS"] = str(SLOTS)
            runner.start()
            stack.callback(runner.stop)
            runners.append(runner)
        for runner in runners:
            runner.wait_ready()
        yield runners


def arrivals(seed: int = 7) -> list[tuple[float, int]]:
    """(start offset in s, tokens) of each request: Poisson arrivals, the mixed sizes."""
    rng = random.Random(seed)
    at, plan = 0.0, []
    while at < SECONDS:
        at += rng.expovariate(RATE)
        tokens = MIX[0][1] if rng.random() < MIX[0][0] else MIX[1][1]
        plan.append((at, tokens))
    return plan


def round_robin() -> Pick:
    turn = itertools.count()

    def pick(runners: Sequence[Runner]) -> Runner:
        return runners[next(turn) % len(runners)]

    return pick


def at_random(runners: Sequence[Runner]) -> Runner:
    return random.choice(runners)


def make_pool(processes: list[Process], pick: Pick) -> RunnerPool:
    runners = [Runner(p.name, p.url, OllamaBackend(p.url)) for p in processes]
    return RunnerPool(runners, ServerMetrics(), HealthPolicy(), pick)


async def one(pool: RunnerPool, tokens: int) -> tuple[float | None, bool]:
    """One answer: its time to first token (None if it failed before one), finished?"""
    started = time.perf_counter()
    first: float | None = None
    try:
        stream = pool.chat_stream("llama3.2", MESSAGES, {"num_predict": tokens})
        async for chunk in stream:
            if first is None and chunk.content:
                first = time.perf_counter() - started
        return first, True
    except BackendError:
        return first, False


async def load(
    pool: RunnerPool, during: Callable[[], Any] | None = None
) -> tuple[list[tuple[float | None, bool]], dict[str, float]]:
    """The arrival plan through ``pool``; each runner's mean in flight (sampled)."""
    await pool.check()  # its models known, as after the server's first check
    samples: dict[str, list[int]] = {r.name: [] for r in pool.runners}
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            for runner in pool.runners:
                samples[runner.name].append(runner.in_flight)
            await asyncio.sleep(0.02)

    async def send(offset: float, tokens: int, origin: float) -> tuple[float | None, bool]:
        await asyncio.sleep(max(0.0, origin + offset - time.perf_counter()))
        return await one(pool, tokens)

    sampler = asyncio.create_task(sample())
    origin = time.perf_counter()
    side = asyncio.create_task(during()) if during else None
    results = await asyncio.gather(*(send(o, t, origin) for o, t in arrivals()))
    stop.set()
    await sampler
    if side:
        await side
    return results, {name: statistics.fmean(values) for name, values in samples.items()}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def routing(processes: list[Process]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label, pick in (
        ("ours", least_busy),
        ("random", at_random),
        ("round_robin", round_robin()),
    ):
        random.seed(11)  # random's choices, and our ties, the same in every run
        pool = make_pool(processes, pick)
        try:
            results, in_flight = await load(pool)
        finally:
            await pool.aclose()
        ttfts = [t for t, _ in results if t is not None]
        fair = sum(in_flight.values()) / len(in_flight)
        figures[label] = {
            "requests": len(results),
            "failed": sum(1 for _, ok in results if not ok),
            "ttft_p50_ms": round(statistics.median(ttfts) * 1000, 1),
            "ttft_p95_ms": round(p95(ttfts) * 1000, 1),
            "in_flight": {k: round(v, 2) for k, v in in_flight.items()},
            "max_share": round(max(in_flight.values()) / fair, 2) if fair else None,
        }
    figures["p95_vs_random"] = round(
        figures["ours"]["ttft_p95_ms"] / figures["random"]["ttft_p95_ms"], 2
    )
    return figures


async def runner_death(processes: list[Process]) -> dict[str, Any]:
    """Kill the fastest runner a third of the way in; when was the last request sent to it?"""
    sent: list[tuple[float, str]] = []

    def recording(runners: Sequence[Runner]) -> Runner:
        chosen = least_busy(runners)
        sent.append((time.monotonic(), chosen.name))
        return chosen

    victim = processes[0]
    killed: list[float] = []

    async def kill() -> None:
        await asyncio.sleep(SECONDS / 3)
        victim.kill()
        killed.append(time.monotonic())

    pool = make_pool(processes, recording)
    try:
        results, _ = await load(pool, kill)
    finally:
        await pool.aclose()
    to_victim = [at - killed[0] for at, name in sent if name == victim.name]
    return {
        # negative: the last one was sent before it died
        "last_request_after_death_ms": round(max(to_victim) * 1000, 1),
        "sent_after_death": sum(1 for at in to_victim if at > 0),
        "failed_before_a_token": sum(1 for t, ok in results if not ok and t is None),
        "failed_mid_answer": sum(1 for t, ok in results if not ok and t is not None),
        "requests": len(results),
    }


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def wrk_rps(url: str, script: Path) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", "-d8s", "-s", str(script), f"{url}/api/chat"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = [line for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    if errors:
        raise RuntimeError(f"wrk saw errors: {errors}")
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[1])


def through_nginx(tmp: Path) -> dict[str, Any] | str:
    from tests.server.conftest import postgres_database

    postgres, redis_url = (
        os.environ.get("ELITE_TEST_POSTGRES_URL"),
        os.environ.get("ELITE_TEST_REDIS_URL"),
    )
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not (postgres and redis_url and nginx and shutil.which("wrk")):
        return "left out: needs nginx, wrk, ELITE_TEST_POSTGRES_URL and ELITE_TEST_REDIS_URL"
    script = tmp / "chat.lua"
    script.write_text(WRK_SCRIPT % TOKEN)
    redis_url = redis_url.rsplit("/", 1)[0] + "/4"
    figures: dict[str, Any] = {}
    for replicas in (1, 3):
        where = tmp / f"replicas-{replicas}"
        where.mkdir()
        runner = ollama_runner(where, "runner", words=5, delay_s=0)
        with (
            postgres_database(postgres) as database_url,
            running_cluster(where, [runner], database_url, redis_url, replicas) as cluster,
        ):
            if replicas == 1:
                figures["direct_1_replica_rps"] = wrk_rps(cluster.replicas[0].url, script)
            figures[f"nginx_{replicas}_replicas_rps"] = wrk_rps(cluster.url, script)
    figures["cpus"] = os.cpu_count()
    return figures


def first_token_through_compose_nginx(tmp: Path) -> dict[str, Any] | str:
    from embedded_server.app import create_app
    from embedded_server.config import Settings
    from tests.deploy.compose_nginx import compose_nginx
    from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()) or not shutil.which(
        "openssl"
    ):
        return "left out: needs nginx and openssl"
    import httpx

    double = OllamaDouble()
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def first_token(client: httpx.Client, url: str) -> float:
        started = time.perf_counter()
        elapsed = 0.0
        with client.stream("POST", f"{url}/api/chat", json=body, headers=headers) as response:
            for line in response.iter_lines():  # read to the end: the connection is reused
                if not elapsed and '"token"' in line:
                    elapsed = time.perf_counter() - started
        return elapsed

    for runner in serve_in_thread(build_app(double)):
        double.url = runner
        settings = Settings(
            api_token=TOKEN, backend_url=runner, data_dir=tmp / "srv", rate_limit="off"
        )
        for server in serve_in_thread(create_app(settings)):
            with (
                compose_nginx(tmp / "nginx", server) as proxied,
                httpx.Client(verify=False, timeout=30) as client,
            ):
                direct, through = [], []
                first_token(client, server), first_token(client, proxied)  # connect, warm
                for _ in range(40):
                    direct.append(first_token(client, server))
                    through.append(first_token(client, proxied))
    d, t = statistics.median(direct) * 1000, statistics.median(through) * 1000
    return {"direct_ms": round(d, 2), "nginx_ms": round(t, 2), "added_ms": round(t - d, 2)}


def main() -> int:
    results: dict[str, Any] = {"rate_rps": RATE, "seconds": SECONDS}
    with tempfile.TemporaryDirectory() as tmp, doubles(Path(tmp)) as processes:
        results["routing"] = asyncio.run(routing(processes))
        results["death"] = asyncio.run(runner_death(processes))
    with tempfile.TemporaryDirectory() as tmp:
        results["nginx"] = through_nginx(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        results["first_token_nginx"] = first_token_through_compose_nginx(Path(tmp))
    save_results("cluster", results)
    r, d, n = results["routing"], results["death"], results["nginx"]
    lines = [
        f"Pool of 3 runners (5/10/20 ms a token, 2 slots each), {RATE:g} req/s, {SECONDS:g} s:"
    ]
    for label in ("ours", "random", "round_robin"):
        f = r[label]
        lines.append(
            f"  {label:12} TTFT p50 {f['ttft_p50_ms']:7.1f} ms  p95 {f['ttft_p95_ms']:7.1f} ms  "
            f"in flight {f['in_flight']}  max/fair {f['max_share']}  failed {f['failed']}"
        )
    lines.append(
        f"  p95 ours/random: {r['p95_vs_random']} (aim <= 0.7); "
        f"max/fair ours: {r['ours']['max_share']} (aim <= 1.3)"
    )
    lines.append(
        f"Runner killed under load: last request sent to it {d['last_request_after_death_ms']} ms "
        f"after its death ({d['sent_after_death']} sent after it); "
        f"failed before a token {d['failed_before_a_token']} (aim 0), "
        f"mid-answer {d['failed_mid_answer']} of {d['requests']}"
    )
    if isinstance(n, str):
        lines.append(f"Through nginx: {n}")
    else:
        lines.append(
            f"Short chats (wrk, 32 connections) on {n['cpus']} CPUs: straight to 1 replica "
            f"{n['direct_1_replica_rps']} req/s, nginx to 1 replica {n['nginx_1_replicas_rps']}, "
            f"nginx to 3 replicas {n['nginx_3_replicas_rps']}"
        )
    f = results["first_token_nginx"]
    lines.append(
        f"First token through the Compose nginx: {f}"
        if isinstance(f, str)
        else f"First token: straight {f['direct_ms']} ms, through the Compose nginx (TLS, "
        f"buffered /api/) {f['nginx_ms']} ms: +{f['added_ms']} ms (aim <= 5)"
    )
    sys.stdout.write("\n".join(lines) + "\n")
    ok = r["p95_vs_random"] <= 0.7 and (r["ours"]["max_share"] or 0) <= 1.3
    return 0 if ok and d["failed_before_a_token"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
