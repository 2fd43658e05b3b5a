"""Public routes: health and versions."""

from __future__ import annotations

import platform
from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from tradeready import __version__
from tradeready.server.api.deps import SessionDep, SettingsDep

router = APIRouter(tags=["meta"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, Any]:
    """Liveness and database reachability."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/meta")
def meta(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Versions of the platform and its runtime."""
    import fastapi
    import sqlalchemy

    import tradeready_core

    return {
        "name": "tradeready",
        "version": __version__,
        "api_version": "v1",
        "core_version": tradeready_core.__version__,
        "python": platform.python_version(),
        "fastapi": fastapi.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "database": session.get_bind().dialect.name,
    }
