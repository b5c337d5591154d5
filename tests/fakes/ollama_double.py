"""Test double of an Ollama server, built from recorded API examples.

No Ollama binary can run on the test machines, so this serves the shapes recorded from
ollama/ollama's docs and Go sources (``ollama_fixtures.json``, each example with its
provenance): ``/``, ``/api/version``, ``/api/tags``, ``/api/ps``, ``/api/show``,
``/api/delete``, streaming ``/api/generate`` (with :attr:`OllamaDouble.completion` as its
text; the unload idiom ``keep_alive: 0`` too), streaming
``/api/pull`` (layer progress, an unknown model failing mid-stream) and streaming
``/api/chat`` (NDJSON, a final chunk with ``done`` and nanosecond durations, 404 for an
unknown model).
``drop_final`` imitates ``ollama serve`` stopped mid-answer: the stream ends without ``done``.
``slots`` imitates ``OLLAMA_NUM_PARALLEL``: answers beyond it wait for a free slot before
their first token (what makes a busy runner slow to answer, for the pool's benchmark).
``num_ctx`` is the window the models run with (``PARAMETER num_ctx`` in ``/api/show``, and
``context_length`` of ``/api/ps``); ``prompt_eval_count`` of each answer is counted by the
double's own tokenizer, :func:`double_tokens` (Ollama counts after the fact, as this does).
With ``vocabulary`` (a GGUF file), ``/api/show`` with ``verbose`` shows that model's header
as Ollama does (the tokenizer's arrays filled; ``general.name`` and the chat template left
out) and the prompts are counted by its real tokenizer (llama.cpp), 5 tokens a message for
ChatML's markers.
``hang`` accepts chats and never answers them (a hung runner). A chat whose options hold a
negative number is refused with 400, as Ollama refuses an invalid option.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import hashlib
import json
import math
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from embedded_server.backends.gguf_header import iter_metadata
from embedded_server.backends.gguf_tokenizer import GgufTokenizers

FIXTURES = {
    f["id"]: f
    for f in json.loads((Path(__file__).with_name("ollama_fixtures.json")).read_text("utf-8"))
}


@dataclass
class OllamaDouble:
    """Behaviour knobs of a running double."""

    url: str = ""
    answer: str = "Here is the code:\n```python\nprint('hi')\n```"
    completion: str = "return a + b"  # /api/generate's text (fill-in-the-middle)
    drop_final: bool = False
    delay_s: float = 0.0  # between chunks, to leave time for a client to go away
    slots: int = 0  # answers generated at once (0: no limit); the others queue
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_ids: list[str | None] = field(default_factory=list)  # each chat's X-Request-ID
    streams_cancelled: int = 0  # streams whose client closed the connection early
    streams_finished: int = 0
    loaded: list[dict[str, Any]] | None = None  # /api/ps models; None: the recorded example
    installed: list[dict[str, Any]] = field(
        default_factory=lambda: copy.deepcopy(FIXTURES["tags"]["response"]["body"]["models"])
    )
    pull_steps: int = 5  # progress events of a pull's layer
    pulls_cancelled: int = 0  # pulls whose client closed the connection before the end
    unloaded: list[str] = field(default_factory=list)
    num_ctx: int | None = None
    hang: bool = False
    vocabulary: Path | None = None
    shown_overrides: dict[str, Any] = field(default_factory=dict)  # over the shown header
    shows_verbose: int = 0  # /api/show requests with verbose

    _slots: asyncio.Semaphore | None = None

    def slot(self) -> asyncio.Semaphore | contextlib.nullcontext[None]:
        """What an answer holds while it is generated."""
        if not self.slots:
            return contextlib.nullcontext()
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.slots)
        return self._slots

    def model_names(self) -> set[str]:
        names = set()
        for model in self.installed:
            names.add(model["name"])
            names.add(model["name"].removesuffix(":latest"))
        return names

    def find(self, name: str) -> dict[str, Any] | None:
        full = name if ":" in name else f"{name}:latest"
        return next((m for m in self.installed if m["name"] == full), None)


def build_app(double: OllamaDouble) -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def root() -> PlainTextResponse:
        return PlainTextResponse(FIXTURES["root-get"]["response"]["body_text"])

    @app.get("/api/version")
    async def version() -> dict[str, Any]:
        body: dict[str, Any] = FIXTURES["version"]["response"]["body"]
        return body

    @app.get("/api/tags")
    async def tags() -> dict[str, Any]:
        return {"models": double.installed}

    @app.post("/api/show")
    async def show(request: Request) -> Any:
        asked = await request.json()
        name = asked.get("model", "")
        if double.find(name) is None:
            return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)
        body: dict[str, Any] = copy.deepcopy(FIXTURES["show"]["response"]["body"])
        if asked.get("verbose"):
            double.shows_verbose += 1
            if double.vocabulary:
                body["model_info"] = {
                    **_shown_header(double.vocabulary),
                    **double.shown_overrides,
                }
        if double.num_ctx:
            body["parameters"] += f"\nnum_ctx                        {double.num_ctx}"
        return body

    @app.delete("/api/delete")
    async def delete(request: Request) -> Any:
        name = (await request.json()).get("model", "")
        found = double.find(name)
        if found is None:
            body = copy.deepcopy(FIXTURES["delete-not-found"]["response"]["body"])
            body["error"] = f"model '{name}' not found"
            return JSONResponse(body, status_code=404)
        double.installed.remove(found)
        return PlainTextResponse("")

    @app.post("/api/generate")
    async def generate(request: Request) -> Any:
        body = await request.json()
        if body.get("keep_alive") == 0:  # the unload idiom
            double.unloaded.append(body.get("model", ""))
            return FIXTURES["generate-unload"]["response"]["body"]
        double.requests.append(body)
        if body.get("model") not in double.model_names():
            return _model_not_found(body.get("model"))
        return StreamingResponse(
            _generate_stream(double, body["model"]), media_type="application/x-ndjson"
        )

    @app.post("/api/pull")
    async def pull(request: Request) -> StreamingResponse:
        name = (await request.json()).get("model", "")
        return StreamingResponse(_pull_stream(double, name), media_type="application/x-ndjson")

    @app.get("/api/ps")
    async def ps() -> dict[str, Any]:
        if double.loaded is not None:
            return {"models": double.loaded}
        body: dict[str, Any] = copy.deepcopy(FIXTURES["ps"]["response"]["body"])
        if double.num_ctx:
            for model in body["models"]:
                model["context_length"] = double.num_ctx
        return body

    @app.post("/api/chat")
    async def chat(request: Request) -> Any:
        body = await request.json()
        double.requests.append(body)
        double.request_ids.append(request.headers.get("x-request-id"))
        if body.get("model") not in double.model_names():
            return _model_not_found(body.get("model"))
        options = body.get("options") or {}
        if any(isinstance(v, int | float) and v < 0 for v in options.values()):
            return JSONResponse({"error": "invalid option: negative value"}, status_code=400)
        if double.hang:
            await asyncio.Event().wait()  # accepted, never answered
        texts = [m.get("content", "") for m in body["messages"]]
        if double.vocabulary:
            counts = await _TOKENIZERS.count(double.vocabulary, texts)
            prompt = sum(n + 5 for n in counts)
        else:
            prompt = sum(double_tokens(text) + 4 for text in texts)
        return StreamingResponse(
            _chat_stream(double, body["model"], options.get("num_predict"), prompt),
            media_type="application/x-ndjson",
        )

    @app.post("/api/embed")
    async def embed(request: Request) -> Any:
        """The recorded shape (``embed-single``, ``embed-multi``): unit-length vectors, in
        the inputs' order, and ``prompt_eval_count``; the vectors are the double's own
        (words hashed into :data:`EMBEDDING_DIMENSIONS` buckets), not a model's."""
        body = await request.json()
        double.requests.append(body)
        if body.get("model") not in double.model_names():
            error = copy.deepcopy(FIXTURES["embed-model-not-found"]["response"])
            error["body"]["error"] = f'model "{body.get("model")}" not found, try pulling it first'
            return JSONResponse(error["body"], status_code=error["status"])
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        answer = copy.deepcopy(FIXTURES["embed-single"]["response"]["body"])
        answer.update(
            model=body["model"],
            embeddings=[double_embedding(text) for text in texts],
            prompt_eval_count=sum(double_tokens(text) + 2 for text in texts),
        )
        return answer

    return app


