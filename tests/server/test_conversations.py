"""Conversations API: create, list (pinned first, newest first), search, edit, delete,
export; on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import AUTH, MakeClient, ndjson


@pytest.fixture
def api(make_client: MakeClient, database_url: str) -> TestClient:
    client: TestClient = make_client(database_url=database_url)
    return client


def create(api: TestClient, title: str) -> str:
    response = api.post("/api/conversations", json={"title": title}, headers=AUTH)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def ask(api: TestClient, prompt: str, conversation_id: str | None = None) -> str:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": prompt}]}
    if conversation_id:
        body["conversation_id"] = conversation_id
    events = ndjson(api.post("/api/chat", json=body, headers=AUTH).text)
    assert events[-1]["type"] == "done", events
    return str(events[0]["conversation_id"])


def titles(api: TestClient, **params: object) -> list[str]:
    response = api.get("/api/conversations", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return [c["title"] for c in response.json()["conversations"]]


def test_list_is_pinned_first_then_newest(api: TestClient) -> None:
    for title in ("oldest", "middle", "newest"):
        create(api, title)
    assert titles(api) == ["newest", "middle", "oldest"]
    oldest = api.get("/api/conversations", headers=AUTH).json()["conversations"][-1]["id"]
    response = api.patch(f"/api/conversations/{oldest}", json={"pinned": True}, headers=AUTH)
    assert response.json()["pinned"] is True
    assert titles(api) == ["oldest", "newest", "middle"]
    assert titles(api, limit=1, offset=1) == ["newest"]
    assert api.get("/api/conversations", headers=AUTH).json()["total"] == 3


def test_a_new_answer_moves_its_conversation_up(api: TestClient) -> None:
    first = ask(api, "alpha question")
    ask(api, "beta question")
    assert titles(api) == ["beta question", "alpha question"]
    ask(api, "alpha again", conversation_id=first)
    assert titles(api) == ["alpha question", "beta question"]


def test_search_finds_titles_and_message_text(api: TestClient) -> None:
    ask(api, "How do I reverse a linked list?")
    ask(api, "Explain Python decorators")
    create(api, "Kubernetes notes")
    assert titles(api, q="decorators") == ["Explain Python decorators"]
    assert titles(api, q="kubern") == ["Kubernetes notes"]  # prefix search as you type
    assert titles(api, q="LINKED list") == ["How do I reverse a linked list?"]
    # the answer's text is searched too (the double answers with Python code)
    assert set(titles(api, q="print")) == {
        "How do I reverse a linked list?",
        "Explain Python decorators",
    }
    assert titles(api, q="nothing-matches-this") == []
    assert titles(api, q='"; DROP TABLE conversations; --') == []  # quoting is safe
    assert len(titles(api)) == 3


def test_times_carry_their_utc_offset(api: TestClient) -> None:
    """RFC 3339 as the schema says, also on SQLite, which stores no zone."""
    detail = api.get(f"/api/conversations/{ask(api, 'when')}", headers=AUTH).json()
    times = [detail["created_at"], detail["updated_at"]]
    times += [m["created_at"] for m in detail["messages"]]
    assert all(datetime.fromisoformat(t).utcoffset() == timedelta(0) for t in times), times


def test_rename_and_validation(api: TestClient) -> None:
    conversation_id = create(api, "draft")
    response = api.patch(
        f"/api/conversations/{conversation_id}", json={"title": "final"}, headers=AUTH
    )
    assert response.status_code == 200 and response.json()["title"] == "final"
    assert titles(api, q="final") == ["final"]
    assert titles(api, q="draft") == []
    bad = api.patch(f"/api/conversations/{conversation_id}", json={"title": ""}, headers=AUTH)
    assert bad.status_code == 422


def test_delete_removes_messages_too(api: TestClient) -> None:
    conversation_id = ask(api, "to be deleted")
    assert api.delete(f"/api/conversations/{conversation_id}", headers=AUTH).status_code == 204
    assert api.get(f"/api/conversations/{conversation_id}", headers=AUTH).status_code == 404
    assert titles(api, q="deleted") == []
    assert titles(api, q="print") == []  # its messages left the search index
    again = api.delete(f"/api/conversations/{conversation_id}", headers=AUTH)
    assert again.status_code == 404


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_conversation_is_404(api: TestClient, method: str) -> None:
    kwargs = {"json": {"pinned": True}} if method == "patch" else {}
    response = getattr(api, method)("/api/conversations/missing", headers=AUTH, **kwargs)
    assert response.status_code == 404
    assert response.json() == {"error": "no conversation 'missing'", "code": "not_found"}


def test_export_markdown_and_json(api: TestClient) -> None:
    conversation_id = ask(api, "Show me hello world in Python")
    markdown = api.get(f"/api/conversations/{conversation_id}/export", headers=AUTH)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert 'filename="Show-me-hello-world-in-Python.md"' in markdown.headers["content-disposition"]
    text = markdown.text
    assert text.startswith("# Show me hello world in Python\n")
    assert "## You\n\nShow me hello world in Python" in text
    assert "## Assistant (llama3.2)\n\nHere is the code:\n```python\nprint('hi')\n```" in text
    exported = api.get(
        f"/api/conversations/{conversation_id}/export", params={"format": "json"}, headers=AUTH
    )
    data = json.loads(exported.text)
    assert data["id"] == conversation_id
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    bad = api.get(
        f"/api/conversations/{conversation_id}/export", params={"format": "pdf"}, headers=AUTH
    )
    assert bad.status_code == 422


def test_limits_are_validated(api: TestClient) -> None:
    for params in ({"limit": 0}, {"limit": 1000}, {"offset": -1}):
        assert api.get("/api/conversations", params=params, headers=AUTH).status_code == 422


def test_truncate_removes_a_message_and_what_follows(api: TestClient) -> None:
    conversation_id = ask(api, "first")
    ask(api, "second", conversation_id)
    messages = api.get(f"/api/conversations/{conversation_id}", headers=AUTH).json()["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["first", "second"]
    second = messages[2]["id"]
    response = api.post(
        f"/api/conversations/{conversation_id}/truncate", json={"message_id": second}, headers=AUTH
    )
    assert response.json() == {"deleted": 2}
    left = api.get(f"/api/conversations/{conversation_id}", headers=AUTH).json()["messages"]
    assert [m["role"] for m in left] == ["user", "assistant"]
    other = ask(api, "elsewhere")
    foreign = api.get(f"/api/conversations/{other}", headers=AUTH).json()["messages"][0]["id"]
    refused = api.post(
        f"/api/conversations/{conversation_id}/truncate", json={"message_id": foreign}, headers=AUTH
    )
    assert refused.status_code == 404
    assert len(api.get(f"/api/conversations/{other}", headers=AUTH).json()["messages"]) == 2


def test_history_pages_back_from_the_newest(api: TestClient) -> None:
    conversation = ask(api, "prompt 0")
    for i in range(1, 5):
        ask(api, f"prompt {i}", conversation)  # 10 messages: 5 prompts, 5 answers
    url = f"/api/conversations/{conversation}"
    everything = api.get(url, headers=AUTH).json()
    assert len(everything["messages"]) == 10 and everything["earlier"] == 0
    ids = [m["id"] for m in everything["messages"]]

    newest = api.get(url, params={"last": 4}, headers=AUTH).json()
    assert [m["id"] for m in newest["messages"]] == ids[6:]
    assert newest["earlier"] == 6 and newest["title"] == everything["title"]
    page = api.get(url, params={"last": 4, "before": ids[6]}, headers=AUTH).json()
    assert [m["id"] for m in page["messages"]] == ids[2:6] and page["earlier"] == 2
    first = api.get(url, params={"last": 4, "before": ids[2]}, headers=AUTH).json()
    assert [m["id"] for m in first["messages"]] == ids[:2] and first["earlier"] == 0

    unknown = api.get(url, params={"last": 4, "before": "nope"}, headers=AUTH)
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    other = create(api, "other")
    elsewhere = api.get(
        f"/api/conversations/{other}", params={"last": 4, "before": ids[3]}, headers=AUTH
    )
    assert elsewhere.status_code == 404  # a message of another conversation
    assert api.get(url, params={"last": 0}, headers=AUTH).status_code == 422
    alone = api.get(url, params={"before": ids[3]}, headers=AUTH).json()  # a page of 50
    assert [m["id"] for m in alone["messages"]] == ids[:3] and alone["earlier"] == 0
