"""Host, process-tree and server-metrics sampling against the real machine and a real
``ServerMetrics`` registry."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from elite_panel.monitor.host import HostSampler
from elite_panel.monitor.server_metrics import ServerMetricsReader
from elite_panel.monitor.services import ServiceSampler
from embedded_server.metrics import ServerMetrics
from tests.conftest import wait_for

# A parent that starts a busy child, then waits: a two-process "service".
TREE = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
    "print(child.pid, flush=True)\n"
    "child.wait()\n"
)


@pytest.fixture
def tree() -> Iterator[tuple[int, int]]:
    proc = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    try:
        yield proc.pid, child
    finally:
        for pid in (child, proc.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        proc.wait(timeout=10)


def test_service_tree_is_summed(tree: tuple[int, int]) -> None:
    root, child = tree
    sampler = ServiceSampler()
    first = sampler.sample([("runner", root)])
    assert first[0].cpu_percent == 0.0  # primed: psutil's first reading means nothing

    def busy() -> float:
        (sample,) = sampler.sample([("runner", root)])
        return sample.cpu_percent if sample.cpu_percent > 20 else 0.0

    wait_for(busy, 10, "the busy child's CPU to show")
    (sample,) = sampler.sample([("runner", root)])
    assert set(sample.pids) == {root, child}
    assert sample.rss_bytes > 2 * 5_000_000  # two Python interpreters
    assert sample.threads >= 2 and sample.open_files >= 3


def test_a_vanished_service_is_left_out(tree: tuple[int, int]) -> None:
    root, child = tree
    sampler = ServiceSampler()
    sampler.sample([("runner", root)])
    for pid in (child, root):
        psutil.Process(pid).kill()
    wait_for(lambda: not psutil.pid_exists(child), 10, "the child to exit")
    wait_for(lambda: not sampler.sample([("runner", root)]), 10, "the vanished root to be dropped")


def test_host_rates_come_from_the_second_sample(tmp_path: Path) -> None:
    sampler = HostSampler(tmp_path / "not-created-yet")
    first = sampler.sample()
    assert len(first.cpu_per_core) == psutil.cpu_count()
    assert 0 <= first.cpu_percent <= 100 and 0 < first.memory_percent <= 100
    assert first.disk_total_bytes > first.disk_used_bytes > 0
    second = sampler.sample()
    assert second.net_recv_bytes_per_s is not None and second.net_recv_bytes_per_s >= 0
    assert second.memory_total_bytes == psutil.virtual_memory().total


def _observe(metrics: ServerMetrics, endpoint: str, seconds: float, times: int) -> None:
    for _ in range(times):
        metrics.requests.labels("POST", endpoint, "200").inc()
        metrics.duration.labels("POST", endpoint).observe(seconds)


def test_server_rates_between_scrapes() -> None:
    metrics = ServerMetrics()
    reader = ServerMetricsReader()
    metrics.backend_up.set(1)
    first = reader.update(metrics.render().decode(), now=100.0)
    assert first.requests_per_s is None and first.backend_up is True
    _observe(metrics, "/api/chat", 0.02, 95)
    _observe(metrics, "/api/chat", 3.0, 5)
    _observe(metrics, "/metrics", 9.0, 50)  # the panel's own scrapes: ignored
    metrics.tokens.labels("llama3.2").inc(300)
    metrics.ttft.observe(0.1)
    metrics.ttft.observe(0.3)
    metrics.active_streams.inc()
    second = reader.update(metrics.render().decode(), now=102.0)
    assert second.requests_per_s == pytest.approx(50.0)  # 100 requests in 2 s
    assert second.tokens_per_s == pytest.approx(150.0)
    assert second.time_to_first_token_s == pytest.approx(0.2)
    assert second.active_streams == 1
    # 95 of 100 requests took 20 ms: the 95th falls at the top of the 25 ms bucket
    assert second.latency_p95_s == pytest.approx(0.025)
    _observe(metrics, "/api/chat", 3.0, 10)
    slow = reader.update(metrics.render().decode(), now=103.0)
    assert slow.latency_p95_s is not None and 2.5 < slow.latency_p95_s <= 5.0
    quiet = reader.update(metrics.render().decode(), now=104.0)
    assert quiet.requests_per_s == 0 and quiet.latency_p95_s is None


def test_a_restarted_server_skips_one_rate() -> None:
    reader = ServerMetricsReader()
    before = ServerMetrics()
    _observe(before, "/api/chat", 0.01, 10)
    reader.update(before.render().decode(), now=1.0)
    after = ServerMetrics()  # counters back at zero
    assert reader.update(after.render().decode(), now=2.0).requests_per_s is None
    _observe(after, "/api/chat", 0.01, 4)
    assert reader.update(after.render().decode(), now=3.0).requests_per_s == pytest.approx(4.0)
