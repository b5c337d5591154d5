"""Async HTTP client of the assistant server, shared by the CLI and the panel."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import ssl
from collections.abc import AsyncGenerator, Sequence
from typing import Any, cast
from urllib.parse import quote

import httpx

from elite_panel.client.records import (
    Conversation,
    ConversationDetail,
    ConversationPage,
    ErrorBody,
    KeyUse,
    LoadedModel,
    Model,
    Readiness,
    Runner,
    ServerInfo,
    UsageReport,
    key_uses,
    parse,
)
from elite_panel.core.errors import AssistantError

__all__ = ["AssistantClient", "AssistantError"]


class AssistantClient:
    """One ``httpx.AsyncClient`` for the assistant server, for the owner's lifetime."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout_s: float = 300.0,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        """``verify``: check the server's certificate (a context with a CA of its own)."""
        self.base_url = base_url
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            trust_env=False,
            verify=verify,
        )

    def chat(
        self,
        messages: Sequence[dict[str, str]],
        model: str | None = None,
        conversation_id: str | None = None,
        system: str | None = None,
        context_policy: str | None = None,
        reference: str | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The NDJSON events of one answer: ``start`` (with ``context``), ``token``...,
        ``done`` or ``error``. A prompt that cannot fit its model's window raises
        :class:`AssistantError` with code ``context_overflow`` before any event. Leaving
        before the end: close it (``contextlib.aclosing``), which closes the request.
        ``reference``: a project's code for this turn (sent, counted, not stored)."""
        body = _chat_body(messages, model, conversation_id, system, context_policy, reference)
        return self._events("/api/chat", body)

    async def count(
        self,
        messages: Sequence[dict[str, str]],
        model: str | None = None,
        conversation_id: str | None = None,
        system: str | None = None,
        reference: str | None = None,
    ) -> dict[str, Any]:
        """What a chat of ``messages`` would take of its model's window, sent nowhere:
        ``fits``, ``model``, ``context`` (window, prompt_tokens, reserved,
        omitted_messages), and the refusal's ``error`` when it would not fit."""
        body = _chat_body(messages, model, conversation_id, system, None, reference)
        result: dict[str, Any] = (await self._request("POST", "/api/chat/count", json=body)).json()
        return result

    async def _events(
        self, path: str, body: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The NDJSON events of a streamed answer (chat, pull, import)."""
        try:
            async with self._http.stream("POST", path, json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _refusal(response)
                # aclosing: leaving early (Stop, Cancel) closes httpx's line reader here,
                # not in the garbage collector, where it cannot await its connection.
                reader = cast(AsyncGenerator[str, None], response.aiter_lines())
                async with contextlib.aclosing(reader) as lines:
                    async for line in lines:
                        if line.strip():
                            yield json.loads(line)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc

    async def readiness(self) -> Readiness:
        """``/ready``'s answer (ready or not: a 503 is an answer too)."""
        try:
            response = await self._http.get("/ready")
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise _refusal(response) from exc
        return parse(Readiness, body)

    async def info(self) -> ServerInfo:
        """The server's version and who the key is."""
        return parse(ServerInfo, (await self._request("GET", "/api/info")).json())

    async def usage(self, since: str = "7d") -> list[KeyUse]:
        """What each caller used since ``since`` (the admin token's), the busiest first."""
        response = await self._request("GET", "/api/keys/usage", params={"since": since})
        return key_uses(parse(UsageReport, response.json()))

    async def runners(self) -> list[Runner]:
        """The server's pool: each runner's state, models, requests in flight, last error."""
        runners = (await self._request("GET", "/api/runners")).json()["runners"]
        return [parse(Runner, runner) for runner in runners]

    async def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """``texts`` embedded by ``model`` (``/v1/embeddings``), unit length, in order."""
        body = {"model": model, "input": list(texts), "encoding_format": "float"}
        answer = (await self._request("POST", "/v1/embeddings", json=body)).json()
        return [row["embedding"] for row in sorted(answer["data"], key=lambda r: r["index"])]

    async def models(self) -> list[Model]:
        """The runner's models, each with its windows and its number of conversations."""
        listed = (await self._request("GET", "/api/models")).json()
        return [parse(Model, model) for model in listed.get("models", [])]

    async def loaded_models(self) -> list[LoadedModel]:
        listed = (await self._request("GET", "/api/models/loaded")).json()
        return [parse(LoadedModel, model) for model in listed.get("models", [])]

    async def model(self, name: str) -> dict[str, Any]:
        details: dict[str, Any] = (await self._request("GET", f"/api/models/{name}")).json()
        return details

    def pull_model(self, name: str) -> AsyncGenerator[dict[str, Any], None]:
        """Progress events; a failure is an ``{"error": ...}`` event."""
        return self._events("/api/models/pull", {"name": name})

    def import_model(
        self, path: str, name: str | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        return self._events("/api/models/import", {"path": path, "name": name})

    async def delete_model(self, name: str) -> None:
        await self._request("DELETE", f"/api/models/{name}")

    async def unload_model(self, name: str) -> None:
        await self._request("POST", f"/api/models/{name}/unload")

    async def conversations(self, query: str = "", limit: int = 50) -> ConversationPage:
        params = {"q": query, "limit": limit}
        response = await self._request("GET", "/api/conversations", params=params)
        return parse(ConversationPage, response.json())

    async def conversation(
        self, conversation_id: str, last: int | None = None, before: str | None = None
    ) -> ConversationDetail:
        """A conversation with all its messages, or its newest ``last`` ones (before the
        message ``before``); ``earlier`` says how many older ones remain."""
        params: dict[str, str | int] = {}
        if last is not None:
            params["last"] = last
        if before is not None:
            params["before"] = before
        path = f"/api/conversations/{quote(conversation_id, safe='')}"
        detail = parse(ConversationDetail, (await self._request("GET", path, params=params)).json())
        if last is not None and not detail.earlier and len(detail.messages) > last:
            return _page_of(detail, last, before)  # a server from before pages: all came
        return detail

    async def export(self, conversation_id: str, fmt: str) -> str:
        path = f"/api/conversations/{quote(conversation_id, safe='')}/export"
        return (await self._request("GET", path, params={"format": fmt})).text

    async def update_conversation(self, conversation_id: str, **changes: Any) -> Conversation:
        path = f"/api/conversations/{quote(conversation_id, safe='')}"
        return parse(Conversation, (await self._request("PATCH", path, json=changes)).json())

    async def truncate(self, conversation_id: str, message_id: str) -> None:
        path = f"/api/conversations/{quote(conversation_id, safe='')}/truncate"
        await self._request("POST", path, json={"message_id": message_id})

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._request("DELETE", f"/api/conversations/{quote(conversation_id, safe='')}")

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if not response.is_success:
            raise _refusal(response)
        return response

    def _unreachable(self, exc: httpx.HTTPError) -> AssistantError:
        reason = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            return AssistantError(
                f"the certificate of {self.base_url} does not verify ({_tls_reason(reason)}): "
                "give the CA that signed it as [remote] ca_file",
                code="certificate",
            )
        if isinstance(exc, httpx.ConnectError) and any(n in reason for n in NAME_ERRORS):
            host = httpx.URL(self.base_url).host
            return AssistantError(
                f"{host} is not a known host name: check [remote] url and the network",
                code="unreachable",
            )
        if isinstance(exc, httpx.ConnectError):
            return AssistantError(
                f"cannot connect to {self.base_url} ({reason}): check that the server is "
                "running and that the address is right",
                code="unreachable",
            )
        if isinstance(exc, httpx.TimeoutException):
            return AssistantError(
                f"{self.base_url} did not answer in time: check the server and the network",
                code="unreachable",
            )
        return AssistantError(
            f"the assistant server at {self.base_url} failed: {exc}", code="unreachable"
        )

    async def aclose(self) -> None:
        await self._http.aclose()


# How the resolver says a host name is unknown (glibc, glibc without DNS, macOS).
NAME_ERRORS = (
    "Name or service not known",
    "Temporary failure in name resolution",
    "nodename nor servname",
)


def _tls_reason(message: str) -> str:
    """OpenSSL's reason from an error such as "[SSL: CERTIFICATE_VERIFY_FAILED] certificate
    verify failed: self-signed certificate (_ssl.c:992)"."""
    reason = message.split("certificate verify failed:", 1)[-1]
    return reason.split("(_ssl", 1)[0].strip() or "not trusted"


def _refusal(response: httpx.Response) -> AssistantError:
    """The server's error answer: its message and its ``code``."""
    try:
        answer = response.json()
        inner = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(inner, dict):  # the OpenAI API's shape (/v1)
            answer = {"error": inner.get("message", ""), "code": inner.get("code") or "error"}
        body = parse(ErrorBody, answer)
    except (ValueError, AssistantError):  # not JSON, or not our error shape (a proxy's)
        body = ErrorBody(response.text)
    message, code = body.error, body.code
    if response.status_code == 401:
        return AssistantError(
            "the server refused the key (revoked, or not this server's): set a valid one", code
        )
    if response.status_code == 429:
        wait = response.headers.get("retry-after", "a few")
        if message == "rate limit exceeded":  # the request rate; a key's limits say theirs
            message = "rate limited by the server"
        return AssistantError(f"{message}: try again in {wait} s", code)
    if code == "context_overflow":  # the message says the numbers and what to do
        return AssistantError(str(message), code)
    return AssistantError(f"the assistant server answered {response.status_code}: {message}", code)


def _chat_body(
    messages: Sequence[dict[str, str]],
    model: str | None,
    conversation_id: str | None,
    system: str | None,
    context_policy: str | None,
    reference: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": list(messages)}
    optional = {
        "model": model,
        "system": system,
        "reference": reference,
        "conversation_id": conversation_id,
        "context_policy": context_policy,
    }
    body.update((key, value) for key, value in optional.items() if value)
    return body


def _page_of(detail: ConversationDetail, last: int, before: str | None) -> ConversationDetail:
    """The page a server with pages would give (the newest ``last`` messages before
    ``before``, and ``earlier``) cut from a whole history."""
    messages = list(detail.messages)
    if before is not None:
        ids = [m.id for m in messages]
        messages = messages[: ids.index(before)] if before in ids else []
    earlier = max(0, len(messages) - last)
    return dataclasses.replace(detail, messages=tuple(messages[earlier:]), earlier=earlier)
