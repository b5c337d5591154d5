"""A team's fair share, measured: the load test (``packaging/loadtest/locustfile.py``)
through nginx against three replicas on PostgreSQL and Redis and a pool of two Ollama
doubles (two slots each, 24 words an answer, 50 ms apart), without and then with one key
flooding at ten times its limits (ten requests a second against parallel 1 and 6,000
tokens a minute, about one answer a second), in the same run.

Run: ``python -m tests.benchmarks.bench_load`` with ``ELITE_TEST_POSTGRES_URL`` and
``ELITE_TEST_REDIS_URL`` (``bash packaging/bootstrap.sh bench`` starts both);
``BENCH_LOAD_S`` (60) seconds each, ``BENCH_LOAD_USERS`` (12) users of the team. Figures:
the p95 first token of the other keys' chat and fill-in-the-middle requests with and
without the flood (aim: raised by at most 20 %), the flooding key's 429 share, failures
(aim 0), and the replicas' memory before and after.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.benchmarks import save_results
from tests.cluster.topology import AUTH, Cluster, ollama_runner, running_cluster

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "packaging" / "loadtest" / "locustfile.py"
SECONDS = int(os.environ.get("BENCH_LOAD_S", "60"))
USERS = int(os.environ.get("BENCH_LOAD_USERS", "12"))


def run_load(
    cluster: Cluster, keys: dict[str, str], flood: bool, where: Path, seconds: int = SECONDS
) -> dict[str, Any]:
    """One Locust run; its figures."""
    report = where / ("flood" if flood else f"baseline-{seconds}")
    env = {**os.environ, "ELITE_LOAD_KEYS": json.dumps(keys), "ELITE_LOAD_FLOOD": str(int(flood))}
    users = USERS + (2 if flood else 0)  # the flood's users come on top of the team
    subprocess.run(
        [
            *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"),
            *("-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "15"),
            *("--host", cluster.url, "--csv", str(report), "--only-summary"),
        ],
        env=env,
        capture_output=True,
        timeout=seconds + 120,
    )
    with Path(f"{report}_stats.csv").open(newline="") as table:
        stats = {row["Name"]: row for row in csv.DictReader(table)}
    with Path(f"{report}_failures.csv").open(newline="") as table:
        failures = list(csv.DictReader(table))

    def p95(name: str) -> float:
        return float(stats[name]["95%"]) if name in stats else float("nan")

    def count(name: str) -> int:
        return int(stats[name]["Request Count"]) if name in stats else 0

    refused, flooded = count("refused"), count("flood first token")
    return {
        "chat_ttft_p95_ms": p95("chat first token"),
        "fim_ttft_p95_ms": p95("fim first token"),
        "chat_answers": count("chat first token"),
        "fim_answers": count("fim first token"),
        "flood_refused_share": refused / (refused + flooded) if refused + flooded else None,
        "failures": sum(int(f["Occurrences"]) for f in failures),
    }


def replicas_rss_mb(cluster: Cluster) -> list[float]:
    sizes = []
    for replica in cluster.replicas:
        assert replica.proc is not None
        sizes.append(round(psutil.Process(replica.proc.pid).memory_info().rss / 2**20, 1))
    return sizes


def measure(where: Path, database_url: str, redis_url: str) -> dict[str, Any]:
    runners = [
        ollama_runner(where, "ollama-a", words=24, delay_s=0.05),
        ollama_runner(where, "ollama-b", words=24, delay_s=0.05),
    ]
    with running_cluster(
        where, runners, database_url, redis_url, ASSISTANT_RUNNER_SLOTS="2"
    ) as cluster:
        keys = {}
        for kind, limits in (
            ("chat", {}),
            ("editor", {}),
            ("flood", {"parallel": 1, "tpm": 6000}),  # about one answer a second
        ):
            created = httpx.post(
                f"{cluster.url}/api/keys", json={"name": f"bench-{kind}", **limits}, headers=AUTH
            )
            keys[kind] = created.json()["key"]
        run_load(cluster, keys, False, where, seconds=15)  # warm: connections, caches
        before = replicas_rss_mb(cluster)
        baseline = run_load(cluster, keys, False, where)
        flooded = run_load(cluster, keys, True, where)
        after = replicas_rss_mb(cluster)
    return {"baseline": baseline, "flood": flooded, "rss_mb": {"before": before, "after": after}}


def main() -> int:
    from tests.server.conftest import postgres_database

    postgres, redis_url = (
        os.environ.get("ELITE_TEST_POSTGRES_URL"),
        os.environ.get("ELITE_TEST_REDIS_URL"),
    )
    if not (postgres and redis_url and (shutil.which("nginx") or Path("/usr/sbin/nginx").exists())):
        sys.stderr.write("needs ELITE_TEST_POSTGRES_URL, ELITE_TEST_REDIS_URL and nginx\n")
        return 2
    redis_url = redis_url.rsplit("/", 1)[0] + "/6"  # its own database of the test Redis
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with tempfile.TemporaryDirectory() as tmp, postgres_database(postgres) as database_url:
        results = measure(Path(tmp), database_url, redis_url)
    results.update(seconds=SECONDS, users=USERS)
    save_results("load", results)
    b, f, rss = results["baseline"], results["flood"], results["rss_mb"]
    sys.stdout.write(
        f"{USERS} team users, {SECONDS} s each run, through nginx to 3 replicas:\n"
        f"  p95 first token, chat: {b['chat_ttft_p95_ms']:.0f} ms alone, "
        f"{f['chat_ttft_p95_ms']:.0f} ms with the flood "
        f"({f['chat_ttft_p95_ms'] / b['chat_ttft_p95_ms']:.2f}x; aim <= 1.2x)\n"
        f"  p95 first token, fill-in-the-middle: {b['fim_ttft_p95_ms']:.0f} ms alone, "
        f"{f['fim_ttft_p95_ms']:.0f} ms with the flood "
        f"({f['fim_ttft_p95_ms'] / b['fim_ttft_p95_ms']:.2f}x)\n"
        f"  answers (alone / with the flood): chat {b['chat_answers']} / {f['chat_answers']}, "
        f"fim {b['fim_answers']} / {f['fim_answers']}; "
        f"the flood refused {f['flood_refused_share']:.1%} of the time; "
        f"failures {b['failures']} / {f['failures']} (aim 0)\n"
        f"  replicas' memory: {rss['before']} MB before, {rss['after']} MB after\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
