"""Request dependencies as ``Annotated`` aliases: settings, database session, the calling account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from tradeready.server.auth_cache import AccountRef, AuthCache, KeyRef
from tradeready.server.errors import UnauthorizedError
from tradeready.server.settings import Settings
from tradeready.server.store.accounts import AccountStore

__all__ = ["AuthContext", "CurrentAccount", "CurrentAuth", "SessionDep", "SettingsDep", "extract_api_key"]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back on any error."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]  # commit BEFORE the response is sent


def extract_api_key(request: Request) -> str | None:
    """The API key from ``X-API-Key`` or ``Authorization: Bearer``."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


class AuthContext:
    """Who is calling: the account and the key used."""

    __slots__ = ("account", "key")

    def __init__(self, account: AccountRef, key: KeyRef) -> None:
        self.account = account
        self.key = key


def get_auth(request: Request, session: SessionDep) -> AuthContext:
    cached = getattr(request.state, "auth", None)
    if isinstance(cached, AuthContext):
        return cached
    plaintext = extract_api_key(request)
    if not plaintext:
        raise UnauthorizedError(
            "Missing API key: send it as 'X-API-Key: ak_live_...' or 'Authorization: Bearer ak_live_...'. "
            "Create one with `tradeready init` or `tradeready keys create`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache: AuthCache = request.app.state.auth_cache
    digest = cache.digest(plaintext)
    hit = cache.get(digest)
    if hit is not None:
        account, key = hit.account, hit.key
    else:
        found = AccountStore(session).authenticate(plaintext)
        if found is None:
            raise UnauthorizedError("Invalid or revoked API key.", headers={"WWW-Authenticate": "Bearer"})
        account, key = AccountRef.of(found[0]), KeyRef.of(found[1])
        cache.put(digest, account, key)
    request.app.state.rate_limiter.check(key.id)
    ctx = AuthContext(account, key)
    request.state.auth = ctx
    return ctx


CurrentAuth = Annotated[AuthContext, Depends(get_auth)]


def get_current_account(auth: CurrentAuth) -> AccountRef:
    return auth.account


CurrentAccount = Annotated[AccountRef, Depends(get_current_account)]
