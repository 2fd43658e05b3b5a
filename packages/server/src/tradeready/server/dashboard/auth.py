"""Sign-in and sign-out of the dashboard.

``GET /login`` shows the form (with a double-submit CSRF token), ``POST /login`` exchanges an API key
for the session cookie, ``POST /logout`` clears it. Both posts check the ``Origin`` and the token.
The API key travels only in the POST body; it is never put in a URL, a page or a log line.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from tradeready.server.api.deps import SessionDep, SettingsDep
from tradeready.server.dashboard.pageroute import PageRoute
from tradeready.server.dashboard.rendering import render
from tradeready.server.dashboard.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfError,
    OptionalUser,
    SessionData,
    SignerDep,
    check_same_origin,
    new_csrf_token,
    safe_next,
    tokens_match,
)
from tradeready.server.store.accounts import AccountStore

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def _login_page(request: Request, next_path: str, *, error: str | None = None, status_code: int = 200) -> Response:
    csrf = new_csrf_token()
    notice = "You have been signed out." if request.query_params.get("signed_out") else None
    response = render(
        request,
        "login.html",
        {"csrf": csrf, "next": next_path, "error": error, "notice": notice},
        user=None,
        status_code=status_code,
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/training", status_code=303)


@router.get("/login")
def login_form(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    signer: SignerDep,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/training",
) -> Response:
    check_same_origin(request)
    if not tokens_match(request.cookies.get(CSRF_COOKIE), csrf_token):
        raise CsrfError("The sign-in form expired or was not sent from this site.")
    found = AccountStore(session).authenticate(api_key.strip()) if api_key.strip() else None
    if found is None:
        message = "That API key is unknown or revoked. Keys look like ak_live_… and are shown once when created."
        return _login_page(request, safe_next(next), error=message, status_code=401)
    account, key = found
    cookie = signer.dumps(SessionData(account_id=account.id, key_id=key.id, csrf=new_csrf_token()))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    user: OptionalUser,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_same_origin(request)
    if user is not None and not tokens_match(user.csrf, csrf_token):
        raise CsrfError("The sign-out form was not sent from this site.")
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
