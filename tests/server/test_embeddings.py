"""``POST /v1/embeddings`` through the official ``openai`` client: on the real built-in
runner with the bundled embedding model (converted to GGUF as the supervisor does), and
in front of the Ollama double (its recorded ``/api/embed`` shape); a key's limits, its
use and the metrics count the tokens the runner read."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from elite_panel.stack import embedding_model
from embedded_server.app import create_app
from embedded_server.config import Settings
from tests.conftest import EMBEDDING_SERVER_TOKEN
from tests.fakes.ollama_double import OllamaDouble, serve_in_thread
from tests.server.conftest import AUTH, TOKEN

REFERENCE = json.loads((Path(__file__).parents[1] / "data/minilm_reference.json").read_text())


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.model
def test_the_bundled_model_embeds_as_sentence_transformers_does(builtin_server: str) -> None:
    client = openai.OpenAI(
        base_url=f"{builtin_server}/v1", api_key=EMBEDDING_SERVER_TOKEN, max_retries=0
    )
    texts = REFERENCE["texts"]
    answer = client.embeddings.create(model=embedding_model.NAME, input=texts)  # base64
    assert [row.index for row in answer.data] == list(range(len(texts)))
    vectors = [row.embedding for row in answer.data]
    assert {len(v) for v in vectors} == {384}
    assert all(abs(math.hypot(*v) - 1) < 1e-4 for v in vectors)  # unit length
    # the same vectors as the model's own library makes (recorded), in the same order
    for got, expected in zip(vectors, REFERENCE["embeddings"], strict=True):
        assert cosine(got, expected) > 0.999
    read, code, weather = vectors[0], vectors[1], vectors[2]
    assert cosine(read, code) > cosine(read, weather) + 0.2  # a similar pair scores higher
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > len(texts) * 3

    one = client.embeddings.create(model=embedding_model.NAME, input=texts[0])
    assert cosine(one.data[0].embedding, read) > 0.9999  # alone or in a batch: the same
    again = client.embeddings.create(
        model=embedding_model.NAME, input=texts[0], encoding_format="float"
    )
    assert again.data[0].embedding == pytest.approx(one.data[0].embedding, abs=1e-6)
    short = client.embeddings.create(model=embedding_model.NAME, input="hi", dimensions=64)
    assert len(short.data[0].embedding) == 64
    assert abs(math.hypot(*short.data[0].embedding) - 1) < 1e-4
    with pytest.raises(openai.BadRequestError, match="384-dimensional"):
        client.embeddings.create(model=embedding_model.NAME, input="hi", dimensions=1024)


@pytest.mark.model
def test_the_embedding_model_is_listed_as_one_and_chat_still_answers(builtin_server: str) -> None:
    auth = {"Authorization": f"Bearer {EMBEDDING_SERVER_TOKEN}"}
    listed = httpx.get(f"{builtin_server}/api/models", headers=auth).json()["models"]
    kinds = {m["name"]: m.get("embedding", False) for m in listed}
    assert kinds[embedding_model.NAME] is True
    assert kinds["SmolLM2-135M-Instruct.Q4_1"] is False
    client = openai.OpenAI(
        base_url=f"{builtin_server}/v1", api_key=EMBEDDING_SERVER_TOKEN, max_retries=0
    )
    client.embeddings.create(model=embedding_model.NAME, input="first the embeddings")
    body = {"messages": [{"role": "user", "content": "Say hi."}], "options": {"max_tokens": 8}}
    events = httpx.post(f"{builtin_server}/api/chat", json=body, headers=auth, timeout=60)
    lines = [json.loads(line) for line in events.text.splitlines()]
    assert lines[0]["model"] == "SmolLM2-135M-Instruct.Q4_1"  # not the embedding model
    assert lines[-1]["type"] == "done", lines[-1]


@pytest.fixture
def double_server(double: OllamaDouble, tmp_path: Path) -> Iterator[str]:
    double.installed.append(
        {"name": "all-minilm:latest", "model": "all-minilm:latest", "size": 45_960_996,
         "details": {"family": "bert", "families": ["bert"], "format": "gguf",
                     "parameter_size": "23M", "quantization_level": "F16"}}
    )  # fmt: skip
    settings = Settings(api_token=TOKEN, backend_url=double.url, data_dir=tmp_path / "srv")
    yield from serve_in_thread(create_app(settings))


def test_through_ollama_with_a_keys_limits_use_and_metrics(
    double_server: str, double: OllamaDouble
) -> None:
    admin = openai.OpenAI(base_url=f"{double_server}/v1", api_key=TOKEN, max_retries=0)
    created = httpx.post(
        f"{double_server}/api/keys",
        json={"name": "indexer", "tpm": 40, "models": ["all-minilm"]},
        headers=AUTH,
    ).json()
    client = openai.OpenAI(base_url=f"{double_server}/v1", api_key=created["key"], max_retries=0)
    answer = client.embeddings.create(model="all-minilm", input=["the sky is blue", "blue sky"])
    assert double.requests[-1] == {
        "model": "all-minilm",
        "input": ["the sky is blue", "blue sky"],
        "truncate": True,
    }
    assert answer.usage.prompt_tokens == 10  # the runner's count (the double's: words + 2)
    assert len(answer.data) == 2 and len(answer.data[0].embedding) == 384
    listed = {m.id for m in admin.models.list()}
    assert "all-minilm:latest" in listed
    models = httpx.get(f"{double_server}/api/models", headers=AUTH).json()["models"]
    assert {m["name"]: m.get("embedding", False) for m in models}["all-minilm:latest"]

    with pytest.raises(openai.PermissionDeniedError, match="may use the models"):
        client.embeddings.create(model="llama3.2", input="not this model")
    words = " ".join(["word"] * 40)
    client.embeddings.create(model="all-minilm", input=words)  # 42 tokens: over, charged
    with pytest.raises(openai.RateLimitError, match="tokens a minute"):
        client.embeddings.create(model="all-minilm", input="one more")
    with pytest.raises(openai.NotFoundError, match="not found"):
        admin.embeddings.create(model="no-such-model", input="hi")
    with pytest.raises(openai.BadRequestError, match="input"):
        admin.embeddings.create(model="all-minilm", input="")

    usage = httpx.get(
        f"{double_server}/api/keys/usage", params={"since": "1d"}, headers=AUTH
    ).json()
    (row,) = [r for r in usage["days"] if r["key"] == "indexer" and r["model"] == "all-minilm"]
    assert row["prompt_tokens"] == 10 + 42 and row["completion_tokens"] == 0
    metrics = httpx.get(f"{double_server}/metrics").text
    assert 'assistant_tokens_embedded_total{model="all-minilm"} 52.0' in metrics
