"""A key's limits in tokens and answers (models, max_tokens, parallel, tpm, tokens per
day), counted in Redis by two replicas on one database, and refused in our error shape and
OpenAI's (the official client); the admin token has none."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.fakes.ollama_double import OllamaDouble, serve_in_thread
from tests.server.conftest import (
    AUTH,
    TOKEN,
    MakeClient,
    ndjson,
    redis_test_url,
    run_server,
)

ASK = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def redis_url() -> str:
    return redis_test_url(1)  # the test server's own database, from zero


@pytest.fixture
def replicas(make_client: MakeClient, redis_url: str) -> tuple[TestClient, TestClient]:
    """Two replicas on one database and one Redis."""
    return make_client(redis_url=redis_url), make_client(redis_url=redis_url)


def served_settings(double: OllamaDouble, tmp_path: Path, **overrides: Any) -> Settings:
    """The settings of a server this module serves for real, in front of the double."""
    values: dict[str, Any] = {
        "api_token": TOKEN,
        "backend_url": double.url,
        "data_dir": tmp_path / "srv",
        "rate_limit": "off",
    }
    return Settings(**{**values, **overrides})


def key(client: TestClient, name: str, **limits: Any) -> dict[str, str]:
    created = client.post("/api/keys", json={"name": name, **limits}, headers=AUTH)
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


def test_a_key_may_use_its_models_and_answers_up_to_its_length(
    replicas: tuple[TestClient, TestClient], double: OllamaDouble
) -> None:
    a, _ = replicas
    editor = key(a, "editor", models=["llama3.2"], max_tokens=5)
    other = a.post("/api/chat", json={**ASK, "model": "deepseek-r1"}, headers=editor)
    assert other.status_code == 403 and other.json()["code"] == "model_not_allowed"
    assert "llama3.2" in other.json()["error"]
    longer = a.post("/api/chat", json={**ASK, "options": {"max_tokens": 50}}, headers=editor)
    assert longer.status_code == 422 and longer.json()["detail"]["limit"] == "max_tokens"
    assert ndjson(a.post("/api/chat", json=ASK, headers=editor).text)[-1]["type"] == "done"
    assert double.requests[-1]["options"]["num_predict"] == 5  # the cap, asked of none
    assert ndjson(a.post("/api/chat", json=ASK, headers=AUTH).text)[-1]["type"] == "done"
    assert not (double.requests[-1].get("options") or {}).get("num_predict")  # the admin


@pytest.fixture
def two_servers(double: OllamaDouble, tmp_path: Path, redis_url: str) -> Iterator[list[str]]:
    """Two replicas served for real (streams interleave), on one database and one Redis."""
    settings = served_settings(double, tmp_path, redis_url=redis_url)
    servers = [serve_in_thread(create_app(settings)) for _ in range(2)]
    try:
        yield [next(server) for server in servers]
    finally:
        for server in servers:
            server.close()


def test_parallel_answers_are_counted_across_replicas(
    two_servers: list[str], double: OllamaDouble
) -> None:
    a, b = two_servers
    double.answer = " ".join(f"w{i}" for i in range(60))
    double.delay_s = 0.05  # three seconds
    created = httpx.post(f"{a}/api/keys", json={"name": "single", "parallel": 1}, headers=AUTH)
    single = {"Authorization": f"Bearer {created.json()['key']}"}
    with httpx.stream("POST", f"{a}/api/chat", json=ASK, headers=single) as streaming:
        lines = streaming.iter_lines()
        assert json.loads(next(lines))["type"] == "start"
        refused = httpx.post(f"{b}/api/chat", json=ASK, headers=single)  # the other replica
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["detail"]["limit"] == "parallel"
        assert "1 answers streaming" in refused.json()["error"]
        assert httpx.post(f"{b}/api/chat", json=ASK, headers=AUTH).status_code == 200
        for _ in lines:
            pass
    double.delay_s = 0.0
    again = httpx.post(f"{b}/api/chat", json=ASK, headers=single, timeout=30)
    assert ndjson(again.text)[-1]["type"] == "done"


@pytest.mark.parametrize(("limit", "said"), [("tpm", "a minute"), ("tokens_per_day", "a day")])
def test_tokens_are_spent_on_one_replica_and_refused_on_the_other(
    replicas: tuple[TestClient, TestClient], double: OllamaDouble, limit: str, said: str
) -> None:
    a, b = replicas
    # Room for one prompt as the server counts it (on the high side) and a little more.
    prompt = a.post("/api/chat/count", json=ASK, headers=AUTH).json()["context"]["prompt_tokens"]
    thrifty = key(a, f"thrifty-{limit}", **{limit: prompt + 5})
    done = ndjson(a.post("/api/chat", json=ASK, headers=thrifty).text)[-1]
    spent = done["usage"]["prompt_tokens"] + done["usage"]["completion_tokens"]
    assert 10 < spent <= prompt  # what the runner counted: the prompt and the answer
    refused = b.post("/api/chat", json=ASK, headers=thrifty)
    assert refused.status_code == 429, refused.text
    assert refused.json()["detail"]["limit"] == limit
    assert f"used {spent} of its {prompt + 5} tokens {said}" in refused.json()["error"]
    assert int(refused.headers["retry-after"]) >= 1
    assert a.get("/api/conversations", headers=thrifty).json()["total"] == 1  # nothing kept


def test_keys_without_limits_of_their_own_get_the_servers_defaults(
    make_client: MakeClient, double: OllamaDouble
) -> None:
    client = make_client(key_defaults={"max_tokens": 7, "models": ["llama3.2"]})
    plain = key(client, "plain")
    own = key(client, "own", max_tokens=0, models=[])  # none at all
    assert ndjson(client.post("/api/chat", json=ASK, headers=plain).text)[-1]["type"] == "done"
    assert double.requests[-1]["options"]["num_predict"] == 7
    other = {**ASK, "model": "deepseek-r1"}
    assert client.post("/api/chat", json=other, headers=plain).status_code == 403
    assert client.post("/api/chat", json=other, headers=own).status_code == 200
    listed = client.get("/api/keys", headers=AUTH).json()["keys"]
    assert [(k["name"], k["max_tokens"]) for k in listed] == [("plain", None), ("own", 0)]
    changed = client.patch("/api/keys/own", json={"max_tokens": None}, headers=AUTH).json()
    assert changed["max_tokens"] is None  # the default again


@pytest.fixture
def served(double: OllamaDouble, tmp_path: Path, redis_url: str) -> Iterator[str]:
    yield from serve_in_thread(create_app(served_settings(double, tmp_path, redis_url=redis_url)))


def test_the_official_client_reads_the_limits_refusals(served: str) -> None:
    created = httpx.post(
        f"{served}/api/keys", json={"name": "tool", "tpm": 60, "max_tokens": 16}, headers=AUTH
    ).json()
    client = openai.OpenAI(base_url=f"{served}/v1", api_key=created["key"], max_retries=0)
    with pytest.raises(openai.BadRequestError) as longer:
        client.chat.completions.create(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}], max_tokens=100
        )
    assert "at most 16 tokens" in longer.value.message
    client.completions.create(model="llama3.2", prompt="def add(a, b):", max_tokens=8)
    with pytest.raises(openai.RateLimitError) as spent:
        client.completions.create(model="llama3.2", prompt="def add(a, b):" * 10, max_tokens=8)
    assert "tokens a minute" in spent.value.message
    assert spent.value.response.headers["retry-after"]


def test_each_callers_use_is_kept_by_day_and_model(
    replicas: tuple[TestClient, TestClient], double: OllamaDouble, tmp_path: Path
) -> None:
    a, b = replicas
    reporter = key(a, "reporter")
    answers = [
        ndjson(client.post("/api/chat", json=ASK, headers=reporter).text)[-1]
        for client in (a, b)  # one on each replica
    ]
    failed = ndjson(a.post("/api/chat", json={**ASK, "model": "nope"}, headers=reporter).text)
    assert failed[-1]["code"] == "model_not_found"
    assert ndjson(a.post("/api/chat", json=ASK, headers=AUTH).text)[-1]["type"] == "done"
    report = a.get("/api/keys/reporter/usage?since=7d", headers=AUTH).json()
    rows = {row["model"]: row for row in report["days"]}
    assert rows["llama3.2"]["requests"] == 2 and rows["llama3.2"]["errors"] == 0
    assert rows["llama3.2"]["prompt_tokens"] == sum(x["usage"]["prompt_tokens"] for x in answers)
    assert rows["llama3.2"]["completion_tokens"] == sum(
        x["usage"]["completion_tokens"] for x in answers
    )
    assert report["total"]["requests"] == 3 and report["total"]["errors"] == 1
    everyone = a.get("/api/keys/usage", headers=AUTH).json()["days"]
    assert {row["key"] for row in everyone} == {"reporter", "(admin)"}
    assert a.get("/api/keys/reporter/usage", headers=reporter).status_code == 403
    assert a.get("/api/keys/reporter/usage?since=yesterday", headers=AUTH).status_code == 422
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    env.pop("ASSISTANT_DATABASE_URL", None)
    printed = run_server(env, "keys", "usage", "reporter", "--json")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["total"] == report["total"]
    table = run_server(env, "keys", "usage", "--since", "1d").stdout
    assert "reporter" in table and "(admin)" in table and table.splitlines()[-1].startswith("total")


@pytest.fixture
def two_slots(double: OllamaDouble, tmp_path: Path) -> Iterator[str]:
    """A server whose one runner takes two requests at once."""
    double.answer = " ".join(f"w{i}" for i in range(8))
    double.delay_s = 0.03  # a quarter of a second an answer
    yield from serve_in_thread(create_app(served_settings(double, tmp_path, runner_slots=2)))


def test_the_fair_queue_serves_a_quiet_key_within_two_turns_of_a_flood(
    double: OllamaDouble, two_slots: str
) -> None:
    """One key holds 20 requests in the queue; another key's request waits for at most two
    turns (round-robin across keys), not twenty."""
    flood, quiet = key_over_http(two_slots, "flood"), key_over_http(two_slots, "quiet")

    async def scenario() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=two_slots, timeout=60) as http:

            async def ask(who: dict[str, str], text: str) -> list[dict[str, Any]]:
                body = {**ASK, "messages": [{"role": "user", "content": text}]}
                return ndjson((await http.post("/api/chat", json=body, headers=who)).text)

            flooding = [asyncio.create_task(ask(flood, f"flood {i}")) for i in range(22)]
            while (await queued(http)) < 20:
                await asyncio.sleep(0.01)
            asked_before = len(double.requests)
            quiet_answer = await ask(quiet, "quiet")
            await asyncio.gather(*flooding)
            return {"quiet": quiet_answer, "asked_before": asked_before}

    result = asyncio.run(scenario())
    assert result["quiet"][0]["queued"] >= 1  # it said it waited
    assert result["quiet"][-1]["type"] == "done"
    started = [(r.get("messages") or [{}])[-1].get("content") for r in double.requests]
    after = started[result["asked_before"] :]
    assert after.index("quiet") <= 2, after  # within two turns of the flood's
    assert started.count("quiet") == 1 and len([s for s in after if "flood" in (s or "")]) >= 20


async def queued(http: httpx.AsyncClient) -> int:
    runners = (await http.get("/api/runners", headers=AUTH)).json()["runners"]
    return sum(int(r["queued"]) for r in runners)


def key_over_http(server: str, name: str) -> dict[str, str]:
    created = httpx.post(f"{server}/api/keys", json={"name": name}, headers=AUTH)
    return {"Authorization": f"Bearer {created.json()['key']}"}


def test_a_full_queue_is_refused_before_the_answer_and_a_long_wait_ends(
    double: OllamaDouble, tmp_path: Path
) -> None:
    double.answer = " ".join(f"w{i}" for i in range(40))
    double.delay_s = 0.05  # two seconds
    settings = served_settings(double, tmp_path, runner_slots=1, max_queue=1, queue_timeout_s=0.5)
    serving = contextlib.contextmanager(serve_in_thread)
    with serving(create_app(settings)) as server:

        async def scenario() -> tuple[list[dict[str, Any]], httpx.Response]:
            async with httpx.AsyncClient(base_url=server, headers=AUTH, timeout=30) as http:
                asked = len(double.requests)
                running = asyncio.create_task(http.post("/api/chat", json=ASK))
                while len(double.requests) == asked:  # the runner has it
                    await asyncio.sleep(0.01)
                waiting = asyncio.create_task(http.post("/api/chat", json=ASK))
                while (await queued(http)) < 1:
                    await asyncio.sleep(0.01)
                refused = await http.post("/api/chat", json=ASK)
                waited = ndjson((await waiting).text)
                await running
                return waited, refused

        waited, refused = asyncio.run(scenario())
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert refused.json()["code"] == "queue_full"
        assert waited[0]["queued"] == 1
        assert waited[-1]["code"] == "queue_timeout" and "within 0.5 s" in waited[-1]["message"]
