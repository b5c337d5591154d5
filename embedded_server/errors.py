"""Every error is JSON ``{"error": "...", "code": "...", "detail"?: ...}``, never an HTML
page: ``error`` is for people, ``code`` (stable, see :data:`CODES`) for programs."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from embedded_server.backends.base import (
    BackendError,
    ContextOverflow,
    ModelNotFound,
    RequestRejected,
    Unsupported,
)
from embedded_server.quotas import Refused

log = logging.getLogger(__name__)


# The code of each status; a runner's refusal has its own (BackendError.code).
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "unsupported",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


# The message of an HTTPException whose detail is data (the error says what, detail how).
MESSAGES = {429: "rate limit exceeded"}


def code_for(status: int) -> str:
    return CODES.get(status, "error")


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str
    code: str
    detail: Any = None


def error_response(
    status: int,
    error: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "code": code or code_for(status)}
    if detail is not None:
        body["detail"] = jsonable_encoder(detail)
    return JSONResponse(body, status_code=status, headers=headers)


OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error in OpenAI's shape, for the ``/v1`` API (its clients read ``error.message``)."""
    return JSONResponse(openai_body(status, message, code), status_code=status, headers=headers)


def openai_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": OPENAI_TYPES.get(status, "server_error"),
            "param": None,
            "code": code or code_for(status),
        }
    }


def _respond(
    request: Request,
    status: int,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> JSONResponse:
    """Our error shape, or OpenAI's under ``/v1``."""
    if request.url.path.startswith("/v1/"):
        return openai_error(status, message, code, headers)
    return error_response(status, message, detail, headers, code)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Malformed request"),
        (401, "Missing or wrong bearer token"),
        (403, "Needs the admin token"),
        (404, "Not found"),
        (409, "Not possible with this runner, or a name already taken"),
        (413, "Request body too large"),
        (422, "Invalid request; context_overflow: the prompt cannot fit the model's window"),
        (429, "Rate limit exceeded (see Retry-After)"),
        (503, "A dependency is unavailable"),
    )
}


class OpenAIErrorDetail(BaseModel):
    """What OpenAI's clients read of an error."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    """The body of every error of the ``/v1`` API."""

    error: OpenAIErrorDetail


OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": OpenAIErrorBody, "description": text}
    for code, text in (
        (400, "Malformed or invalid request (the message names the field)"),
        (401, "Missing, wrong or revoked key"),
        (404, "No such model"),
        (413, "Request body too large"),
        (429, "Rate limit exceeded (see Retry-After)"),
        (503, "The model runner failed or does not answer"),
    )
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fallback = MESSAGES.get(exc.status_code, "request failed")
        message = exc.detail if isinstance(exc.detail, str) else fallback
        detail = None if isinstance(exc.detail, str) else exc.detail
        headers = getattr(exc, "headers", None)
        return _respond(request, exc.status_code, message, detail, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        if any(e.get("type") == "json_invalid" for e in errors):
            return _respond(request, 400, "the body is not valid JSON", errors)
        if request.url.path.startswith("/v1/"):  # OpenAI's clients show only the message
            where = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
            return openai_error(400, f"invalid request: {where}", "invalid_request")
        return error_response(422, "invalid request", errors)

    @app.exception_handler(BackendError)
    async def backend_failed(request: Request, exc: BackendError) -> JSONResponse:
        """A runner's refusal raised by a route: 404 unknown model or file, 409 what this
        runner cannot do, 422 a prompt that cannot fit (OpenAI's 400
        ``context_length_exceeded`` under ``/v1``), 400 another request the runner
        refused, 503 a runner that does not answer."""
        if isinstance(exc, ContextOverflow):
            return context_overflow(request, exc)
        status = 503
        if isinstance(exc, RequestRejected):
            status = 400
        elif isinstance(exc, ModelNotFound):
            status = 404
        elif isinstance(exc, Unsupported):
            status = 409
        return _respond(request, status, str(exc), code=exc.code)

    @app.exception_handler(Refused)
    async def over_a_limit(request: Request, exc: Refused) -> JSONResponse:
        """A key's limit: the message names it, ``detail.limit`` too; 429 with
        ``Retry-After``, 403 a model it may not use, 422 an answer longer than it may ask."""
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        detail = {"limit": exc.limit, "retry_after_s": exc.retry_after}
        status = exc.status
        if status == 422 and request.url.path.startswith("/v1/"):
            status = 400  # OpenAI's status for a request it will not take
        return _respond(request, status, str(exc), detail, headers, exc.code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _respond(request, 500, "internal error")


def context_overflow(request: Request, exc: ContextOverflow) -> JSONResponse:
    """A prompt that cannot fit: 422 ``context_overflow`` with the numbers, or under
    ``/v1`` OpenAI's own error (coding tools read its code and trim their prompts)."""
    numbers = {"tokens": exc.tokens, "window": exc.window, "reserved": exc.reserved}
    if request.url.path.startswith("/v1/"):
        message = (
            f"This model's maximum context length is {exc.window} tokens. However, you "
            f"requested {exc.tokens + exc.reserved} tokens ({exc.tokens} in the messages, "
            f"{exc.reserved} in the completion). Please reduce the length of the messages "
            "or completion."
        )
        body = openai_body(400, message, "context_length_exceeded")
        body["error"]["param"] = "messages"
        return JSONResponse(body, status_code=400)
    return error_response(422, str(exc), numbers, code=exc.code)
