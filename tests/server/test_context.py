"""Context windows: known per model, prompts counted and fitted by the overflow policy,
refusals with the numbers (ours on /api, OpenAI's on /v1), against the Ollama double
(whose window is ``num_ctx`` and whose counts the server can only estimate)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from elite_panel.core.builtin_runner import bundled_model_path
from embedded_server.app import create_app
from embedded_server.backends.gguf_tokenizer import GgufTokenizers
from embedded_server.config import Settings
from embedded_server.services.tokens import (
    MARGIN,
    RECENT,
    LearnedEstimate,
    prompt_overhead,
    raw_parts,
)
from tests.fakes.ollama_double import OllamaDouble, double_tokens, serve_in_thread
from tests.server.conftest import AUTH, TOKEN, MakeClient, ndjson

MODEL = "llama3.2"


def turn(words: int, seed: str = "w") -> str:
    """A message of ``words`` short words (a few tokens each for the double)."""
    return " ".join(f"{seed}{i}" for i in range(words))


def chat(client: TestClient, text: str, **fields: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], **fields}
    return client.post("/api/chat", json=body, headers=AUTH)


def test_each_model_says_the_window_it_runs_with_and_the_one_it_was_trained_for(
    client: TestClient, double: OllamaDouble
) -> None:
    double.num_ctx = 2048
    models = client.get("/api/models", headers=AUTH).json()["models"]
    assert {(m["context_length"], m["trained_context_length"]) for m in models} == {(2048, 8192)}
    listed = client.get("/v1/models", headers=AUTH).json()["data"]
    assert {(m["context_length"], m["trained_context_length"]) for m in listed} == {(2048, 8192)}


def test_a_conversation_longer_than_the_window_leaves_out_its_oldest_turns_and_says_so(
    client: TestClient, double: OllamaDouble
) -> None:
    double.num_ctx = 1024
    first = ndjson(chat(client, turn(150, "a")).text)
    assert first[0]["context"]["omitted_messages"] == 0
    conversation = first[0]["conversation_id"]
    events: list[dict[str, Any]] = []
    for round_ in range(6):
        events = ndjson(chat(client, turn(150, f"r{round_}-"), conversation_id=conversation).text)
        assert events[-1]["type"] == "done", events[-1]
    context = events[0]["context"]
    assert context["window"] == 1024 and context["omitted_messages"] > 0
    assert context["prompt_tokens"] + context["reserved"] <= 1024
    sent = double.requests[-1]["messages"]
    assert sent[0]["role"] == "system"  # the system prompt is kept
    assert sent[-1]["content"] == turn(150, "r5-")  # and the newest turn
    assert turn(150, "a") not in [m["content"] for m in sent]  # the oldest is left out
    # 7 turns and 6 answers were stored: the prompt kept what fitted of them
    assert len(sent) == 1 + 13 - context["omitted_messages"]
    # the runner's own count of what it was sent is within the window too
    assert sum(double_tokens(m["content"]) + 4 for m in sent) <= 1024
    stored = client.get(f"/api/conversations/{conversation}", headers=AUTH).json()
    assert stored["messages"][-1]["context"] == context


def test_a_message_that_cannot_fit_alone_is_refused_with_the_numbers_and_never_sent(
    client: TestClient, double: OllamaDouble
) -> None:
    double.num_ctx = 512
    asked = len(double.requests)
    response = chat(client, turn(2000))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "context_overflow"
    assert body["detail"]["window"] == 512 and body["detail"]["reserved"] == 128
    assert body["detail"]["tokens"] > 512
    assert "512 tokens" in body["error"] and "larger context" in body["error"]
    assert len(double.requests) == asked  # the runner never saw it
    assert client.get("/api/conversations", headers=AUTH).json()["total"] == 0  # nothing kept
    # the runner stays in the pool, and the next prompt is answered
    assert client.get("/api/runners", headers=AUTH).json()["runners"][0]["state"] == "up"
    assert ndjson(chat(client, "hello").text)[-1]["type"] == "done"


def test_truncate_middle_cuts_an_over_long_message_and_refuse_refuses_a_long_conversation(
    client: TestClient, double: OllamaDouble
) -> None:
    double.num_ctx = 512
    text = turn(2000)
    events = ndjson(chat(client, text, context_policy="truncate_middle").text)
    assert events[-1]["type"] == "done"
    context = events[0]["context"]
    assert context["truncated_tokens"] > 0 and context["prompt_tokens"] <= 512 - 128
    sent = double.requests[-1]["messages"][-1]["content"]
    assert sent.startswith("w0 w1 ") and sent.endswith(" w1998 w1999")  # both ends kept
    assert "tokens of this message were left out" in sent
    conversation = events[0]["conversation_id"]
    refused = chat(client, turn(300), conversation_id=conversation, context_policy="refuse")
    assert refused.status_code == 422 and refused.json()["code"] == "context_overflow"


def test_a_draft_is_counted_without_being_sent_or_stored(
    client: TestClient, double: OllamaDouble
) -> None:
    double.num_ctx = 4096
    asked = len(double.requests)
    short = {"model": MODEL, "messages": [{"role": "user", "content": turn(10)}]}
    counted = client.post("/api/chat/count", json=short, headers=AUTH).json()
    assert counted["fits"] and counted["model"] == MODEL
    longer = {"model": MODEL, "messages": [{"role": "user", "content": turn(400)}]}
    more = client.post("/api/chat/count", json=longer, headers=AUTH).json()
    assert more["context"]["prompt_tokens"] > counted["context"]["prompt_tokens"] + 390
    huge = {"model": MODEL, "messages": [{"role": "user", "content": turn(9000)}]}
    refused = client.post("/api/chat/count", json=huge, headers=AUTH).json()
    assert not refused["fits"] and "4,096 tokens" in refused["error"]
    assert len(double.requests) == asked
    assert client.get("/api/conversations", headers=AUTH).json()["total"] == 0


PROSE = (
    "Refactor this function so that it handles unexpectedly malformed configuration files, "
    "reports which key was wrong, and keeps the previous settings when validation fails. "
)


def test_the_estimate_learns_the_runners_counts(client: TestClient, double: OllamaDouble) -> None:
    """The double counts tokens its own way (a token per word, more for long words); after
    a few answers of different lengths the server's estimate of a new text is within a few
    per cent of the double's count, and not under it."""
    double.num_ctx = 8192
    budget = client.app.state.chat.budget  # type: ignore[attr-defined]
    fresh = PROSE * 12
    before = budget.counter.estimate(MODEL).count(fresh)
    for n in range(6):
        assert ndjson(chat(client, PROSE * (1 + 3 * n)).text)[-1]["type"] == "done"
    estimate = budget.counter.estimate(MODEL)
    assert estimate.reports == 6
    real = double_tokens(fresh)
    assert real <= estimate.count(fresh) <= real * 1.08
    assert abs(before - real) > real * 0.08  # it did learn


