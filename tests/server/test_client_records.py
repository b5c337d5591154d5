"""The panel's typed records of the server's answers are the server's OpenAPI schemas: the
same fields, the same ones required (a field renamed on one side fails here, not inside a
widget); and a real server's answers parse into them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from elite_panel.client import records
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.server.conftest import AUTH, ndjson

# each record, and the schema of the server's OpenAPI document it copies
SCHEMAS = {
    records.Conversation: "ConversationPublic",
    records.Message: "MessagePublic",
    records.ConversationDetail: "ConversationDetail",
    records.ConversationPage: "ConversationPage",
    records.Model: "ModelPublic",
    records.LoadedModel: "LoadedModelPublic",
    records.Readiness: "Readiness",
    records.ServerInfo: "ServerInfo",
    records.Runner: "RunnerPublic",
    records.UsageReport: "UsageReport",
    records.ErrorBody: "ErrorBody",
}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(api_token="t", data_dir=tmp_path_factory.mktemp("data"))
    components: dict[str, Any] = create_app(settings).openapi()["components"]["schemas"]
    return components


@pytest.mark.parametrize("record", list(SCHEMAS), ids=lambda r: r.__name__)
def test_each_record_has_its_schemas_fields(record: type, schemas: dict[str, Any]) -> None:
    schema = schemas[SCHEMAS[record]]
    fields = {f.name: f for f in dataclasses.fields(record)}
    assert set(fields) == set(schema["properties"]), SCHEMAS[record]
    needed = {
        name
        for name, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert needed <= set(schema.get("required", [])), "the record needs what may be absent"


def test_a_servers_answers_parse_into_the_records(client: TestClient, tmp_path: Path) -> None:
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    started = ndjson(client.post("/api/chat", json=body, headers=AUTH).text)[0]
    listed = records.parse(
        records.ConversationPage, client.get("/api/conversations", headers=AUTH).json()
    )
    (conversation,) = listed.conversations
    assert conversation.id == started["conversation_id"] and conversation.updated_at.tzinfo
    path = f"/api/conversations/{conversation.id}"
    detail = records.parse(records.ConversationDetail, client.get(path, headers=AUTH).json())
    assert [m.role for m in detail.messages] == ["user", "assistant"]
    assert detail.messages[-1].context and detail.messages[-1].status == "complete"
    refused = client.get("/api/conversations/nope", headers=AUTH).json()
    assert records.parse(records.ErrorBody, refused).code == "not_found"
    assert records.to_json(detail)["messages"][0]["content"] == "hi"


def test_a_servers_pool_and_caller_parse_into_the_records(client: TestClient) -> None:
    info = records.parse(records.ServerInfo, client.get("/api/info", headers=AUTH).json())
    assert info.admin and info.key is None and info.version
    ready = records.parse(records.Readiness, client.get("/ready").json())
    assert ready.status == "ready" and ready.checks
    (runner,) = (
        records.parse(records.Runner, r)
        for r in client.get("/api/runners", headers=AUTH).json()["runners"]
    )
    assert runner.state in {"starting", "up"} and isinstance(runner.models, tuple)
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}
    client.post("/api/chat", json=body, headers=AUTH)
    report = client.get("/api/keys/usage", params={"since": "7d"}, headers=AUTH).json()
    (use,) = records.key_uses(records.parse(records.UsageReport, report))
    assert use.requests == 1 and use.prompt_tokens > 0
