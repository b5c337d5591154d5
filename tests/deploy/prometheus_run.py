"""A real Prometheus on loopback with the shipped configuration and rules, its targets ours
(the server, the GPU exporter); optionally with history written into its database first
(``promtool tsdb create-blocks-from openmetrics``), as a server running for a day has."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import wait_for
from tests.fakes.ollama_double import free_port

MONITORING = Path(__file__).resolve().parents[2] / "packaging" / "monitoring"


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def quietly(prometheus: str, promql: str) -> list[dict[str, Any]]:
    try:
        return query(prometheus, promql)
    except httpx.HTTPError:
        return []


@contextmanager
def running_prometheus(
    binary: str,
    tmp: Path,
    server: str,
    exporter: str,
    history: str = "",
    rules: Callable[[dict[str, Any]], None] | None = None,
    alertmanager: str = "",
) -> Iterator[str]:
    """Prometheus scraping ``server`` and ``exporter`` (host:port) every second; yields
    its URL once both are scraped. ``history``: OpenMetrics text written into its database
    first; ``rules``: changes the alert rules' copy (a shorter ``for:``); ``alertmanager``:
    where its alerts go (host:port; none without it)."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    if alertmanager:
        config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    else:
        del config["alerting"]
    config["scrape_configs"][0]["static_configs"] = [{"targets": [server]}]
    config["scrape_configs"][0]["scrape_interval"] = "1s"
    config["scrape_configs"][1]["static_configs"] = [{"targets": [exporter]}]
    shutil.copy(MONITORING / "recording_rules.yml", tmp)
    alert_rules = yaml.safe_load((MONITORING / "alert_rules.yml").read_text())
    if rules is not None:
        rules(alert_rules)
    (tmp / "alert_rules.yml").write_text(yaml.safe_dump(alert_rules))
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    tsdb = tmp / "tsdb"
    if history:
        (tmp / "history.om").write_text(history)
        promtool = str(Path(binary).with_name("promtool"))
        made = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", tmp / "history.om", tsdb],
            capture_output=True,
            text=True,
        )
        assert made.returncode == 0, made.stderr
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tsdb}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "prometheus.log").open("wb"),
    )
    prometheus = f"http://127.0.0.1:{port}"
    try:
        up = 'up{job=~"elite-coding-assistant|elite-gpu-host"} == 1'
        wait_for(lambda: len(quietly(prometheus, up)) == 2, 60, "both targets scraped")
        yield prometheus
    finally:
        proc.terminate()
        proc.wait(timeout=20)
