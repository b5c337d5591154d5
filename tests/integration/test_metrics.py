"""Sampling end to end: the supervisor samples the running stack (the fake ``ollama serve``
runner and the real assistant server) and streams its history and live samples; the
``elite-panel metrics`` command prints the same figures."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from typing import Any

import pytest

from elite_panel.core.paths import AppPaths
from elite_panel.stack.control import ControlClient
from tests.conftest import Home
from tests.integration.test_runner_kinds import use_fake_ollama

pytestmark = pytest.mark.slow


async def follow(paths: AppPaths, samples: int) -> tuple[list[dict[str, Any]], list[Any]]:
    history: list[dict[str, Any]] = []
    live: list[dict[str, Any]] = []
    async for message in ControlClient(paths).stream("metrics"):
        if "history" in message:
            history.append(message)
        elif "sample" in message:
            live.append(message)
            if len(live) == samples:
                break
    return history, live


def test_supervisor_samples_the_stack_and_streams_it(home: Home) -> None:
    use_fake_ollama(home, "ollama")
    home.env["ELITE_DASHBOARD__SAMPLE_INTERVAL_S"] = "0.5"
    up = home.cli("stack", "up")
    assert up.returncode == 0, up.stderr
    assert home.cli("chat", "--model", "llama3.2", "hello").returncode == 0
    paths = AppPaths.from_env(home.env)
    history, live = asyncio.run(asyncio.wait_for(follow(paths, 3), 30))
    assert {m["history"] for m in history} == {"fine", "coarse"}
    fine_times = next(m["times"] for m in history if m["history"] == "fine" and "times" in m)
    assert fine_times, "the supervisor sampled before anyone asked"
    sample = live[-1]["sample"]
    services = {s["name"]: s for s in sample["services"]}
    assert set(services) == {"runner", "assistant"}
    assert services["assistant"]["rss_bytes"] > 20_000_000
    assert services["runner"]["state"] == "ready"
    # The runner's loaded models come from the double's recorded /api/ps.
    assert [m["name"] for m in sample["models"]] == ["mistral:latest"]
    assert sample["models"][0]["gpu_fraction"] == 1.0
    # The server's figures: the chat above went through it.
    assert sample["server"]["backend_up"] is True
    assert "svc.runner.cpu" in live[-1]["flat"] and "host.cpu" in live[-1]["flat"]
    # The command prints one sample of the same stack.
    result = home.cli("metrics", "--json", "--interval", "0.3")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) >= {"host", "gpus", "gpu_unavailable_reason", "services", "models"}
    assert {s["name"] for s in printed["services"]} == {"runner", "assistant"}
    assert printed["server"] is not None
    text = home.cli("metrics", "--interval", "0.3").stdout
    assert "runner   pid" in text and "model    mistral:latest" in text
    assert home.cli("stack", "down").returncode == 0


def test_metrics_without_a_stack(home: Home) -> None:
    result = home.cli("metrics", "--json", "--interval", "0.2")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["services"] == [] and printed["server"] is None
    assert 0 <= printed["host"]["cpu_percent"] <= 100
    if not printed["gpus"]:  # CI has no GPU: the reason is given, not an error
        assert printed["gpu_unavailable_reason"]
    watch = subprocess.Popen(
        [sys.executable, "-m", "elite_panel", "metrics", "--json", "--watch", "--interval", "0.2"],
        env=home.env,
        stdout=subprocess.PIPE,
        text=True,
        # Ctrl+C as in a terminal: a test run started in the background inherits SIGINT
        # ignored, and a process that starts with it ignored never sees it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert watch.stdout is not None
    times = [json.loads(watch.stdout.readline())["time"] for _ in range(3)]
    assert times == sorted(times) and len(set(times)) == 3  # a sample per interval
    watch.send_signal(signal.SIGINT)
    watch.communicate(timeout=10)  # read what it still writes: a full pipe would block it
    assert watch.returncode == 130  # Ctrl+C ends the stream quietly
    bad = home.cli("metrics", "--interval", "0")
    assert bad.returncode == 1 and "--interval must be more than 0" in bad.stderr
