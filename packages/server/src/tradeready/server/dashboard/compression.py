"""Gzip for the dashboard's own HTML and JSON answers, route by route (the REST API is untouched).

Only the routes built with :class:`CompressedRoute` (the pages under ``/training`` and ``/backtests``
and the ``/dashboard-api`` data endpoints) are compressed, and only when the client accepts gzip and
the body is at least :data:`MIN_SIZE` bytes: an app-wide middleware would also sit in front of the
API's hot paths (episode ingest, heartbeats). Static assets come pre-compressed from :mod:`assets`.

Example::

    api_router = APIRouter(prefix="/dashboard-api", route_class=CompressedRoute)
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["COMPRESSED_TYPES", "MIN_SIZE", "CompressedRoute", "gzip_response"]

MIN_SIZE = 1024
"""Bodies smaller than this are sent as they are (gzip would save little and cost a round of work)."""
COMPRESSED_TYPES = ("text/html", "application/json")
LEVEL = 5
"""zlib level: most of level 9's saving on HTML/JSON at a fraction of its CPU time."""


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def gzip_response(request: Request, response: Response) -> Response:
    """``response`` with its body gzipped when the request accepts it and it is worth it; else unchanged.

    A response varies by ``Accept-Encoding`` whenever it could have been compressed.
    """
    media = (response.headers.get("content-type") or "").split(";", 1)[0].strip()
    body = getattr(response, "body", None)
    if media not in COMPRESSED_TYPES or not isinstance(body, bytes) or "content-encoding" in response.headers:
        return response
    if len(body) < MIN_SIZE:
        return response
    response.headers["vary"] = ", ".join(filter(None, [response.headers.get("vary"), "Accept-Encoding"]))
    if not _accepts_gzip(request):
        return response
    compressed = gzip.compress(body, compresslevel=LEVEL, mtime=0)
    response.body = compressed
    response.headers["content-encoding"] = "gzip"
    response.headers["content-length"] = str(len(compressed))
    return response


class CompressedRoute(APIRoute):
    """An ``APIRoute`` whose HTML and JSON answers pass through :func:`gzip_response`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def compressed_handler(request: Request) -> Response:
            return gzip_response(request, await handler(request))

        return compressed_handler
