"""The GPU-host exporter's scrape cost, beside a baseline measured in the same run.

Run: ``python -m tests.benchmarks.bench_exporter``. The exporter serves the latest sample
of this machine (GPUs from the NVML double, recorded on a real GPU); the baseline is the
same HTTP server of prometheus_client with an empty registry. Figures: median and p95 of
200 scrapes each over one kept-alive connection; aim: a scrape at most 5 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import httpx
from prometheus_client import CollectorRegistry, start_http_server

from elite_panel.monitor import exporter
from tests.benchmarks import save_results
from tests.deploy.test_monitoring import a_sample
from tests.fakes.ollama_double import free_port

SCRAPES = 200


def scrape_times(url: str) -> list[float]:
    with httpx.Client() as client:
        client.get(url)  # connect once
        times = []
        for _ in range(SCRAPES):
            started = time.perf_counter()
            client.get(url).raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def measured(start: Callable[[int], object]) -> dict[str, float]:
    port = free_port()
    server = start(port)
    try:
        times = scrape_times(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    return {
        "median_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(statistics.quantiles(times, n=20)[-1] * 1000, 2),
    }


def main() -> int:
    sample = a_sample()
    results = {
        "exporter": measured(lambda port: exporter.serve(f"127.0.0.1:{port}", lambda: sample)),
        "empty_registry": measured(
            lambda port: start_http_server(port, "127.0.0.1", CollectorRegistry())[0]
        ),
        "gpus": len(sample.gpus),
    }
    save_results("exporter", results)
    e, b = results["exporter"], results["empty_registry"]
    sys.stdout.write(
        f"Exporter scrape ({results['gpus']} GPUs): median {e['median_ms']} ms, p95 "
        f"{e['p95_ms']} ms (aim <= 5 ms); empty registry, same server: median "
        f"{b['median_ms']} ms, p95 {b['p95_ms']} ms\n"
    )
    return 0 if e["p95_ms"] <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
