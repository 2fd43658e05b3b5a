"""Market routes (thin: parse, call the service, return a schema)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["market"])
