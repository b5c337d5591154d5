"""API keys over HTTP, for the admin token (the same as ``elite-assistant-server keys``):
list, create (the key shown once), change a key's rate limit and limits, revoke."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from embedded_server.api.deps import require_admin
from embedded_server.api.schemas import (
    NAME,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyPublic,
    KeyUpdate,
    UsageReport,
)
from embedded_server.db.keys import KeyInfo, KeyRefused, KeyStore
from embedded_server.db.usage import UsageStore, days_since, totals
from embedded_server.errors import ERROR_RESPONSES
from embedded_server.key_limits import KeyLimits

KeyName = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME)]
Since = Annotated[str, Query(max_length=16, description="7d (the default), or a date")]
router = APIRouter(
    prefix="/api/keys",
    tags=["keys"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_admin)],
)


def _keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


def _public(info: KeyInfo) -> dict[str, Any]:
    """A key as the API shows it: its limits beside its other fields."""
    shown = asdict(info)
    limits: KeyLimits = shown.pop("limits")
    return {**shown, **limits.model_dump()}


async def _info(keys: KeyStore, name: str) -> dict[str, Any]:
    return _public(next(info for info in await keys.list() if info.name == name))


@router.get("")
async def list_keys(request: Request) -> KeyList:
    return KeyList(keys=[KeyPublic(**_public(i)) for i in await _keys(request).list()])


@router.post("", status_code=201)
async def create_key(body: KeyCreate, request: Request) -> KeyCreated:
    keys = _keys(request)
    limits = KeyLimits(**body.model_dump(include=set(KeyLimits.model_fields)))
    try:
        key = await keys.create(body.name, body.rate_limit, limits)
    except KeyRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return KeyCreated(**await _info(keys, body.name), key=key)


@router.get("/usage")
async def all_usage(request: Request, since: Since = "7d") -> UsageReport:
    """What every caller used (the admin token as ``(admin)``), by day and model."""
    return await _usage(request, None, since)


@router.get("/{name}/usage")
async def key_usage(name: KeyName, request: Request, since: Since = "7d") -> UsageReport:
    """What key ``name`` used since ``since`` (``7d``, or a date), by day and model:
    requests, failed ones, prompt and answer tokens."""
    return await _usage(request, name, since)


async def _usage(request: Request, name: str | None, since: str) -> UsageReport:
    try:
        days = days_since(since)
    except ValueError as exc:
        raise HTTPException(422, f"since: {exc}") from None
    usage: UsageStore = request.app.state.usage
    rows = await usage.report(name, days)
    return UsageReport(key=name, since=since, days=[r.public() for r in rows], total=totals(rows))


@router.patch("/{name}")
async def update_key(name: KeyName, body: KeyUpdate, request: Request) -> KeyPublic:
    """Only the fields given change; a limit given as null is the server's default again."""
    keys = _keys(request)
    changes = body.model_dump(include=body.model_fields_set)
    if changes.get("rate_limit", "") is None:
        changes["rate_limit"] = "default"
    try:
        await keys.update(name, changes)
    except KeyRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return KeyPublic(**await _info(keys, name))


@router.delete("/{name}", status_code=204)
async def revoke_key(name: KeyName, request: Request) -> Response:
    try:
        await _keys(request).revoke(name)
    except KeyRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return Response(status_code=204)
