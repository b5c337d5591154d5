"""Pure-ASGI middleware: one for what every request needs (its request id, security
headers, the body size limit, the HTTP metrics and one access line when it ends; the rate
limit needs to know who asks: see ``api/deps.py``), one for the metrics' own port.

Pure ASGI (not ``BaseHTTPMiddleware``) so that streamed answers pass through untouched.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedded_server.api.routes.health import metrics_answer
from embedded_server.errors import code_for, error_response, openai_body
from embedded_server.logging_setup import REQUEST, request_id
from embedded_server.metrics import ServerMetrics

access = logging.getLogger("embedded_server.access")

STREAMED = (b"text/event-stream", b"application/x-ndjson")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


class _BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException, so FastAPI's body parsing lets
    it through to the JSON error handler."""


class MetricsPortMiddleware:
    """``/metrics`` alone on their own port (``ASSISTANT_METRICS_PORT``), for
    ``ASSISTANT_METRICS_CLIENTS``; the API's port answers ``/metrics`` with 404.

    Outermost: the metrics' port is scraped directly (no proxy, no Host check)."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, port: int, clients: list[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.port = port
        self.clients = clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        on_metrics_port = (
            scope["type"] == "http" and (scope.get("server") or ("", 0))[1] == self.port
        )
        if scope["type"] != "http" or (not on_metrics_port and scope["path"] != "/metrics"):
            await self.app(scope, receive, send)
            return
        if on_metrics_port and scope["path"] == "/metrics":
            client = (scope.get("client") or ("", 0))[0]
            response = metrics_answer(client, self.clients, self.metrics)
        else:
            response = error_response(404, "not found")
        await response(scope, receive, send)


class ProtectionMiddleware:
    """Body-size limit and request metrics, before any route."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "sent": False}
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"")
        served = {"id": request_id(given.decode("latin-1"))}
        token = REQUEST.set(served)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["sent"] = True
                headers = [
                    *message.get("headers", []),
                    *SECURITY_HEADERS,
                    (b"x-request-id", served["id"].encode()),
                ]
                if dict(headers).get(b"content-type", b"").startswith(STREAMED):
                    headers.append((b"x-accel-buffering", b"no"))  # nginx: pass tokens at once
                message["headers"] = headers
                self._observe(scope, state["status"], started)
            await send(message)

        try:
            early = self._refuse(scope)
            if early is not None:
                await _send_json(send_wrapper, scope, *early)
                return
            await self.app(scope, self._limited(receive), send_wrapper)
        except _BodyTooLarge:
            if not state["sent"]:
                await _send_json(send_wrapper, scope, 413, self._too_large())
        finally:
            _log_access(scope, served, state["status"], started)
            REQUEST.reset(token)

    def _refuse(self, scope: Scope) -> tuple[int, dict[str, Any]] | None:
        query = scope.get("query_string", b"").lower()
        if b"%00" in query or b"\x00" in query:  # never a database's problem, whichever
            return 422, {"error": "a query parameter holds a NUL character"}
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                return 400, {"error": "invalid Content-Length"}
            if too_big:
                return 413, self._too_large()
        return None

    def _too_large(self) -> dict[str, Any]:
        return {"error": f"request body larger than {self.max_body} bytes"}

    def _limited(self, receive: Receive) -> Receive:
        received = 0

        async def wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge(413, self._too_large()["error"])
            return message

        return wrapper

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        self.metrics.requests.labels(method, endpoint, str(status)).inc()
        self.metrics.duration.labels(method, endpoint).observe(time.perf_counter() - started)


def _log_access(scope: Scope, served: dict[str, Any], status: int, started: float) -> None:
    """One line per request, when it ends (a streamed answer: at its last token): the
    route, status, duration, key and tokens; never a query string, a header or a body."""
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    key = (scope.get("state") or {}).get("key_name") or served.get("key")
    fields = {
        "method": scope["method"],
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "key": key or "admin",
        "tokens": served.get("tokens"),
    }
    access.info("%s %s %s %.1f ms", scope["method"], route, status, duration_ms, extra=fields)


async def _send_json(send: Send, scope: Scope, status: int, body: dict[str, Any]) -> None:
    """Our error shape, or OpenAI's under ``/v1``."""
    if scope["path"].startswith("/v1/"):
        payload = json.dumps(openai_body(status, str(body["error"]))).encode()
    else:
        payload = json.dumps({**body, "code": code_for(status)}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})
