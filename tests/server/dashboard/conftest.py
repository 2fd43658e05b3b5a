"""Fixtures of the dashboard's server tests: a browser-like httpx client signed in with a session cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from tests.support.platform import AccountKey, LiveServer

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no csrf_token field in the page"
    return found.group(1)


def sign_in(client: httpx.Client, api_key: str, next_path: str = "/training") -> httpx.Response:
    """Sign in the way a browser does: fetch the form, post it back with its token and our Origin."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={"api_key": api_key, "csrf_token": csrf_of(form.text), "next": next_path},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )


@pytest.fixture
def browser_client(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An httpx client that keeps cookies and does not follow redirects (not signed in)."""
    with httpx.Client(base_url=live_server.url, follow_redirects=False) as client:
        yield client


@pytest.fixture
def web(browser_client: httpx.Client, account: AccountKey) -> httpx.Client:
    """``browser_client`` signed in as ``account``."""
    response = sign_in(browser_client, account.api_key)
    assert response.status_code == 303, response.text
    return browser_client


@pytest.fixture
def api(live_server: LiveServer, account: AccountKey) -> Iterator[httpx.Client]:
    """The REST API as ``account`` (to create real runs)."""
    with httpx.Client(base_url=live_server.url + "/api/v1", headers={"X-API-Key": account.api_key}) as client:
        yield client
