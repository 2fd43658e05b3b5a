"""Evaluation routes: a trained run next to rule-based baselines on the same held-out episodes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["evaluations"])
