"""Dashboard sign-in: a signed, httpOnly, SameSite=Lax, expiring session cookie, and CSRF checks.

The API key is exchanged once, on sign-in, for a cookie that names the account and the key *id*
(never the key itself). Every request re-checks that the key still exists and is not revoked, so
revoking a key signs its dashboard sessions out.

Example::

    signer = SessionSigner(load_session_secret(settings), max_age_s=settings.session_max_age_s)
    cookie = signer.dumps(SessionData(account_id="acc_1", key_id="key_1", csrf=new_csrf_token()))
    signer.loads(cookie)   # -> SessionData, or None when tampered with or expired
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from tradeready.server.api.deps import SessionDep, SettingsDep
from tradeready.server.errors import PlatformError, UnauthorizedError
from tradeready.server.settings import Settings
from tradeready.server.store.accounts import AccountStore

__all__ = [
    "CSRF_COOKIE",
    "SECRET_FILE",
    "SESSION_COOKIE",
    "ApiUser",
    "CsrfError",
    "DashboardUser",
    "LoginRequired",
    "OptionalUser",
    "PageUser",
    "SessionData",
    "SessionSigner",
    "SignerDep",
    "check_same_origin",
    "load_session_secret",
    "new_csrf_token",
    "safe_next",
    "tokens_match",
]

SESSION_COOKIE = "tr_session"
CSRF_COOKIE = "tr_login_csrf"
SECRET_FILE = "dashboard-session-secret"
_SALT = "tradeready.dashboard.session.v1"


class LoginRequired(PlatformError):
    """A page was asked for without a valid session; the page routes answer with a redirect to sign-in."""

    status_code = 401
    code = "unauthorized"


class CsrfError(PlatformError):
    """A form post failed the origin or token check."""

    status_code = 403
    code = "csrf_failed"


@dataclass(frozen=True)
class SessionData:
    """What the session cookie carries: ids and the per-session CSRF token, never the API key."""

    account_id: str
    key_id: str
    csrf: str


@dataclass(frozen=True)
class DashboardUser:
    """The signed-in account, resolved and re-checked against the store on every request."""

    account_id: str
    account_name: str
    key_id: str
    key_name: str
    csrf: str


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, received: str | None) -> bool:
    """Constant-time comparison of two CSRF tokens; ``False`` when either is missing."""
    if not expected or not received:
        return False
    return hmac.compare_digest(expected.encode(), received.encode())


def load_session_secret(settings: Settings) -> str:
    """The cookie-signing secret: ``settings.session_secret``, else one generated once under ``home``.

    The generated secret is written with 0600 permissions, so sessions survive a restart.
    """
    if settings.session_secret:
        return settings.session_secret
    path = Path(settings.home) / SECRET_FILE
    if path.exists():
        text = path.read_text(encoding="utf-8").strip()
        if len(text) >= 32:
            return text
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)
    return secret


class SessionSigner:
    """Signs and verifies :class:`SessionData` with a timestamp (itsdangerous)."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self.max_age_s = max_age_s
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)

    def dumps(self, data: SessionData) -> str:
        return self._serializer.dumps({"a": data.account_id, "k": data.key_id, "c": data.csrf})

    def loads(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            raw = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("a", "k", "c")):
            return None
        return SessionData(account_id=raw["a"], key_id=raw["k"], csrf=raw["c"])


def get_signer(request: Request, settings: SettingsDep) -> SessionSigner:
    """One signer per application, built on first use."""
    signer = getattr(request.app.state, "dashboard_signer", None)
    if not isinstance(signer, SessionSigner):
        signer = SessionSigner(load_session_secret(settings), settings.session_max_age_s)
        request.app.state.dashboard_signer = signer
    return signer


SignerDep = Annotated[SessionSigner, Depends(get_signer)]


def current_user(request: Request, session: SessionDep, signer: SignerDep) -> DashboardUser | None:
    """The signed-in user, or ``None`` (no cookie, bad signature, expired, key revoked or deleted)."""
    data = signer.loads(request.cookies.get(SESSION_COOKIE))
    if data is None:
        return None
    store = AccountStore(session)
    key = store.get_key(data.account_id, data.key_id)
    if key is None or key.revoked_at is not None:
        return None
    user = DashboardUser(
        account_id=key.account_id,
        account_name=key.account.name,
        key_id=key.id,
        key_name=key.name,
        csrf=data.csrf,
    )
    request.state.dashboard_user = user
    return user


OptionalUser = Annotated[DashboardUser | None, Depends(current_user)]


def require_page_user(request: Request, user: OptionalUser) -> DashboardUser:
    if user is None:
        raise LoginRequired("Sign in to see this page.", details={"next": request.url.path})
    return user


def require_api_user(user: OptionalUser) -> DashboardUser:
    if user is None:
        raise UnauthorizedError("Your dashboard session is missing or has expired: sign in again at /login.")
    return user


PageUser = Annotated[DashboardUser, Depends(require_page_user)]
ApiUser = Annotated[DashboardUser, Depends(require_api_user)]


def check_same_origin(request: Request) -> None:
    """Reject a state-changing request whose ``Origin`` (or ``Referer``) is another site.

    Browsers send ``Origin`` on every form POST; a request with neither header is accepted here and
    must still pass the CSRF token check.
    """
    expected = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin != expected:
        raise CsrfError(f"Cross-site form post refused: origin {origin!r} is not {expected!r}.")


def safe_next(target: str | None, default: str = "/training") -> str:
    """A same-site path to go to after sign-in; anything else (absolute URLs, ``//host``) gives ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
