"""Where the client's API key and base URL come from.

Order: explicit argument, then ``TRADEREADY_API_KEY`` / ``TRADEREADY_BASE_URL``, then the default
``http://localhost:8000``. An injected ``httpx.Client`` that has its own ``base_url`` (such as
FastAPI's ``TestClient``) is used as-is unless a ``base_url`` argument is given.
"""

from __future__ import annotations

import os

import httpx

from agentexchange._errors import InvalidArgumentError

__all__ = [
    "API_KEY_ENV",
    "API_PREFIX",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "mask_api_key",
    "resolve_api_key",
    "resolve_url_prefix",
]

API_KEY_ENV = "TRADEREADY_API_KEY"
BASE_URL_ENV = "TRADEREADY_BASE_URL"
DEFAULT_BASE_URL = "http://localhost:8000"
API_PREFIX = "/api/v1"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2


def resolve_api_key(api_key: str | None) -> str | None:
    """The explicit key, else ``TRADEREADY_API_KEY``, else ``None`` (public endpoints still work)."""
    if api_key is None:
        api_key = os.environ.get(API_KEY_ENV)
    if api_key is None:
        return None
    api_key = api_key.strip()
    return api_key or None


def mask_api_key(api_key: str | None) -> str | None:
    """A key safe to show: ``ak_live_...9f3a`` (scheme and the last four characters only)."""
    if api_key is None:
        return None
    if len(api_key) < 16:
        return "***"
    scheme = api_key[: api_key.find("_", 3) + 1] if api_key.startswith("ak_") else ""
    return f"{scheme}...{api_key[-4:]}"


def _with_prefix(url: str) -> str:
    """``url`` ending in ``/api/v1``, whether or not the caller already included it."""
    url = url.rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def resolve_url_prefix(base_url: str | None, http_client: httpx.Client | httpx.AsyncClient | None) -> str:
    """The string every request path is appended to.

    Absolute (``http://host:8000/api/v1``) normally; relative (``/api/v1``, or ``""`` when the
    client's base URL already ends with it) when an injected client carries a base URL and no
    ``base_url`` argument overrides it, so the client's own base URL applies.
    """
    if base_url is None and http_client is not None and str(http_client.base_url):
        client_path = http_client.base_url.path.rstrip("/")
        return "" if client_path.endswith(API_PREFIX) else API_PREFIX
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    url = httpx.URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidArgumentError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, got {base_url!r}")
    return _with_prefix(str(url))