EMBEDDING_DIMENSIONS = 384


def double_embedding(text: str) -> list[float]:
    """The double's embedding: each word adds one to a bucket chosen by its hash (stable
    across runs), scaled to unit length; texts sharing words point the same way."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in text.lower().split():
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "little") % EMBEDDING_DIMENSIONS] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _model_not_found(model: object) -> JSONResponse:
    """Ollama's 404 for a chat or generate naming a model it does not have."""
    error = copy.deepcopy(FIXTURES["chat-model-not-found"]["response"])
    error["body"]["error"] = f"model '{model}' not found"
    return JSONResponse(error["body"], status_code=error["status"])


async def _pull_stream(double: OllamaDouble, name: str) -> AsyncIterator[bytes]:
    """The recorded pull: progress for one layer, then success, and only then is the model
    installed (a pull cut short registers nothing); an unknown name fails mid-stream."""
    if name.startswith("does-not-exist"):
        for event in FIXTURES["pull-not-found"]["response"]["stream"]:
            yield json.dumps(event).encode() + b"\n"
        return
    first, layer, *rest = FIXTURES["pull-stream"]["response"]["stream"]
    total = layer["total"]
    try:
        yield json.dumps(first).encode() + b"\n"
        for step in range(1, double.pull_steps + 1):
            event = {**layer, "completed": total * step // double.pull_steps}
            yield json.dumps(event).encode() + b"\n"
            await asyncio.sleep(double.delay_s)
        for event in rest:
            yield json.dumps(event).encode() + b"\n"
    except (asyncio.CancelledError, GeneratorExit):
        double.pulls_cancelled += 1  # the client left: as Ollama, stop and keep nothing
        raise
    full = name if ":" in name else f"{name}:latest"
    model = {**copy.deepcopy(double.installed[0] if double.installed else {}), "name": full}
    model["model"], model["size"] = full, total
    double.installed.append(model)


_TOKENIZERS = GgufTokenizers()


@functools.cache
def _shown_header(path: Path) -> dict[str, Any]:
    """A GGUF file's metadata as Ollama's verbose ``/api/show`` has it."""
    with path.open("rb") as fh:
        header = dict(iter_metadata(fh))
    for key in ("general.name", "tokenizer.chat_template"):
        header.pop(key, None)
    return header


def double_tokens(text: str) -> int:
    """The double's tokenizer: a token per word, and one per three letters past a word's
    fourth (a count of its own, that the server's estimate must learn)."""
    return sum(1 + max(0, len(word) - 4) // 3 for word in text.split())


async def _chat_stream(
    double: OllamaDouble, model: str, limit: int | None = None, prompt_tokens: int = 0
) -> AsyncIterator[bytes]:
    """The answer, word by word; with ``limit`` (``num_predict``), that many words."""
    first, final = FIXTURES["chat-stream"]["response"]["stream"]
    words = double.answer.split(" ")
    if limit:
        words = (words * (limit // len(words) + 1))[:limit]
    finished = False
    try:
        async with double.slot():
            for index, word in enumerate(words):
                chunk = copy.deepcopy(first)
                chunk["model"] = model
                text = word if index == 0 else " " + word
                chunk["message"] = {"role": "assistant", "content": text}
                yield json.dumps(chunk).encode() + b"\n"
                await asyncio.sleep(double.delay_s)
        finished = True
        if double.drop_final:
            return
        done = copy.deepcopy(final)
        done["model"] = model
        done["done_reason"] = "stop"
        done["eval_count"] = len(words)
        done["prompt_eval_count"] = prompt_tokens
        yield json.dumps(done).encode() + b"\n"
    finally:
        if finished:
            double.streams_finished += 1
        else:
            double.streams_cancelled += 1


async def _generate_stream(double: OllamaDouble, model: str) -> AsyncIterator[bytes]:
    """The recorded generate stream's shape (``response`` pieces, then the counts), with
    :attr:`OllamaDouble.completion` as the text (a fill-in-the-middle answer)."""
    first, final = FIXTURES["generate-stream"]["response"]["stream"]
    pieces = double.completion.split(" ")
    for index, piece in enumerate(pieces):
        chunk = {**copy.deepcopy(first), "model": model}
        chunk["response"] = piece if index == 0 else " " + piece
        yield json.dumps(chunk).encode() + b"\n"
    done = {**copy.deepcopy(final), "model": model, "eval_count": len(pieces)}
    done.pop("context", None)
    yield json.dumps(done).encode() + b"\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_in_thread(app: FastAPI, port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn on loopback (``port``, or a free one); yields its URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    """``ollama serve`` as the double: listen on ``$OLLAMA_HOST`` (host:port); answers of
    ``$ELITE_DOUBLE_WORDS`` words, ``$ELITE_DOUBLE_DELAY_S`` apart, ``$ELITE_DOUBLE_SLOTS``
    at once (the cluster tests' runners)."""
    import os

    host, _, port = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434").rpartition(":")
    double = OllamaDouble(
        delay_s=float(os.environ.get("ELITE_DOUBLE_DELAY_S", "0")),
        slots=int(os.environ.get("ELITE_DOUBLE_SLOTS", "0")),
    )
    if words := int(os.environ.get("ELITE_DOUBLE_WORDS", "0")):
        double.answer = " ".join(f"w{i}" for i in range(words))
    uvicorn.run(build_app(double), host=host or "127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
