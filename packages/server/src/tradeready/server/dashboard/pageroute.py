"""The route class of dashboard pages: errors become HTML pages, a missing session a redirect to sign-in.

The platform's global handlers render every error as the JSON envelope, which is right for the API
and the ``/dashboard-api`` endpoints but not for a person in a browser. Pages use
:class:`PageRoute`, so a :class:`~tradeready.server.dashboard.session.LoginRequired` becomes ``303 /login?next=...``
and any :class:`~tradeready.server.errors.PlatformError` a readable error page with the same status.

Example::

    router = APIRouter(route_class=PageRoute)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from tradeready.server.dashboard.compression import CompressedRoute, gzip_response
from tradeready.server.dashboard.rendering import render
from tradeready.server.dashboard.session import CsrfError, DashboardUser, LoginRequired
from tradeready.server.errors import NotFoundError, PlatformError

__all__ = ["PageRoute", "error_page"]

logger = logging.getLogger("tradeready.server.dashboard")

_TITLES = {400: "Bad request", 403: "Request refused", 404: "Not found", 409: "Conflict", 422: "Invalid request"}


def error_page(request: Request, status_code: int, message: str, title: str | None = None) -> Response:
    """A full HTML error page (with the layout when the visitor is signed in)."""
    user = getattr(request.state, "dashboard_user", None)
    signed_in = isinstance(user, DashboardUser)
    back = ("/training", "Back to training runs") if signed_in else ("/login", "Sign in")
    if request.url.path.startswith("/backtests") and signed_in:
        back = ("/backtests", "Back to backtests")
    context = {
        "status_code": status_code,
        "title": title or _TITLES.get(status_code, "Something went wrong"),
        "message": message,
        "back_href": back[0],
        "back_label": back[1],
    }
    return render(request, "error.html", context, user=user if signed_in else None, status_code=status_code)


class PageRoute(CompressedRoute):
    """A :class:`CompressedRoute` whose errors render as (compressed) pages instead of the JSON envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = APIRoute.get_route_handler(self)  # compressed once, below, error pages included

        async def page_handler(request: Request) -> Response:
            return gzip_response(request, await error_pages(request))

        async def error_pages(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
            except CsrfError as exc:
                return error_page(request, 403, exc.message + " Reload the page and try again.")
            except NotFoundError as exc:
                return error_page(request, 404, exc.message)
            except RequestValidationError as exc:
                fields = ", ".join(str(e.get("loc", ["?"])[-1]) + ": " + str(e.get("msg")) for e in exc.errors()[:3])
                return error_page(request, 422, f"Invalid request parameters ({fields}).")
            except PlatformError as exc:
                if exc.status_code >= 500:
                    logger.error("dashboard error on %s: %s", request.url.path, exc.message)
                    return error_page(request, 500, "The server failed to build this page; the error was logged.")
                return error_page(request, exc.status_code, exc.message)
            except StarletteHTTPException:
                raise
            except Exception:
                logger.exception("unhandled dashboard error on %s", request.url.path)
                return error_page(request, 500, "The server failed to build this page; the error was logged.")

        return page_handler
