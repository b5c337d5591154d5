"""The server's token estimate against the bundled model's real tokenizer (llama.cpp), on
the 50 prompts of ``tests/data/token_prompts``: within the error measured and written in
the benchmarks page of the docs, and never under for code and prose."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from elite_panel.core.builtin_runner import bundled_model_path
from embedded_server.backends.gguf_tokenizer import GgufTokenizers
from embedded_server.services.tokens import LearnedEstimate, raw_parts
from tests.conftest import REPO

pytestmark = pytest.mark.model

PROMPTS = sorted((REPO / "tests" / "data" / "token_prompts").glob("*.txt"))


@pytest.fixture(scope="module")
def counted() -> list[tuple[str, str, int]]:
    """(kind, text, real tokens) of each prompt."""
    model = bundled_model_path()
    assert model is not None
    texts = [p.read_text() for p in PROMPTS]
    real = asyncio.run(GgufTokenizers().count(Path(model), texts))
    return [(p.name.split("-")[1], t, n) for p, t, n in zip(PROMPTS, texts, real, strict=True)]


def test_fifty_prompts_of_three_kinds(counted: list[tuple[str, str, int]]) -> None:
    kinds = [kind for kind, _, _ in counted]
    assert len(counted) == 50 and {k: kinds.count(k) for k in set(kinds)} == {
        "code": 20,
        "prose": 14,
        "other": 16,
    }


def test_the_estimate_before_any_report_stays_over_for_code_and_prose(
    counted: list[tuple[str, str, int]],
) -> None:
    estimate = LearnedEstimate()
    for kind, text, real in counted:
        ratio = estimate.count(text) / real
        low = 1.0 if kind in ("code", "prose") else 0.8  # measured: 1.09 and 0.84 to 1.51
        assert low <= ratio <= 1.55, (kind, text[:40], ratio)


def test_the_learned_estimate_stays_within_the_measured_error(
    counted: list[tuple[str, str, int]],
) -> None:
    """Learned from the runner's counts of ten prompts (system prompt and ChatML's markers
    included), as bench_context does; measured on the forty others: code and prose 0.99 to
    1.34, other languages 0.82 to 1.81."""
    estimate = LearnedEstimate()
    system = "You are a careful senior software engineer."
    system_latin, _ = raw_parts(system)
    for _kind, text, real in counted[::5]:
        latin, other = raw_parts(text)
        estimate.learn(latin + system_latin, other, 2, real + 8 + 14)
    for index, (kind, text, real) in enumerate(counted):
        if index % 5:
            ratio = estimate.count(text) / real
            low, high = (0.97, 1.4) if kind in ("code", "prose") else (0.8, 1.85)
            assert low <= ratio <= high, (kind, text[:40], ratio)
