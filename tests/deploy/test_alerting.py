"""Alerts that reach someone: ``alertmanager.yml`` checked by ``amtool``, and a real
Prometheus's firing alert carried by a real Alertmanager to a webhook receiver here, GPU
alerts held back while their host is down (Debian's ``prometheus`` and
``prometheus-alertmanager``; CI installs both)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from elite_panel.monitor import exporter
from tests.conftest import answers, wait_for
from tests.deploy.prometheus_run import MONITORING, running_prometheus
from tests.deploy.test_monitoring import a_sample, need
from tests.fakes.ollama_double import free_port

CONFIG = MONITORING / "alertmanager.yml"


def routed_to(labels: str) -> str:
    done = subprocess.run(
        [need("amtool"), "config", "routes", "test", "--config.file", str(CONFIG), labels],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_configuration_passes_amtool_and_routes_every_severity() -> None:
    checked = subprocess.run(
        [need("amtool"), "check-config", str(CONFIG)], capture_output=True, text=True
    )
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout
    assert routed_to('severity="critical"') == "on-call-email,team-webhook"
    rules = yaml.safe_load((MONITORING / "alert_rules.yml").read_text())
    severities = {r["labels"]["severity"] for g in rules["groups"] for r in g["rules"]}
    assert severities == {"critical", "warning"}
    for severity in severities:  # every alert we ship reaches the team's channel
        assert "team-webhook" in routed_to(f'severity="{severity}"').split(","), severity


class Webhook:
    """A webhook receiver on loopback: the alerts of each notification it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.extend(json.loads(body)["alerts"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def firing(self) -> set[tuple[str, str]]:
        return {
            (a["labels"]["alertname"], a["labels"].get("instance", ""))
            for a in self.received
            if a["status"] == "firing"
        }


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, Webhook]]:
    """The shipped configuration in a real Alertmanager, its webhook ours and its waits
    one second (the shipped 30 s hold alerts that fire together)."""
    webhook = Webhook()
    config = yaml.safe_load(CONFIG.read_text())
    config["route"].update(group_wait="1s", group_interval="1s")
    config["receivers"][0]["webhook_configs"][0]["url"] = webhook.url
    config["global"]["smtp_smarthost"] = f"127.0.0.1:{free_port()}"  # nothing: mail fails
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port, cluster = free_port(), free_port()
    proc = subprocess.Popen(
        [
            need("prometheus-alertmanager"),
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--cluster.listen-address=127.0.0.1:{cluster}",  # (no peers: one instance)
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{url}/-/ready"), 30, "Alertmanager")
        yield url, webhook
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        webhook.server.shutdown()


def test_a_firing_alert_reaches_the_webhook_through_alertmanager(
    tmp_path: Path, server_url: str, alertmanager: tuple[str, Webhook]
) -> None:
    """The shipped rules in a real Prometheus, one of them made to fire at once (the CPU
    above 0 %): Prometheus sends it to Alertmanager, which routes a warning to the webhook."""
    url, webhook = alertmanager
    sample = a_sample()
    listen = f"127.0.0.1:{free_port()}"
    metrics_server = exporter.serve(listen, lambda: sample)

    def fire_at_once(rules: dict[str, Any]) -> None:
        cpu = next(r for r in rules["groups"][0]["rules"] if r["alert"] == "HighCPUUsage")
        cpu.update(expr="cpu_usage_percent >= 0", **{"for": "0s"})

    prometheus_dir = tmp_path / "prometheus"
    prometheus_dir.mkdir()
    try:
        with running_prometheus(
            need("prometheus"),
            prometheus_dir,
            server_url.removeprefix("http://"),
            listen,
            rules=fire_at_once,
            alertmanager=url.removeprefix("http://"),
        ):
            wait_for(lambda: ("HighCPUUsage", listen) in webhook.firing(), 60, "the webhook")
    finally:
        metrics_server.shutdown()
        metrics_server.server_close()
    alert = next(a for a in webhook.received if a["labels"]["alertname"] == "HighCPUUsage")
    assert alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["summary"] == f"High CPU usage on {listen}"


def test_gpu_alerts_are_held_back_while_their_host_is_down(
    alertmanager: tuple[str, Webhook],
) -> None:
    url, webhook = alertmanager
    now = datetime.now(UTC)

    def alert(name: str, instance: str, severity: str) -> dict[str, Any]:
        labels = {"alertname": name, "instance": instance, "severity": severity}
        return {
            "labels": labels,
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=5)).isoformat(),
        }

    sent = [
        alert("GpuHostDown", "gpu-1:9401", "critical"),
        alert("GpuTemperatureHigh", "gpu-1:9401", "warning"),  # the host is down: held
        alert("GpuTemperatureHigh", "gpu-2:9401", "warning"),  # another host: sent
    ]
    httpx.post(f"{url}/api/v2/alerts", json=sent, timeout=5).raise_for_status()
    wanted = {("GpuHostDown", "gpu-1:9401"), ("GpuTemperatureHigh", "gpu-2:9401")}
    wait_for(lambda: wanted <= webhook.firing(), 30, "the webhook")
    alerts = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
    held = next(
        a
        for a in alerts
        if a["labels"]["instance"] == "gpu-1:9401"
        and a["labels"]["alertname"] == "GpuTemperatureHigh"
    )
    assert held["status"]["state"] == "suppressed" and held["status"]["inhibitedBy"]
    assert ("GpuTemperatureHigh", "gpu-1:9401") not in webhook.firing()
