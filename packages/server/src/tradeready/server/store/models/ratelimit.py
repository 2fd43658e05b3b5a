"""The rate-limit table: one counter per API key and fixed one-minute window, shared by every process."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from tradeready.server.store.models.base import Base

__all__ = ["RateLimitWindow"]


class RateLimitWindow(Base):
    """Requests admitted (or pre-claimed by a worker) for ``key_id`` in the window starting at ``window_start``."""

    __tablename__ = "rate_limit_windows"
    __table_args__ = (PrimaryKeyConstraint("key_id", "window_start", name="pk_rate_limit_windows"),)

    key_id: Mapped[str] = mapped_column(String(40))
    window_start: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[int] = mapped_column(Integer, default=0)
