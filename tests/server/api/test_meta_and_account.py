"""Health, versions, authentication and API keys against the live server on both databases."""

from __future__ import annotations

import httpx
from tests.support.platform import AccountKey, LiveServer


def test_health_and_meta_are_public(live_server: LiveServer, db_backend: str) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        assert http.get("/api/v1/health").json() == {"status": "ok"}
        meta = http.get("/api/v1/meta").json()
    assert meta["version"] == "0.1.0"
    assert meta["database"] == db_backend


def test_missing_and_bad_keys_answer_401_with_the_envelope(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        missing = http.get("/api/v1/account")
        bad = http.get("/api/v1/account", headers={"X-API-Key": "ak_live_nope"})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert "X-API-Key" in missing.json()["error"]["message"]
    assert bad.status_code == 401


def test_key_lifecycle_and_bearer_auth(live_server: LiveServer, account: AccountKey) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        me = http.get("/api/v1/account", headers={"Authorization": f"Bearer {account.api_key}"}).json()
        assert me["account_id"] == account.account_id
        created = http.post("/api/v1/keys", json={"name": "ci"}, headers={"X-API-Key": account.api_key})
        assert created.status_code == 201
        new_key = created.json()["api_key"]
        assert new_key.startswith("ak_live_")
        listed = http.get("/api/v1/keys", headers={"X-API-Key": new_key}).json()["keys"]
        assert {k["name"] for k in listed} == {"default", "ci"}
        assert all("api_key" not in k and new_key not in str(k) for k in listed)
        revoked = http.delete(f"/api/v1/keys/{created.json()['key_id']}", headers={"X-API-Key": account.api_key})
        assert revoked.json()["revoked_at"] is not None
        assert http.get("/api/v1/account", headers={"X-API-Key": new_key}).status_code == 401


def test_another_accounts_key_answers_404(
    live_server: LiveServer, account: AccountKey, other_account: AccountKey
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        mine = http.get("/api/v1/keys", headers={"X-API-Key": account.api_key}).json()["keys"][0]
        response = http.delete(f"/api/v1/keys/{mine['key_id']}", headers={"X-API-Key": other_account.api_key})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "key_not_found"


def test_validation_errors_name_the_field(live_server: LiveServer, account: AccountKey) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        response = http.post("/api/v1/keys", json={"name": ""}, headers={"X-API-Key": account.api_key})
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert body["details"][0]["field"] == "name"


def test_oversized_body_answers_413(live_server: LiveServer, account: AccountKey) -> None:
    limit = live_server.settings.max_body_bytes
    with httpx.Client(base_url=live_server.url) as http:
        response = http.post(
            "/api/v1/keys",
            content=b"x" * (limit + 1),
            headers={"X-API-Key": account.api_key, "content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
