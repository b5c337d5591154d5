"""Which runner the welcome guide recommends, and which coding model it offers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from elite_panel.core.kinds import RunnerKind
from elite_panel.core.runner_choice import GIB, Gpu, MachineFacts, coding_model, runner_options
from elite_panel.stack.machine_survey import survey
from tests.fakes.ollama_double import OllamaDouble, build_app, serve_in_thread

URL = "http://127.0.0.1:11434"
GPU_24 = (Gpu("NVIDIA GeForce RTX 4090", 24 * GIB),)


def kinds(facts: MachineFacts) -> list[RunnerKind]:
    return [option.kind for option in runner_options(facts)]


def test_a_gpu_with_ollama_recommends_ollama() -> None:
    facts = MachineFacts(URL, ollama_binary="/usr/bin/ollama", docker="", builtin="", gpus=GPU_24)
    assert kinds(facts) == [RunnerKind.OLLAMA, RunnerKind.BUILTIN, RunnerKind.DOCKER]


def test_nothing_but_the_builtin_runner_recommends_it() -> None:
    facts = MachineFacts(URL, docker="cannot reach the Docker engine", builtin="")
    assert kinds(facts) == [RunnerKind.BUILTIN]


def test_an_ollama_answering_without_a_binary_is_used_as_external() -> None:
    facts = MachineFacts(URL, ollama_version="0.5.7", docker="no", builtin="")
    first = runner_options(facts)[0]
    assert first.kind is RunnerKind.EXTERNAL
    assert first.values == {"runner.kind": "external", "runner.url": URL}


def test_docker_comes_before_builtin_only_with_a_gpu_it_can_use() -> None:
    cpu_only = MachineFacts(URL, docker="", builtin="", gpus=GPU_24)  # no NVIDIA runtime
    assert kinds(cpu_only) == [RunnerKind.BUILTIN, RunnerKind.DOCKER]
    with_runtime = MachineFacts(URL, docker="", docker_gpu=True, builtin="", gpus=GPU_24)
    assert kinds(with_runtime) == [RunnerKind.DOCKER, RunnerKind.BUILTIN]


def test_nothing_usable_offers_nothing() -> None:
    assert kinds(MachineFacts(URL, docker="no engine", builtin="not installed")) == []


@pytest.mark.parametrize(
    ("vram_gib", "model"),
    [
        (0, "qwen2.5-coder:1.5b"),
        (4, "qwen2.5-coder:3b"),
        (8, "qwen2.5-coder:7b"),
        (10, "qwen2.5-coder:7b"),
        (12, "qwen2.5-coder:14b"),
        (16, "qwen2.5-coder:14b"),
        (24, "qwen2.5-coder:14b"),
        (80, "qwen2.5-coder:32b"),
    ],
)
def test_the_coding_model_fits_the_largest_gpu(vram_gib: int, model: str) -> None:
    gpus = (Gpu("small", 2 * GIB), Gpu("big", vram_gib * GIB)) if vram_gib else ()
    name, size, why = coding_model(MachineFacts(URL, gpus=gpus))
    assert name == model
    assert size <= max(vram_gib * GIB * 0.75, 1 * GIB)
    assert ("fits" in why) == bool(vram_gib)


def test_the_survey_finds_an_ollama_binary_and_an_answering_ollama(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "ollama"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    for url in serve_in_thread(build_app(OllamaDouble())):
        facts = survey(url)
        assert facts.ollama_binary == str(fake)
        assert facts.ollama_version  # the double answers /api/version as Ollama does
    monkeypatch.setenv("PATH", "/nonexistent")
    facts = survey("http://127.0.0.1:9")  # nothing listens on the discard port
    assert facts.ollama_binary is None and facts.ollama_version is None
