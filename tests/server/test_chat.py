"""Chat: streaming, storage of every answer (complete or not), cancellation, concurrency."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import ClientDisconnect

from embedded_server.api.streaming import RelayResponse
from embedded_server.app import create_app
from embedded_server.backends import make_runner
from embedded_server.config import Settings
from embedded_server.db.engine import Database
from embedded_server.db.migrate import upgrade
from embedded_server.db.models import new_id
from embedded_server.db.store import ConversationStore, MessageDraft
from embedded_server.metrics import ServerMetrics
from embedded_server.services.chat import Answer, Relay
from tests.conftest import wait_for
from tests.fakes.ollama_double import OllamaDouble, double_tokens, serve_in_thread
from tests.server.conftest import AUTH, TOKEN, MakeClient, ndjson


def chat(client: TestClient, prompt: str, **extra: Any) -> list[dict[str, Any]]:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": prompt}], **extra}
    response = client.post("/api/chat", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return ndjson(response.text)


def conversation(client: TestClient, conversation_id: str) -> dict[str, Any]:
    response = client.get(f"/api/conversations/{conversation_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_new_chat_is_stored_and_titled_from_the_prompt(
    make_client: MakeClient, database_url: str, double: OllamaDouble
) -> None:
    client = make_client(database_url=database_url)
    events = chat(client, "Write a function to reverse a list\nin Python, please")
    start, done = events[0], events[-1]
    assert start["type"] == "start" and start["model"] == "llama3.2"
    assert "".join(e["content"] for e in events if e["type"] == "token") == double.answer
    sent = double.requests[-1]["messages"]  # the runner's own count of what it was sent
    reported = sum(double_tokens(m["content"]) + 4 for m in sent)
    assert done["type"] == "done" and done["usage"]["prompt_tokens"] == reported
    stored = conversation(client, start["conversation_id"])
    assert stored["title"] == "Write a function to reverse a list"
    assert stored["model"] == "llama3.2"
    user, answer = stored["messages"]
    assert (user["role"], user["content"], user["status"]) == (
        "user",
        "Write a function to reverse a list\nin Python, please",
        "complete",
    )
    assert answer["id"] == start["message_id"]
    assert (answer["role"], answer["content"], answer["status"]) == (
        "assistant",
        double.answer,
        "complete",
    )
    assert answer["completion_tokens"] == done["usage"]["completion_tokens"]
    assert answer["ttft_ms"] == done["ttft_ms"]


def test_continuing_a_conversation_sends_its_history(
    client: TestClient, double: OllamaDouble
) -> None:
    first = chat(client, "first question")[0]["conversation_id"]
    events = chat(client, "second question", conversation_id=first, system="Be brief.")
    assert events[0]["conversation_id"] == first
    sent = double.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[0]["content"] == "Be brief."
    assert sent[1]["content"] == "first question" and sent[2]["content"] == double.answer
    assert len(conversation(client, first)["messages"]) == 4


def test_model_is_remembered_per_conversation(client: TestClient, double: OllamaDouble) -> None:
    first = chat(client, "q1")[0]["conversation_id"]
    body = {"conversation_id": first, "messages": [{"role": "user", "content": "q2"}]}
    events = ndjson(client.post("/api/chat", json=body, headers=AUTH).text)
    assert events[0]["model"] == "llama3.2"  # not the backend's first model


def test_unknown_conversation_is_404_and_nothing_is_stored(client: TestClient) -> None:
    body = {"conversation_id": "nope", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/api/chat", json=body, headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"error": "no conversation 'nope'", "code": "not_found"}
    assert client.get("/api/conversations", headers=AUTH).json()["total"] == 0


def test_model_not_found_is_an_error_event_and_stored_incomplete(client: TestClient) -> None:
    body = {"model": "does-not-exist", "messages": [{"role": "user", "content": "hi"}]}
    events = ndjson(client.post("/api/chat", json=body, headers=AUTH).text)
    assert events[-1] == {
        "type": "error",
        "message": "Ollama: model 'does-not-exist' not found",
        "code": "model_not_found",
    }
    answer = conversation(client, events[0]["conversation_id"])["messages"][-1]
    assert answer["status"] == "incomplete"
    assert "not found" in answer["error"]


def test_backend_down_is_an_error_event_not_a_500(make_client: MakeClient) -> None:
    client = make_client(backend_url="http://127.0.0.1:9")
    response = client.post(
        "/api/chat", json={"messages": [{"role": "user", "content": "hi"}]}, headers=AUTH
    )
    assert response.status_code == 200
    events = ndjson(response.text)
    assert [e["type"] for e in events] == ["start", "error"]  # the stored turn's ids first
    assert "did not list its models" in events[1]["message"]
    assert events[1]["code"] == "runner_failed"
    stored = client.get("/api/conversations", headers=AUTH).json()["conversations"]
    answer = conversation(client, stored[0]["id"])["messages"][-1]
    assert answer["status"] == "incomplete"  # the user's message is kept, the answer marked


def test_backend_dying_mid_stream_keeps_the_partial_answer(
    client: TestClient, double: OllamaDouble
) -> None:
    double.drop_final = True  # like `ollama serve` stopped mid-answer
    events = chat(client, "hi")
    assert events[-1]["type"] == "error"
    assert "without finishing" in events[-1]["message"]
    assert events[-1]["code"] == "runner_failed"
    answer = conversation(client, events[0]["conversation_id"])["messages"][-1]
    assert answer["status"] == "incomplete"
    assert answer["content"] == double.answer  # every token that arrived is kept


@pytest.fixture
def live_server(tmp_path: Any, double: OllamaDouble, database_url: str) -> Any:
    """The app served by uvicorn on a real port, on SQLite and on PostgreSQL."""
    settings = Settings(
        api_token=TOKEN,
        backend_url=double.url,
        data_dir=tmp_path / "live",
        database_url=database_url,
        rate_limit="off",
    )
    yield from serve_in_thread(create_app(settings))


def test_client_disconnect_stores_partial_and_cancels_the_backend(
    live_server: str, double: OllamaDouble
) -> None:
    # 60 s of answer, 30 s to see it cut: a loaded machine (tests in parallel, PostgreSQL
    # shared) notices the client gone long before its end; a quick one in a second
    double.answer = " ".join(f"word{i}" for i in range(3000))
    double.delay_s = 0.02
    cancelled_before = double.streams_cancelled

    async def scenario() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=live_server, headers=AUTH) as http:
            body = {"model": "llama3.2", "messages": [{"role": "user", "content": "long"}]}
            async with http.stream("POST", "/api/chat", json=body) as response:
                lines = response.aiter_lines()
                start = json.loads(await anext(lines))
                await anext(lines)  # a first token, then the client goes away
            deadline = time.monotonic() + 30
            while True:
                detail = (await http.get(f"/api/conversations/{start['conversation_id']}")).json()
                answer = detail["messages"][-1]
                if answer["status"] != "streaming" or time.monotonic() > deadline:
                    return answer
                await asyncio.sleep(0.05)

    answer = asyncio.run(scenario())
    assert answer["status"] == "incomplete"
    assert answer["error"] == "the client disconnected"
    assert answer["content"].startswith("word0")
    assert len(answer["content"]) < len(double.answer)
    wait_for(
        lambda: double.streams_cancelled == cancelled_before + 1, 5, "the runner to stop"
    )  # the runner stopped generating


def test_a_response_that_never_streamed_still_ends_its_answer(
    tmp_path: Any, double: OllamaDouble
) -> None:
    """The client is gone before the first byte: the events never run, yet the backend
    request is cancelled and the answer stored as incomplete."""
    # 20 s of answer: a loaded machine (tests in parallel) notices the client gone long
    # before its end
    double.answer = " ".join(f"word{i}" for i in range(1000))
    double.delay_s = 0.02
    cancelled_before = double.streams_cancelled

    async def scenario() -> dict[str, Any]:
        database = Database(f"sqlite:///{tmp_path / 'gone.db'}")
        await upgrade(database)
        store = ConversationStore(database)
        settings = Settings(backend_url=double.url, data_dir=tmp_path)
        backend = make_runner(settings.runner_specs()[0], settings)
        metrics = ServerMetrics()
        conversation = await store.add_turn(None, "gone", [MessageDraft("user", "long")])
        answer = Answer(message_id=new_id(), conversation_id=conversation, model="llama3.2")
        relay = Relay(backend, store, metrics, answer)
        relay.ask([{"role": "user", "content": "long"}], {})
        deadline = time.monotonic() + 10
        while relay.queue.empty() and time.monotonic() < deadline:  # the runner is answering
            await asyncio.sleep(0.01)

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(_message: Any) -> None:
            raise OSError("the client went away")

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}}
        with pytest.raises(ClientDisconnect):
            await RelayResponse(relay)(scope, receive, send)
        assert relay.reader is not None and relay.reader.done()
        assert metrics.active_streams._value.get() == 0
        stored = (await store.get(conversation, with_messages=True)).messages[-1]
        await backend.aclose()
        await database.dispose()
        return {"status": stored.status, "error": stored.error}

    assert asyncio.run(scenario()) == {"status": "incomplete", "error": "the client disconnected"}
    wait_for(
        lambda: double.streams_cancelled == cancelled_before + 1, 5, "the runner to stop"
    )  # the runner stopped generating


def test_concurrent_writes_to_one_conversation(live_server: str) -> None:
    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as http:
            created = (await http.post("/api/conversations", json={"title": "busy"})).json()

            async def one(i: int) -> list[str]:
                body = {
                    "model": "llama3.2",
                    "conversation_id": created["id"],
                    "messages": [{"role": "user", "content": f"question {i}"}],
                }
                text = (await http.post("/api/chat", json=body)).text
                return [e["type"] for e in ndjson(text)]

            results = await asyncio.gather(*(one(i) for i in range(10)))
            assert all(r[-1] == "done" for r in results), results
            detail = (await http.get(f"/api/conversations/{created['id']}")).json()
            questions = sorted(m["content"] for m in detail["messages"] if m["role"] == "user")
            assert questions == sorted(f"question {i}" for i in range(10))
            assert sum(m["status"] == "complete" for m in detail["messages"]) == 20

    asyncio.run(scenario(live_server))


def test_on_a_shared_database_only_silent_answers_are_marked_interrupted(
    database_url: str,
) -> None:
    """Replicas share the database: an answer another replica is writing stays streaming;
    one nobody wrote for the given time (its replica died) becomes incomplete."""
    from embedded_server.db.models import MessageStatus

    async def scenario() -> tuple[int, int, str]:
        database = Database(database_url)
        await upgrade(database)
        store = ConversationStore(database)
        conversation = await store.add_turn(None, "q", [MessageDraft("user", "q")])
        streaming = MessageDraft("assistant", "", "m", MessageStatus.STREAMING)
        answer = new_id()
        await store.add_turn(conversation, "", [streaming], [answer])
        await store.save_answer(answer, "partial")
        live = await store.mark_interrupted(silent_for_s=120)
        silent = await store.mark_interrupted(silent_for_s=0)
        status = (await store.history(conversation))[-1].status
        await database.dispose()
        return live, silent, status

    assert asyncio.run(scenario()) == (0, 1, "incomplete")
