"""Market tables: candles keyed by (symbol, timeframe, open_time) and one summary row per dataset.

Market data is public: it belongs to the platform, not to an account. The summary row
(:class:`MarketDataset`) is rewritten in the same transaction as the candles it summarises; its
``version`` changes whenever the dataset's content changes, which lets every worker cache a
dataset safely (a cached copy is served only while the stored version is unchanged).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Double, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from tradeready.server.store.models.base import Base, UTCDateTime, utcnow

__all__ = ["Candle", "MarketDataset"]


class Candle(Base):
    """One candle. ``open_time`` is UTC epoch milliseconds of the candle's OPEN."""

    __tablename__ = "market_candles"
    __table_args__ = (PrimaryKeyConstraint("symbol", "timeframe", "open_time", name="pk_market_candles"),)

    symbol: Mapped[str] = mapped_column(String(40))
    timeframe: Mapped[str] = mapped_column(String(8))
    open_time: Mapped[int] = mapped_column(BigInteger)
    open: Mapped[float] = mapped_column(Double)
    high: Mapped[float] = mapped_column(Double)
    low: Mapped[float] = mapped_column(Double)
    close: Mapped[float] = mapped_column(Double)
    volume: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(16))


class MarketDataset(Base):
    """Summary of the candles stored for one (symbol, timeframe)."""

    __tablename__ = "market_datasets"
    __table_args__ = (PrimaryKeyConstraint("symbol", "timeframe", name="pk_market_datasets"),)

    symbol: Mapped[str] = mapped_column(String(40))
    timeframe: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    first_open_time: Mapped[int] = mapped_column(BigInteger)
    last_open_time: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    gaps: Mapped[int] = mapped_column(Integer, default=0)
    missing_bars: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
