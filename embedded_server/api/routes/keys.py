"""API keys over HTTP, for the admin token (the same as ``elite-assistant-server keys``):
list, create (the key shown once), set a key's rate limit, revoke."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from embedded_server.api.deps import require_admin
from embedded_server.api.schemas import NAME, KeyCreate, KeyCreated, KeyList, KeyPublic, KeyUpdate
from embedded_server.db.keys import KeyInfo, KeyRefused, KeyStore
from embedded_server.errors import ERROR_RESPONSES

KeyName = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME)]
router = APIRouter(
    prefix="/api/keys",
    tags=["keys"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_admin)],
)


def _keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


async def _info(keys: KeyStore, name: str) -> KeyInfo:
    return next(info for info in await keys.list() if info.name == name)


@router.get("")
async def list_keys(request: Request) -> KeyList:
    return KeyList(keys=[KeyPublic.model_validate(i) for i in await _keys(request).list()])


@router.post("", status_code=201)
async def create_key(body: KeyCreate, request: Request) -> KeyCreated:
    keys = _keys(request)
    try:
        key = await keys.create(body.name, body.rate_limit)
    except KeyRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return KeyCreated(**asdict(await _info(keys, body.name)), key=key)


@router.patch("/{name}")
async def update_key(name: KeyName, body: KeyUpdate, request: Request) -> KeyPublic:
    keys = _keys(request)
    try:
        await keys.set_limit(name, body.rate_limit)
    except KeyRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return KeyPublic.model_validate(await _info(keys, name))


@router.delete("/{name}", status_code=204)
async def revoke_key(name: KeyName, request: Request) -> Response:
    try:
        await _keys(request).revoke(name)
    except KeyRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return Response(status_code=204)