MIXED = (
    "def reverse(items: list[int]) -> list[int]:\n    return items[::-1]\n\n"
    "Explique ce code, s'il vous plaît. この関数は何をしますか? Объясни этот код. "
)


@pytest.mark.model
def test_a_model_whose_vocabulary_ollama_shows_is_counted_by_its_own_tokenizer(
    client: TestClient, double: OllamaDouble
) -> None:
    """The double shows the bundled model's header (Ollama's verbose ``/api/show``) and
    counts with its real tokenizer: the server's count of each message is the tokenizer's,
    not an estimate, on code, prose and three other scripts."""
    model = bundled_model_path()
    assert model is not None
    double.vocabulary = Path(model)
    events = ndjson(chat(client, MIXED * 20, system="Answer in English.").text)
    context = events[0]["context"]
    assert context["exact"] is True
    sent = [m["content"] for m in double.requests[-1]["messages"]]
    real = asyncio.run(GgufTokenizers().count(Path(model), sent))
    assert context["prompt_tokens"] == sum(real) + prompt_overhead(len(sent))
    assert context["prompt_tokens"] >= events[-1]["usage"]["prompt_tokens"]  # the runner's own
    assert double.shows_verbose == 1
    ndjson(chat(client, "and again").text)
    assert double.shows_verbose == 1  # the vocabulary is loaded once


@pytest.mark.model
def test_a_vocabulary_llama_cpp_cannot_load_falls_back_to_the_estimate(
    client: TestClient, double: OllamaDouble
) -> None:
    """A header whose pre-tokenizer llama.cpp does not know: the prompt is estimated and
    answered, and the failure is not asked about again."""
    model = bundled_model_path()
    assert model is not None
    double.vocabulary = Path(model)
    double.shown_overrides = {"tokenizer.ggml.pre": "no-such-pre-tokenizer"}
    for _ in range(2):
        events = ndjson(chat(client, PROSE).text)
        assert events[0]["context"]["exact"] is False and events[-1]["type"] == "done"
    assert double.shows_verbose == 1


