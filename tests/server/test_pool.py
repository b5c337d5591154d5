"""The runner pool (``ASSISTANT_RUNNERS``) with real HTTP runner doubles: the union of
models, routing by model and by requests in flight, a dead runner skipped and back."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.conftest import wait_for
from tests.fakes.ollama_double import OllamaDouble, build_app, free_port, serve_in_thread
from tests.server.conftest import AUTH, TOKEN

CODER = "qwen2.5-coder:7b"


@contextmanager
def running(double: OllamaDouble, port: int = 0) -> Iterator[OllamaDouble]:
    """``double`` served on loopback until the block ends (a runner that can die)."""
    serving = serve_in_thread(build_app(double), port)
    double.url = next(serving)
    try:
        yield double
    finally:
        serving.close()


def pool_server(
    tmp_path: Path, runners: list[dict[str, Any]], stack: ExitStack, **settings: Any
) -> str:
    values: dict[str, Any] = {
        "api_token": TOKEN,
        "runners": runners,
        "data_dir": tmp_path / "data",
        "rate_limit": "off",
        "runner_check_interval_s": 0.2,
        "runner_cooldown_s": 0.5,
        **settings,
    }
    serving = serve_in_thread(create_app(Settings(**values)))
    stack.callback(serving.close)
    return next(serving)


def chat(server: str, model: str = "llama3.2") -> list[dict[str, Any]]:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(f"{server}/api/chat", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def runners(server: str) -> dict[str, dict[str, Any]]:
    listed = httpx.get(f"{server}/api/runners", headers=AUTH).json()["runners"]
    return {r["name"]: r for r in listed}


def name(double: OllamaDouble) -> str:
    return double.url.removeprefix("http://")


def test_models_are_the_union_and_a_request_goes_where_its_model_is(tmp_path: Path) -> None:
    coder = OllamaDouble()
    coder.installed = [{**copy.deepcopy(coder.installed[0]), "name": CODER, "model": CODER}]
    with ExitStack() as stack:
        general = stack.enter_context(running(OllamaDouble()))
        stack.enter_context(running(coder))
        server = pool_server(
            tmp_path, [{"url": general.url}, {"url": coder.url, "name": "coder"}], stack
        )
        listed = httpx.get(f"{server}/v1/models", headers=AUTH).json()["data"]
        ids = {m["id"] for m in listed}
        assert CODER in ids and {m["name"] for m in general.installed} <= ids
        api = httpx.get(f"{server}/api/models", headers=AUTH).json()["models"]
        assert len(api) == len(ids)  # each model once

        assert chat(server, CODER)[-1]["type"] == "done"
        assert chat(server, "llama3.2")[-1]["type"] == "done"
        assert [r["model"] for r in coder.requests] == [CODER]
        assert [r["model"] for r in general.requests] == ["llama3.2"]
        state = runners(server)
        assert state["coder"]["models"] == [CODER] and state["coder"]["state"] == "up"
        assert state["coder"]["requests"] == 1 and state["coder"]["in_flight"] == 0
        assert "api_key" not in state["coder"]


@pytest.mark.parametrize(("weights", "expected"), [((1, 1), [2, 2]), ((3, 1), [3, 1])])
def test_requests_go_to_the_runner_with_the_fewest_in_flight_per_weight(
    tmp_path: Path, weights: tuple[int, int], expected: list[int]
) -> None:
    doubles = [OllamaDouble(), OllamaDouble()]
    for double in doubles:
        double.answer = " ".join(f"w{i}" for i in range(400))
        double.delay_s = 0.02  # long answers: all four are in flight together
    with ExitStack() as stack:
        for double in doubles:
            stack.enter_context(running(double))
        specs = [{"url": d.url, "weight": w} for d, w in zip(doubles, weights, strict=True)]
        server = pool_server(tmp_path, specs, stack)
        client = stack.enter_context(httpx.Client(timeout=30))
        body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
        readers = []  # kept: a collected reader would close its answer
        for _ in range(4):  # each answer streaming (its first token read) before the next
            response = stack.enter_context(
                client.stream("POST", f"{server}/api/chat", json=body, headers=AUTH)
            )
            readers.append(response.iter_lines())
            while json.loads(next(readers[-1]))["type"] != "token":
                pass
        in_flight = runners(server)
        assert [in_flight[name(d)]["in_flight"] for d in doubles] == expected
        assert [len(d.requests) for d in doubles] == expected
        text = httpx.get(f"{server}/metrics").text
        assert f'assistant_runner_in_flight{{runner="{name(doubles[0])}"}} {expected[0]}.0' in text


def test_a_dead_runner_is_skipped_then_comes_back(tmp_path: Path) -> None:
    """Killed: its requests go elsewhere before any token (the client sees only answers),
    it is taken out; started again, it is checked back in and gets requests again."""
    port = free_port()
    comeback = OllamaDouble()
    with ExitStack() as stack:
        live = stack.enter_context(running(OllamaDouble()))
        with running(OllamaDouble(), port) as doomed:
            server = pool_server(tmp_path, [{"url": doomed.url}, {"url": live.url}], stack)
            wait_for(lambda: runners(server)[name(doomed)]["state"] == "up", 10, "first check")
        for _ in range(6):
            assert chat(server)[-1]["type"] == "done"
        assert len(live.requests) == 6
        dead = wait_for(
            lambda: (r := runners(server)[name(doomed)])["state"] == "down" and r,
            10,
            "the dead runner taken out",
        )
        assert isinstance(dead, dict) and dead["last_error"]
        text = httpx.get(f"{server}/metrics").text
        assert f'assistant_runner_up{{runner="{name(doomed)}"}} 0.0' in text
        assert "assistant_backend_up 1.0" in text

        with running(comeback, port):
            wait_for(lambda: runners(server)[name(comeback)]["state"] == "up", 10, "comeback")
            for _ in range(40):  # idle runners tie: chosen at random between the two
                chat(server)
                if comeback.requests:
                    break
            assert comeback.requests, "the runner that came back got no request"


def test_a_runner_failing_mid_answer_ends_it_without_a_retry(tmp_path: Path) -> None:
    failing, spare = OllamaDouble(), OllamaDouble()
    failing.drop_final = True  # stops after its tokens, without the final chunk
    with ExitStack() as stack:
        stack.enter_context(running(failing))
        stack.enter_context(running(spare))
        specs = [{"url": failing.url, "weight": 2}, {"url": spare.url}]  # idle tie: heavier
        server = pool_server(tmp_path, specs, stack)
        events = chat(server)
        assert events[-1]["type"] == "error"
        assert any(e["type"] == "token" for e in events)  # what came is kept
        assert len(failing.requests) == 1 and not spare.requests


def test_runner_settings_are_checked_at_start() -> None:
    for runners_value, message in (
        ([{"url": "gpu-1:11434"}], "must be a URL"),
        ([{"url": "http://u:p@gpu-1:11434"}], "api_key"),
        ([{"url": "http://a:1"}, {"url": "http://a:1"}], "same name"),
        ([{"url": "http://a:1", "weight": 0}], "greater than 0"),
    ):
        with pytest.raises(ValueError, match=message):
            Settings(runners=runners_value)
    with pytest.raises(ValueError, match="not an address"):
        Settings(trusted_proxies="10.0.0.0/8, nonsense")


def test_ties_go_to_the_heavier_then_to_the_faster_runner() -> None:
    from embedded_server.backends.pool import Runner, least_busy

    def runner(name: str, in_flight: int, weight: float = 1.0, pace: float = 0.0) -> Runner:
        made = Runner(name, f"http://{name}", backend=None, weight=weight)  # type: ignore[arg-type]
        made.in_flight, made.pace = in_flight, pace
        return made

    assert least_busy([runner("busy", 2), runner("idle", 1)]).name == "idle"
    assert least_busy([runner("a", 2, weight=2), runner("b", 1)]).name == "a"  # 1 per weight
    assert least_busy([runner("slow", 1, pace=0.02), runner("fast", 1, pace=0.005)]).name == "fast"
    fast = runner("fast", 0)
    fast.timed(1.0, 101)  # 100 gaps in a second
    assert fast.pace == pytest.approx(0.01)


def test_the_only_runner_is_asked_once_more_after_a_failure_before_any_token() -> None:
    """A runner that drops a kept-alive connection fails a request before it begins: the
    pool asks it once more (there is no other); a second failure is the client's error."""
    import asyncio
    from collections.abc import AsyncIterator

    from embedded_server.backends.base import BackendError, ChatChunk
    from embedded_server.backends.pool import Runner, RunnerPool
    from embedded_server.metrics import ServerMetrics

    class Flaky:
        def __init__(self, failures: int) -> None:
            self.failures, self.calls = failures, 0

        async def chat_stream(self, *_args: object) -> AsyncIterator[ChatChunk]:
            self.calls += 1
            if self.calls <= self.failures:
                raise BackendError("connection dropped")
            yield ChatChunk(content="hi")
            yield ChatChunk(done=True, completion_tokens=1)

    async def ask(runner: Flaky) -> list[ChatChunk]:
        pool = RunnerPool([Runner("only", "http://only", runner)], ServerMetrics())  # type: ignore[arg-type]
        return [c async for c in pool.chat_stream("m", [], {})]

    once = Flaky(failures=1)
    assert [c.content for c in asyncio.run(ask(once))] == ["hi", ""] and once.calls == 2
    twice = Flaky(failures=2)
    with pytest.raises(BackendError, match="connection dropped"):
        asyncio.run(ask(twice))
    assert twice.calls == 2
