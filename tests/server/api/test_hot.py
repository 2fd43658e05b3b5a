"""The hot lane: routes marked @hot are served ahead of FastAPI's router, with the same answers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from tradeready.server.api.hot import HotLane, hot
from tradeready.server.errors import NotFoundError, install_error_handlers


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(1, ge=1)


def build(*, lane: bool) -> tuple[FastAPI, list[str]]:
    """An app with one hot route and one ordinary route; ``served`` records which path ran the hot one."""
    served: list[str] = []
    router = APIRouter(prefix="/things")

    @router.post("/{thing_id}/step")
    @hot
    async def step(thing_id: str, body: Step, request: Request) -> Response:
        served.append("fastapi" if "route" in request.scope else "lane")
        if thing_id == "missing":
            raise NotFoundError(f"No thing {thing_id!r}.")
        if thing_id == "broken":
            raise RuntimeError("boom")
        return Response(f'{{"thing": "{thing_id}", "steps": {body.steps}}}', media_type="application/json")

    @router.get("/{thing_id}")
    async def show(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router, prefix="/api")
    if lane:
        app.add_middleware(HotLane, mounts=[("/api", router)])
    return app, served


@pytest.mark.parametrize("lane", [True, False])
def test_hot_route_answers_the_same_with_and_without_the_lane(lane: bool) -> None:
    app, served = build(lane=lane)
    with TestClient(app, raise_server_exceptions=False) as client:
        ok = client.post("/api/things/a1/step", json={"steps": 3})
        assert ok.status_code == 200 and ok.json() == {"thing": "a1", "steps": 3}

        missing = client.post("/api/things/missing/step", json={})
        assert missing.status_code == 404
        assert missing.json()["error"] == {"code": "not_found", "message": "No thing 'missing'.", "details": None}

        invalid = client.post("/api/things/a1/step", json={"steps": 0})
        assert invalid.status_code == 422
        detail = invalid.json()["error"]["details"][0]
        assert detail["field"] == "steps" and detail["received"] == 0

        extra = client.post("/api/things/a1/step", json={"steps": 1, "bogus": 1})
        assert extra.status_code == 422 and extra.json()["error"]["details"][0]["field"] == "bogus"

        empty = client.post("/api/things/a1/step", content=b"", headers={"content-type": "application/json"})
        assert empty.status_code == 422 and empty.json()["error"]["code"] == "validation_error"

        broken = client.post("/api/things/broken/step", json={})
        assert broken.status_code == 500 and broken.json()["error"]["code"] == "internal_error"

        # other methods and routes are FastAPI's, untouched
        assert client.get("/api/things/a1").json() == {"thing": "a1"}
        assert client.get("/api/things/a1/step").status_code == 405
    assert set(served) == {"lane" if lane else "fastapi"}


def test_hot_route_stays_in_the_openapi_schema() -> None:
    app, _ = build(lane=True)
    with TestClient(app) as client:
        schema: dict[str, Any] = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/things/{thing_id}/step"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Step")
    assert [p["name"] for p in operation["parameters"]] == ["thing_id"]


def test_lane_refuses_a_hot_route_it_cannot_serve_faithfully() -> None:
    def dependency() -> int:
        return 1

    with_query = APIRouter()

    @with_query.get("/x")
    @hot
    async def query(request: Request, limit: int = 10) -> Response:
        return Response()

    with pytest.raises(TypeError, match="'limit'"):
        HotLane(FastAPI(), mounts=[("", with_query)])

    with_dependency = APIRouter()

    @with_dependency.get("/y", dependencies=[Depends(dependency)])
    @hot
    async def guarded(request: Request) -> Response:
        return Response()

    with pytest.raises(TypeError, match="does not run dependencies"):
        HotLane(FastAPI(), mounts=[("", with_dependency)])

    without_request = APIRouter()

    @without_request.get("/z")
    @hot
    async def bare() -> Response:
        return Response()

    with pytest.raises(TypeError, match="must take `request: Request`"):
        HotLane(FastAPI(), mounts=[("", without_request)])
