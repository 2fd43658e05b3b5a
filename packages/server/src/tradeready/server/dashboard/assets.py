"""Static assets of the dashboard: our own CSS/JS, and Plotly's bundle from the installed ``plotly`` package.

Nothing comes from a CDN and no third-party code lives in the repository: ``plotly.min.js`` is read
from ``plotly/package_data`` of the installed wheel, served gzip-compressed when the browser
accepts it, under a versioned URL that can be cached for good.

Example::

    asset_url("app.js")      # '/dashboard/static/app.js?v=<hash of the file>'
    PLOTLY_URL               # '/dashboard/vendor/plotly-<version>.min.js'
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.metadata
import importlib.resources
import mimetypes
from pathlib import Path

from fastapi import APIRouter, Request, Response

from tradeready.server.errors import NotFoundError

__all__ = ["PLOTLY_URL", "STATIC_DIR", "asset_url", "plotly_bundle", "router"]

STATIC_DIR = Path(__file__).with_name("static")
_PLOTLY_VERSION = importlib.metadata.version("plotly")
PLOTLY_URL = f"/dashboard/vendor/plotly-{_PLOTLY_VERSION}.min.js"
_IMMUTABLE = "public, max-age=31536000, immutable"

router = APIRouter(include_in_schema=False)


@functools.cache
def _static_file(name: str) -> tuple[bytes, bytes, str]:
    """(raw, gzipped, etag) of one of our static files."""
    path = (STATIC_DIR / name).resolve()
    if STATIC_DIR.resolve() not in path.parents or not path.is_file():
        raise FileNotFoundError(name)
    raw = path.read_bytes()
    return raw, gzip.compress(raw, 6, mtime=0), hashlib.sha256(raw).hexdigest()[:16]


def asset_url(name: str) -> str:
    """The cache-busting URL of one of our static files."""
    return f"/dashboard/static/{name}?v={_static_file(name)[2]}"


@functools.cache
def plotly_bundle() -> tuple[bytes, bytes]:
    """(raw, gzipped) ``plotly.min.js`` from the installed plotly package."""
    raw = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return raw, gzip.compress(raw, 6, mtime=0)


def _respond(request: Request, raw: bytes, gzipped: bytes, media_type: str, cache: str, etag: str) -> Response:
    headers = {
        "Cache-Control": cache,
        "ETag": f'"{etag}"',
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(gzipped, media_type=media_type, headers=headers)
    return Response(raw, media_type=media_type, headers=headers)


@router.get("/dashboard/static/{name:path}")
def static_file(name: str, request: Request) -> Response:
    try:
        raw, gzipped, etag = _static_file(name)
    except FileNotFoundError:
        raise NotFoundError(f"No dashboard asset {name!r}.") from None
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    cache = _IMMUTABLE if request.query_params.get("v") == etag else "no-cache"
    return _respond(request, raw, gzipped, media_type, cache, etag)


@router.get(PLOTLY_URL)
def plotly_js(request: Request) -> Response:
    raw, gzipped = plotly_bundle()
    return _respond(request, raw, gzipped, "text/javascript; charset=utf-8", _IMMUTABLE, f"plotly-{_PLOTLY_VERSION}")
