"""Request dependencies as ``Annotated`` aliases: settings, database session, the calling account.

The dependencies are ``async`` so that FastAPI runs them on the event loop instead of one worker-thread
hop each. Anything that may wait on the database (verifying a key that is not cached, claiming
rate-limit admissions, committing or rolling back a session with work in it) still runs in the thread
pool; the common path (a cached key, a local admission, a session the route already committed) does not.

Example::

    @router.get("/things")
    def things(account: CurrentAccount, session: SessionDep) -> list[str]: ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from tradeready.server.auth_cache import AccountRef, AuthCache, KeyRef
from tradeready.server.errors import UnauthorizedError
from tradeready.server.settings import Settings
from tradeready.server.store.accounts import AccountStore

__all__ = [
    "AuthContext",
    "CurrentAccount",
    "CurrentAuth",
    "SessionDep",
    "SettingsDep",
    "authenticate_request",
    "extract_api_key",
    "run_authenticated",
]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _finish(session: Session, ok: bool) -> None:
    try:
        if ok:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed when the route returns, rolled back on any error.

    A session that holds no transaction (never used, or already committed by the route) is closed on
    the event loop; one with work in it is committed or rolled back in the thread pool.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(_finish, session, False)
        else:
            session.close()
        raise
    if session.in_transaction():
        await run_in_threadpool(_finish, session, True)
    else:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]  # commit BEFORE the response is sent


def extract_api_key(request: HTTPConnection) -> str | None:
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


def authenticate_request(request: HTTPConnection, session: Session) -> AuthContext:
    """The caller of ``request`` (verified, rate limited), or :class:`UnauthorizedError`; may query ``session``.

    Synchronous: for code already running in a worker thread. Routes use :data:`CurrentAuth`.
    """
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


def _auth_without_io(request: HTTPConnection) -> AuthContext | None:
    """The caller when its key is cached and the rate limiter admits it locally, else None (needs the database)."""
    cached = getattr(request.state, "auth", None)
    if isinstance(cached, AuthContext):
        return cached
    plaintext = extract_api_key(request)
    if not plaintext:
        return None
    cache: AuthCache = request.app.state.auth_cache
    hit = cache.get(cache.digest(plaintext))
    if hit is None or not request.app.state.rate_limiter.admit_local(hit.key.id):
        return None
    ctx = AuthContext(hit.account, hit.key)
    request.state.auth = ctx
    return ctx


async def get_auth(request: Request, session: SessionDep) -> AuthContext:
    """:func:`authenticate_request` on the event loop when no database access is needed, else in a thread."""
    ctx = _auth_without_io(request)
    if ctx is not None:
        return ctx
    if not extract_api_key(request):
        return authenticate_request(request, session)  # raises the 401 without touching the database
    return await run_in_threadpool(authenticate_request, request, session)


CurrentAuth = Annotated[AuthContext, Depends(get_auth)]


async def get_current_account(auth: CurrentAuth) -> AccountRef:
    return auth.account


CurrentAccount = Annotated[AccountRef, Depends(get_current_account)]


T = TypeVar("T")


def _authenticated_work(
    factory: sessionmaker[Session],
    request: HTTPConnection,
    ctx: AuthContext | None,
    work: Callable[[Session, AuthContext], T],
) -> T:
    with factory() as session:
        try:
            result = work(session, ctx if ctx is not None else authenticate_request(request, session))
            if session.in_transaction():  # a service that committed itself left nothing to do
                session.commit()
        except BaseException:
            session.rollback()
            raise
    return result


async def run_authenticated(
    request: HTTPConnection, work: Callable[[Session, AuthContext], T], *, inline: bool = True
) -> T:
    """Authenticate the caller, run ``work(session, auth)`` in one database session and commit it.

    ``request`` is an HTTP request or a WebSocket (then each message is authenticated like a request).

    The path of the hot write routes (episode ingest, heartbeats, remote steps): one call instead of
    FastAPI's per-dependency machinery, with the same rules as :data:`CurrentAuth` and
    :data:`SessionDep` (committed when ``work`` returns, rolled back when it raises; committed before
    the response is sent). When the key is cached, the rate limiter admits the call locally and
    ``inline`` is true, everything runs on the event loop (a few short statements); otherwise it runs
    in one worker thread, authentication included.

    Example::

        answer = await run_authenticated(request, lambda session, auth: service(session).step(auth.account.id, ...))
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    ctx = _auth_without_io(request) if inline else None
    if ctx is not None:
        return _authenticated_work(factory, request, ctx, work)
    return await run_in_threadpool(_authenticated_work, factory, request, None, work)
