"""The calling account and its API keys."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from tradeready.server.api.deps import CurrentAccount, SessionDep
from tradeready.server.errors import NotFoundError
from tradeready.server.schemas.accounts import (
    AccountPublic,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ApiKeysPublic,
)
from tradeready.server.store.accounts import AccountStore

router = APIRouter(tags=["account"])


@router.get("/account")
def get_account(account: CurrentAccount) -> AccountPublic:
    return AccountPublic.model_validate(account)


@router.get("/keys")
def list_keys(account: CurrentAccount, session: SessionDep) -> ApiKeysPublic:
    keys = AccountStore(session).list_keys(account.id)
    return ApiKeysPublic(keys=[ApiKeyPublic.model_validate(k) for k in keys])


@router.post("/keys", status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, account: CurrentAccount, session: SessionDep) -> ApiKeyCreated:
    created = AccountStore(session).create_key(account.id, body.name)
    public = ApiKeyPublic.model_validate(created.key)
    return ApiKeyCreated(**public.model_dump(by_alias=False), api_key=created.plaintext)


@router.delete("/keys/{key_id}")
def revoke_key(key_id: str, account: CurrentAccount, session: SessionDep, request: Request) -> ApiKeyPublic:
    store = AccountStore(session)
    key = store.get_key(account.id, key_id)
    if key is None:
        raise NotFoundError(f"No API key {key_id!r} in this account.", code="key_not_found")
    revoked = store.revoke_key(key)
    request.app.state.auth_cache.forget_key(key_id)
    return ApiKeyPublic.model_validate(revoked)
