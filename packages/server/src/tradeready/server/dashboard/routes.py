"""The dashboard's router: sign-in, pages, their JSON data endpoints and static assets.

``create_app`` includes :data:`router` at the root, next to ``/api/v1``.
"""

from __future__ import annotations

from fastapi import APIRouter

from tradeready.server.dashboard import assets, auth, backtests, pages

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
router.include_router(assets.router)
router.include_router(auth.router)
router.include_router(pages.api_router)
router.include_router(pages.router)
router.include_router(backtests.api_router)
router.include_router(backtests.router)
