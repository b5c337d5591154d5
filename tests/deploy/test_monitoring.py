"""Prometheus's configuration, rules and their unit tests (promtool), the Grafana
dashboard's queries, and a real Prometheus scraping the server and the GPU-host exporter.

Needs Debian's ``prometheus`` package (promtool and the server); CI installs it. Without
it these tests skip, unless ``ELITE_REQUIRE_SERVICES=1`` makes that a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from elite_panel.monitor import exporter
from elite_panel.monitor.collector import Collector
from elite_panel.monitor.nvml import GpuReader
from elite_panel.monitor.sample import Sample
from embedded_server.metrics import ServerMetrics
from tests.conftest import Home, wait_for
from tests.deploy.prometheus_run import MONITORING, query, quietly, running_prometheus
from tests.fakes.nvml_double import ReplayNvml
from tests.fakes.ollama_double import free_port

# PromQL's own words: functions, aggregations, keywords (what is not a metric name).
PROMQL = {
    "sum", "min", "max", "avg", "count", "by", "without", "rate", "irate", "increase",
    "histogram_quantile", "and", "or", "unless", "on", "ignoring", "group_left", "offset",
}  # fmt: skip


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found:
        return found
    if os.environ.get("ELITE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"ELITE_REQUIRE_SERVICES=1 but {tool} is not installed (Debian's prometheus)")
    pytest.skip(f"{tool} is not installed (apt-get install prometheus)")


def a_sample() -> Sample:
    """One sample of this machine, with the GPUs of the NVML double (recorded on a real GPU)."""

    async def take() -> Sample:
        collector = Collector(Path.home(), gpu=GpuReader(ReplayNvml()))
        try:
            return await collector.sample()
        finally:
            await collector.aclose()

    return asyncio.run(take())


def exported_names() -> set[str]:
    """Every series name the server and the exporter export, and the recording rules."""
    names = {"up"}
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    for family in ServerMetrics().registry.collect():  # labelled ones have no samples yet
        names |= {family.name + end for end in suffixes.get(family.type, [""])}
    for family in exporter.families(a_sample(), "host"):
        names.add(family.name)
    recording = yaml.safe_load((MONITORING / "recording_rules.yml").read_text())
    names |= {rule["record"] for group in recording["groups"] for rule in group["rules"]}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # label lists
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
    return words - PROMQL


def test_prometheus_configuration_and_rules_pass_promtool() -> None:
    promtool = need("promtool")
    for args in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alert_rules.yml", "recording_rules.yml"],
        ["test", "rules", "alert_rules_test.yml"],
    ):
        done = subprocess.run([promtool, *args], cwd=MONITORING, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    rules = yaml.safe_load((MONITORING / "alert_rules.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((MONITORING / "alert_rules_test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    firing = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert alerts == firing == quiet
    # the deployment guide's names, the same as the panel's own alerts
    assert {"HighCPUUsage", "HighMemoryUsage", "ApplicationDown", "HighResponseTime"} <= alerts


def test_every_query_names_a_metric_we_export() -> None:
    known = exported_names()
    dashboard = json.loads((MONITORING / "grafana" / "elite-coding-assistant.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    rules = yaml.safe_load((MONITORING / "alert_rules.yml").read_text())
    recording = yaml.safe_load((MONITORING / "recording_rules.yml").read_text())
    exprs += [r["expr"] for doc in (rules, recording) for g in doc["groups"] for r in g["rules"]]
    unknown = {name for expr in exprs for name in metric_names(expr)} - known
    unknown = {n for n in unknown if not re.fullmatch(r"\d+(\.\d+)?|e", n)}
    assert not unknown, f"queries name series nobody exports: {sorted(unknown)}"
    assert metric_names("sum by (job) (rate(http_requests_total{status=~'5..'}[5m]))") == {
        "http_requests_total"
    }


def test_the_exporter_speaks_dcgm_and_the_guides_names() -> None:
    sample = a_sample()
    assert sample.gpus, "the NVML double has GPUs"
    families = {f.name: f for f in exporter.families(sample, "gpu-host-1")}
    gpu = sample.gpus[0]
    used = families["DCGM_FI_DEV_FB_USED"].samples[0]
    assert used.labels == {
        "gpu": "0",
        "UUID": gpu.uuid or "",
        "device": "nvidia0",
        "modelName": gpu.name,
        "Hostname": "gpu-host-1",
    }
    assert used.value == pytest.approx((gpu.memory_used_bytes or 0) / 2**20)  # MiB, as DCGM
    assert families["DCGM_FI_DEV_GPU_TEMP"].samples[0].value == gpu.temperature_c
    assert families["cpu_usage_percent"].samples[0].value == sample.host.cpu_percent
    with pytest.raises(ValueError, match="HOST:PORT"):
        exporter.parse_listen("9401")


def test_a_real_prometheus_scrapes_the_server_and_the_exporter(
    tmp_path: Path, server_url: str
) -> None:
    """The shipped rules loaded, the targets our own: the series come back through
    Prometheus's HTTP API, the GPU's from the NVML double."""
    binary = need("prometheus")
    sample = a_sample()
    listen = f"127.0.0.1:{free_port()}"
    metrics_server = exporter.serve(listen, lambda: sample)
    server_target = server_url.removeprefix("http://")
    try:
        with running_prometheus(binary, tmp_path, server_target, listen) as prometheus:
            temps = query(prometheus, "DCGM_FI_DEV_GPU_TEMP")
            assert temps and float(temps[0]["value"][1]) == sample.gpus[0].temperature_c
            assert temps[0]["metric"]["job"] == "elite-gpu-host"
            assert query(prometheus, "cpu_usage_percent")
            httpx.get(f"{server_url}/health")
            requests = 'http_requests_total{job="elite-coding-assistant", endpoint="/health"}'
            wait_for(lambda: quietly(prometheus, requests), 30, "the server's request counted")
            assert query(prometheus, "assistant_backend_up == 1")
            rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
            assert {g["name"] for g in rules} == {
                "elite-coding-assistant",
                "elite-coding-assistant-recording",
            }
    finally:
        metrics_server.shutdown()
        metrics_server.server_close()


def test_the_exporter_command_serves_until_stopped(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ELITE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "elite_panel", "exporter", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:

        def scraped() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return ""

        text = wait_for(lambda: "cpu_usage_percent" in scraped() and scraped(), 30, "metrics")
        assert "memory_usage_percent" in str(text)
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    assert f"127.0.0.1:{port}/metrics" in stderr
    taken = subprocess.run(
        [sys.executable, "-m", "elite_panel", "exporter", "--listen", "nonsense"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert taken.returncode != 0 and "HOST:PORT" in taken.stderr


@pytest.mark.model
def test_the_supervisor_serves_the_exporter_while_the_stack_is_up(home: Home) -> None:
    """The profile's switch: the supervisor serves its latest sample, services included."""
    port = free_port()
    switched = home.cli("config", "set", "dashboard.exporter_listen", f"127.0.0.1:{port}")
    assert switched.returncode == 0, switched.stderr
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    url = f"http://127.0.0.1:{port}/metrics"

    def scraped() -> str:
        try:
            return httpx.get(url, timeout=2).text
        except httpx.HTTPError:
            return ""

    try:
        wait_for(lambda: 'elite_service_up{service="assistant"} 1.0' in scraped(), 30, "services")
        assert 'elite_service_memory_bytes{service="runner"}' in scraped()
    finally:
        assert home.cli("stack", "down").returncode == 0
    wait_for(lambda: not scraped(), 30, "the exporter to stop with the supervisor")