def test_the_learned_factors_are_a_ceiling_of_recent_reports_by_script() -> None:
    """A runner counting 1.5 tokens a raw Latin token and 3 a raw token of another script:
    each factor learns from the prompts of its kind, takes the highest ratio seen, and
    forgets it after RECENT reports; prompts too short to teach are passed over."""
    estimate = LearnedEstimate()
    latin, korean = "refactor " * 200, "리팩터링 " * 100
    (a, _), (_, o) = raw_parts(latin), raw_parts(korean)
    estimate.learn(a, 0, 1, int(1.5 * a) + 8)
    estimate.learn(0, o, 1, int(3.0 * o) + 8)
    assert estimate.latin == pytest.approx(1.5 * MARGIN, rel=0.01)
    assert estimate.other == pytest.approx(3.0 * MARGIN, rel=0.01)
    estimate.learn(a, 0, 1, int(1.8 * a) + 8)  # one prompt counted more: up at once
    assert estimate.latin == pytest.approx(1.8 * MARGIN, rel=0.01)
    for _ in range(RECENT):
        estimate.learn(a, 0, 1, int(1.5 * a) + 8)
    assert estimate.latin == pytest.approx(1.5 * MARGIN, rel=0.01)  # forgotten
    estimate.learn(3, 0, 1, 500)  # "hi": the template's tokens, nothing to learn
    assert estimate.reports == 2 + 1 + RECENT
    assert estimate.count(latin + korean) == pytest.approx(1.5 * a + 3.0 * o, rel=0.03)


def test_an_option_the_runner_refuses_is_the_requests_fault_not_the_runners(
    make_client: MakeClient, double: OllamaDouble
) -> None:
    client = make_client(runner_failures=1)
    for _ in range(3):  # the double refuses a negative option's value, as Ollama a bad one
        events = ndjson(chat(client, "hi", options={"repeat_penalty": -1}).text)
        assert events[-1]["code"] == "invalid_request"
        assert "invalid option" in events[-1]["message"]
    (runner,) = client.get("/api/runners", headers=AUTH).json()["runners"]
    assert runner["state"] == "up"


def test_only_the_allowed_options_reach_the_runner(
    make_client: MakeClient, double: OllamaDouble
) -> None:
    client = make_client(max_context_tokens=8192)
    asked = len(double.requests)
    for options, named in (
        ({"num_gpu": 0}, "num_gpu"),  # reloads the model onto the CPU for everyone
        ({"num_thread": 1, "temperature": 0.2}, "num_thread"),
        ({"num_ctx": 1_000_000}, "num_ctx"),
        ({"num_ctx": 16384}, "num_ctx"),  # over this server's cap
        ({"max_tokens": 0}, "max_tokens"),
    ):
        refused = chat(client, "hi", options=options)
        assert refused.status_code == 422, options
        assert named in refused.text, (options, refused.text)
    assert len(double.requests) == asked  # nothing was passed on
    allowed = {"num_predict": 3, "top_k": 20, "min_p": 0.05, "stop": ["\n\n"], "num_ctx": 2048}
    events = ndjson(chat(client, "hi", options=allowed).text)
    assert events[-1]["type"] == "done"
    assert events[0]["context"]["window"] == 2048  # the window the request asked for
    sent = double.requests[-1]["options"]
    assert sent == {"num_predict": 3, "top_k": 20, "min_p": 0.05, "stop": ["\n\n"], "num_ctx": 2048}


def test_a_runner_that_never_answers_fails_the_request_within_the_first_token_timeout(
    make_client: MakeClient, double: OllamaDouble
) -> None:
    client = make_client(runner_first_token_timeout_s=1.0)
    double.hang = True
    asked = len(double.requests)
    events = ndjson(chat(client, "hi").text)
    assert events[-1]["code"] == "runner_timeout"
    assert "sent no first token within 1 s" in events[-1]["message"]
    (runner,) = client.get("/api/runners", headers=AUTH).json()["runners"]
    assert runner["state"] == "down"  # out at once, and the request was not retried
    assert len(double.requests) == asked + 1


@pytest.fixture
def server(double: OllamaDouble, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        api_token=TOKEN, backend_url=double.url, data_dir=tmp_path / "srv", rate_limit="off"
    )
    yield from serve_in_thread(create_app(settings))


def test_the_official_client_gets_context_length_exceeded_and_nothing_is_trimmed(
    server: str, double: OllamaDouble
) -> None:
    double.num_ctx = 512
    client = openai.OpenAI(base_url=f"{server}/v1", api_key=TOKEN, max_retries=0)
    asked = len(double.requests)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": turn(600)}]
        )
    assert refused.value.code == "context_length_exceeded"
    assert "maximum context length is 512 tokens" in refused.value.message
    with pytest.raises(openai.BadRequestError) as completion:
        client.completions.create(model=MODEL, prompt="x", max_tokens=600)
    assert completion.value.code == "context_length_exceeded"
    assert len(double.requests) == asked
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": turn(50)}], max_tokens=8
    )
    assert answer.choices[0].message.content
