"""Test double of an OpenAI-compatible server (``/v1/models``, streaming
``/v1/chat/completions``), shaped like the built-in llama.cpp runner's answers: SSE
``data:`` lines of ``chat.completion.chunk`` objects, a last chunk with
``finish_reason``, then ``data: [DONE]``. It streams as fast as the client reads, which
makes it the baseline backend of the relay benchmark.

Shapes recorded from llama-cpp-python's server (0.3): a first chunk whose delta is
``{"role": "assistant"}``, ``"logprobs": null`` in each choice, no ``usage``. An unknown
model gets OpenAI's 404 error object (the llama.cpp runner ignores the name).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

MODEL = "double-model"


@dataclass
class OpenAIDouble:
    url: str = ""
    tokens: int = 100
    token_text: str = "tok "
    delay_s: float = 0.0  # between tokens; 0 = as fast as the client reads
    streams_cancelled: int = 0  # streams whose client closed the connection early


def build_app(double: OpenAIDouble) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "me"}]}

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        if body.get("model") != MODEL:
            return JSONResponse(
                {
                    "error": {
                        "message": f"model {body.get('model')!r} not found",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
                status_code=404,
            )
        return StreamingResponse(_sse(double), media_type="text/event-stream")

    return app


def _chunk(delta: dict[str, str], finish: str | None) -> bytes:
    event = {
        "id": "chatcmpl-double",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


async def _sse(double: OpenAIDouble) -> AsyncIterator[bytes]:
    finished = False
    try:
        yield _chunk({"role": "assistant"}, None)
        for _ in range(double.tokens):
            yield _chunk({"content": double.token_text}, None)
            if double.delay_s:
                await asyncio.sleep(double.delay_s)
        yield _chunk({}, "stop")
        yield b"data: [DONE]\n\n"
        finished = True
    finally:
        if not finished:
            double.streams_cancelled += 1


def main() -> None:
    """``python -m tests.fakes.openai_double PORT [TOKENS [DELAY_S]]``: serve the double
    (benchmarks)."""
    import sys

    import uvicorn

    port = int(sys.argv[1])
    tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    delay_s = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    uvicorn.run(
        build_app(OpenAIDouble(tokens=tokens, delay_s=delay_s)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
