"""Sign-in, the session cookie, CSRF checks and sign-out against the live server, on both databases."""

from __future__ import annotations

import httpx
from tests.server.dashboard.conftest import csrf_of, sign_in
from tests.support.platform import AccountKey, LiveServer

from tradeready.server.dashboard.session import SESSION_COOKIE


def test_pages_redirect_to_sign_in_and_back(browser_client: httpx.Client, account: AccountKey) -> None:
    response = browser_client.get("/training/compare?run_ids=run_a")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftraining%2Fcompare%3Frun_ids%3Drun_a"
    signed = sign_in(browser_client, account.api_key, next_path="/training/compare?run_ids=run_a")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/training/compare?run_ids=run_a"


def test_session_cookie_flags_and_no_key_anywhere(browser_client: httpx.Client, account: AccountKey) -> None:
    response = sign_in(browser_client, account.api_key)
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path", "samesite"} <= flags
    assert "samesite=lax" in cookie.lower()
    assert account.api_key not in cookie
    assert account.api_key not in response.headers["location"]
    page = browser_client.get("/training")
    assert page.status_code == 200
    assert account.api_key not in page.text
    assert "alice" in page.text


def test_unknown_key_is_refused_without_echoing_it(browser_client: httpx.Client) -> None:
    wrong = "ak_live_" + "x" * 43
    response = sign_in(browser_client, wrong)
    assert response.status_code == 401
    assert "unknown or revoked" in response.text
    assert wrong not in response.text
    assert SESSION_COOKIE not in browser_client.cookies


def test_cross_site_and_tokenless_posts_are_refused(
    browser_client: httpx.Client, account: AccountKey, live_server: LiveServer
) -> None:
    token = csrf_of(browser_client.get("/login").text)
    cross = browser_client.post(
        "/login", data={"api_key": account.api_key, "csrf_token": token}, headers={"Origin": "http://evil.example"}
    )
    assert cross.status_code == 403
    assert "Cross-site" in cross.text
    tokenless = browser_client.post("/login", data={"api_key": account.api_key}, headers={"Origin": live_server.url})
    assert tokenless.status_code == 403
    with httpx.Client(base_url=live_server.url) as fresh:  # a token from another browser's form
        forged = fresh.post("/login", data={"api_key": account.api_key, "csrf_token": token})
    assert forged.status_code == 403
    assert SESSION_COOKIE not in browser_client.cookies


def test_sign_out_needs_the_session_token_and_ends_the_session(web: httpx.Client, live_server: LiveServer) -> None:
    page = web.get("/training")
    refused = web.post("/logout", data={"csrf_token": "forged"}, headers={"Origin": live_server.url})
    assert refused.status_code == 403
    assert web.get("/training").status_code == 200
    out = web.post("/logout", data={"csrf_token": csrf_of(page.text)}, headers={"Origin": live_server.url})
    assert out.status_code == 303
    assert out.headers["location"] == "/login?signed_out=1"
    assert web.get("/training").status_code == 303
    assert "signed out" in web.get("/login?signed_out=1").text


def test_revoking_the_key_ends_its_dashboard_sessions(
    web: httpx.Client, account: AccountKey, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, headers={"X-API-Key": account.api_key}) as api:
        other = api.post("/api/v1/keys", json={"name": "spare"}).json()["api_key"]
        key_id = api.get("/api/v1/keys").json()["keys"][0]["key_id"]
        assert api.delete(f"/api/v1/keys/{key_id}", headers={"X-API-Key": other}).status_code == 200
    assert web.get("/training").status_code == 303
    data = web.get("/dashboard-api/training/runs/run_abc/summary")
    assert data.status_code == 401
    assert data.json()["error"]["code"] == "unauthorized"


def test_tampered_cookie_is_a_signed_out_visitor(web: httpx.Client) -> None:
    value = web.cookies[SESSION_COOKIE]
    web.cookies.set(SESSION_COOKIE, value[:-4] + "AAAA")
    assert web.get("/training").status_code == 303
    assert web.get("/dashboard-api/training/runs/run_abc/summary").status_code == 401


def test_api_key_header_does_not_open_the_dashboard(browser_client: httpx.Client, account: AccountKey) -> None:
    response = browser_client.get("/training", headers={"X-API-Key": account.api_key})
    assert response.status_code == 303
