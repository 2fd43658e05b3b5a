"""Per-API-key rate limiting that holds across workers and processes sharing one database.

A fixed one-minute window per key lives in the ``rate_limit_windows`` table. Each process claims
blocks of admissions from that row with one atomic upsert (``used + n <= limit``) and then admits
requests from its local block without touching the database. Claimed admissions are never
returned, so the sum over all processes never exceeds the limit (no over-admission); at worst a
process's unused block is lost when the window ends (slight under-admission). Block sizes start at
1 and double while a key stays busy, capped at 1% of the limit, so a hot key costs one small write
per ~1,000 requests and a cold key's request costs one write.

Example::

    limiter = RateLimiter(engine, per_minute=600)
    limiter.check(api_key.id)          # raises RateLimitedError (429, Retry-After) when over the limit
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Engine, Table, delete
from sqlalchemy.dialects import postgresql, sqlite

from tradeready.server.errors import RateLimitedError
from tradeready.server.store.models.ratelimit import RateLimitWindow

__all__ = ["RateLimiter"]

_MAX_BLOCK: Final[int] = 1_000


@dataclass
class _KeyState:
    window_start: int
    tokens: int = 0
    next_claim: int = 1
    exhausted: bool = False


class RateLimiter:
    """Admits at most ``per_minute`` requests per key per fixed minute, over every process (0 = off)."""

    def __init__(
        self,
        engine: Engine,
        per_minute: int,
        *,
        window_s: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if per_minute < 0:
            raise ValueError(f"per_minute must be >= 0 (0 = off); got {per_minute}")
        if window_s < 1:
            raise ValueError(f"window_s must be >= 1; got {window_s}")
        self.engine = engine
        self.limit = per_minute
        self.window_s = window_s
        self.clock = clock
        self.max_block = max(1, min(_MAX_BLOCK, per_minute // 100))
        self._states: dict[str, _KeyState] = {}
        self._lock = threading.Lock()
        self._swept_window = -1
        self.db_claims = 0
        """How many database claims this process made (observability and tests)."""

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def admit_local(self, key_id: str) -> bool:
        """Admit one request of ``key_id`` from this process's claimed block, without the database.

        ``False`` means nothing was admitted: call :meth:`check` (which may claim or reject).
        """
        if not self.limit:
            return True
        window = int(self.clock() // self.window_s) * self.window_s
        with self._lock:
            state = self._states.get(key_id)
            if state is None or state.window_start != window or state.tokens <= 0:
                return False
            state.tokens -= 1
            return True

    def check(self, key_id: str) -> None:
        """Admit one request of ``key_id`` or raise :class:`RateLimitedError` with ``Retry-After``."""
        if not self.limit:
            return
        now = self.clock()
        window = int(now // self.window_s) * self.window_s
        with self._lock:
            state = self._states.get(key_id)
            if state is None or state.window_start != window:
                state = _KeyState(window_start=window)
                self._states[key_id] = state
                if len(self._states) > 10_000:
                    self._states = {k: s for k, s in self._states.items() if s.window_start == window}
            if state.tokens > 0:
                state.tokens -= 1
                return
            if not state.exhausted:
                granted = self._claim(key_id, window, state.next_claim)
                if granted:
                    state.next_claim = min(self.max_block, state.next_claim * 2)
                    state.tokens = granted - 1
                    return
                state.exhausted = True
        retry_after = max(1, math.ceil(window + self.window_s - now))
        raise RateLimitedError(
            f"Rate limit of {self.limit} requests per minute for this API key reached; retry in {retry_after}s. "
            "Raise TRADEREADY_RATE_LIMIT_PER_MINUTE on the server if this is too low.",
            details={"limit_per_minute": self.limit, "retry_after_s": retry_after},
            headers={"Retry-After": str(retry_after)},
        )

    def _claim(self, key_id: str, window: int, want: int) -> int:
        """Atomically take up to ``want`` admissions from the shared counter; returns how many were granted."""
        table = cast(Table, RateLimitWindow.__table__)
        self.db_claims += 1
        with self.engine.begin() as conn:
            if window != self._swept_window:
                conn.execute(delete(table).where(table.c.window_start < window))
                self._swept_window = window
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            n = min(want, self.limit)
            while n >= 1:
                upsert: Any = insert(table).values(key_id=key_id, window_start=window, used=n)
                stmt = upsert.on_conflict_do_update(
                    index_elements=["key_id", "window_start"],
                    set_={"used": table.c.used + n},
                    where=table.c.used + n <= self.limit,
                ).returning(table.c.used)
                if conn.execute(stmt).first() is not None:
                    return n
                used = conn.execute(
                    table.select()
                    .with_only_columns(table.c.used)
                    .where(table.c.key_id == key_id, table.c.window_start == window)
                ).scalar_one_or_none()
                remaining = self.limit - int(used or 0)
                if remaining <= 0:
                    return 0
                n = min(n - 1, remaining)
        return 0
