"""Backtest sessions: the rules, driven by the ONE engine (:mod:`tradeready_core.engine`).

A session is its configuration plus its ACTION LOG (steps with their target weights, orders,
cancellations). Any worker rebuilds the :class:`~tradeready_core.engine.Simulator` by replaying
the log through the engine, so sessions survive restarts and work behind several workers. Hot
simulators are cached in-process, keyed by (session id, log length): a step request whose cached
simulator is current costs one compare-and-set update plus one insert. Idle sessions expire
(``BacktestLimits.idle_timeout_s``) and their memory is freed.

Usage (inside a request; the route layer supplies the SQLAlchemy session and the runtime)::

    service = BacktestService(db_session, runtime)
    row = service.create(account_id, BacktestCreate(symbols=["BTCUSDT"], timeframe="1h",
                                                    start_time="2024-01-01", end_time="2024-02-01"))
    service.step(account_id, row.id, BacktestStep(steps=1, targets=[0.5]))
    service.results(account_id, row.id)["roi_pct"]

Stepping semantics (identical to :func:`tradeready_core.engine.replay`): a single-asset session
calls ``Simulator.step1(w)`` per step, a multi-asset one ``Simulator.step(row)``; hold is NaN.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeready.server.errors import ConflictError, NotFoundError, RequestValidationFailed
from tradeready.server.schemas.backtests import (
    BacktestCreate,
    BacktestStep,
    OrderCreate,
    ReplayCreate,
    Targets,
)
from tradeready.server.settings import Settings
from tradeready.server.store.backtests import (
    ACTIVE_STATUSES,
    ActionRecord,
    BacktestStore,
    SessionFilter,
    SessionState,
)
from tradeready.server.store.models.backtests import BacktestResult, BacktestSession
from tradeready.server.store.models.base import new_id, utcnow
from tradeready_core.data import Candles, MarketData, format_ms
from tradeready_core.engine import EngineConfig, Fill, Order, Simulator
from tradeready_core.errors import EpisodeFinishedError, InvalidParameterError, TradeReadyCoreError
from tradeready_core.timeframes import timeframe_ms

__all__ = [
    "BacktestLimits",
    "BacktestRuntime",
    "BacktestService",
    "CandleLoader",
    "SessionNotFoundError",
    "SimulatorCache",
    "compare_metrics",
    "replay_log",
    "run_steps",
]

_NAN = math.nan
_METRIC_TOLERANCE = 1e-9


class SessionNotFoundError(NotFoundError):
    """Unknown session id, or one that belongs to another account."""

    code = "session_not_found"


class CandleLoader(Protocol):
    """Where sessions get their candles (the market store)."""

    def load_candles(
        self, symbol: str, timeframe: str, start_ms: int | None = None, end_ms: int | None = None
    ) -> Candles: ...


@dataclass(frozen=True, slots=True)
class BacktestLimits:
    """Per-process limits of the session runtime.

    ``idle_timeout_s``: an active session untouched for this long expires (and leaves memory);
    ``max_steps_per_request``: the most steps one ``/step`` call may ask for;
    ``max_cached_sessions``: hot simulators kept per process (least recently used go first).
    """

    idle_timeout_s: float = 3600.0
    max_steps_per_request: int = 100_000
    max_cached_sessions: int = 64

    @classmethod
    def from_settings(cls, settings: Settings) -> BacktestLimits:
        """The limits configured in ``settings``."""
        return cls(
            idle_timeout_s=settings.backtest_idle_timeout_s,
            max_steps_per_request=settings.max_steps_per_request,
            max_cached_sessions=settings.max_cached_sessions,
        )


class _Slot:
    """One cached simulator; ``version`` is the log length it reflects (-1 = empty)."""

    __slots__ = ("last_used", "lock", "market", "sim", "state", "times", "version")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: SessionState | None = None
        self.sim: Simulator | None = None
        self.market: MarketData | None = None
        self.times: NDArray[np.int64] = np.zeros(0, np.int64)
        self.version = -1
        self.last_used = time.monotonic()

    def clear(self) -> None:
        self.state = None
        self.sim = None
        self.market = None
        self.version = -1


class SimulatorCache:
    """Hot simulators of this process by session id (LRU, bounded, idle entries evicted)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max(1, max_entries)
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(1 for s in self._slots.values() if s.sim is not None)

    def peek(self, session_id: str) -> _Slot | None:
        """The slot of ``session_id`` if one exists (never creates one; for inspection)."""
        return self._slots.get(session_id)

    def slot(self, session_id: str) -> _Slot:
        """The slot of ``session_id`` (created empty when missing); hold ``slot.lock`` to use it."""
        with self._lock:
            slot = self._slots.get(session_id)
            if slot is None:
                slot = self._slots[session_id] = _Slot()
            self._slots.move_to_end(session_id)
            slot.last_used = time.monotonic()
            excess = len(self._slots) - self.max_entries
            if excess > 0:
                for key in list(self._slots)[:excess]:
                    self._drop_if_free(key)
            return slot

    def discard(self, session_id: str) -> None:
        """Forget a session's simulator."""
        with self._lock:
            self._drop_if_free(session_id)

    def evict_idle(self, idle_s: float) -> int:
        """Free every simulator unused for ``idle_s`` seconds; returns how many were freed."""
        cutoff = time.monotonic() - idle_s
        with self._lock:
            stale = [k for k, s in self._slots.items() if s.last_used < cutoff]
            return sum(1 for k in stale if self._drop_if_free(k))

    def _drop_if_free(self, key: str) -> bool:
        slot = self._slots.get(key)
        if slot is None or not slot.lock.acquire(blocking=False):
            return False
        try:
            slot.clear()
            del self._slots[key]
        finally:
            slot.lock.release()
        return True


class BacktestRuntime:
    """Process-wide state of the backtest service: limits, the simulator cache, the expiry sweep."""

    def __init__(self, limits: BacktestLimits | None = None) -> None:
        self.limits = limits or BacktestLimits()
        self.cache = SimulatorCache(self.limits.max_cached_sessions)
        self._next_sweep = 0.0
        self._lock = threading.Lock()

    def sweep_due(self) -> bool:
        """True at most once per sweep interval (min(60 s, idle timeout / 4))."""
        now = time.monotonic()
        with self._lock:
            if now < self._next_sweep:
                return False
            self._next_sweep = now + min(60.0, self.limits.idle_timeout_s / 4)
            return True


# ---- engine driving (shared by live steps, rebuilds and replays) --------------------------------


def run_steps(sim: Simulator, targets: NDArray[np.float64] | None, steps: int) -> int:
    """Advance ``sim`` up to ``steps`` bars; returns the steps taken (fewer when the episode ends).

    ``targets`` is ``None`` (hold), one row used for every step ``(1, N)``, or one row per step
    ``(steps, N)``. Single-asset simulators use ``step1``, others ``step`` — exactly like
    :func:`tradeready_core.engine.replay`, so both give bit-identical results.
    """
    if sim.done:
        raise EpisodeFinishedError("the session's episode has ended")
    executed = 0
    per_step = targets is not None and targets.shape[0] > 1
    if sim.n_assets == 1:
        if per_step:
            assert targets is not None
            for w in targets[:steps, 0].tolist():
                executed += 1
                if sim.step1(w):
                    break
        else:
            w1 = _NAN if targets is None else float(targets[0, 0])
            for _ in range(steps):
                executed += 1
                if sim.step1(w1):
                    break
    elif per_step:
        assert targets is not None
        for row in targets[:steps].tolist():
            executed += 1
            if sim.step(row):
                break
    else:
        fixed = [_NAN] * sim.n_assets if targets is None else targets[0].tolist()
        for _ in range(steps):
            executed += 1
            if sim.step(fixed):
                break
    return executed


def _apply(sim: Simulator, record: ActionRecord) -> None:
    """Re-apply one stored log row to ``sim``."""
    if record.kind == "step":
        targets = None if record.targets is None else _unpack(record.targets, sim.n_assets)
        run_steps(sim, targets, record.steps)
    elif record.kind == "order":
        p = record.payload or {}
        sim.submit_order(int(p["asset"]), str(p["side"]), float(p["quantity"]), str(p["type"]), p.get("price"))
    elif record.kind == "cancel":
        sim.cancel_order(int((record.payload or {})["order_id"]))
    else:  # pragma: no cover - only written by this module
        raise ValueError(f"unknown action kind {record.kind!r}")


def replay_log(sim: Simulator, records: Sequence[ActionRecord]) -> None:
    """Re-apply stored log rows to ``sim``: runs of step rows are merged into one target matrix.

    Same engine calls, in the same order, as applying the rows one by one (so results are
    bit-identical), without per-row overhead: a session of 100k one-step requests rebuilds fast.
    """
    n = sim.n_assets
    width = 8 * n
    hold = np.full(n, _NAN, dtype="<f8").tobytes()
    parts: list[bytes] = []

    def flush() -> None:
        if parts:
            matrix = np.frombuffer(b"".join(parts), dtype="<f8").astype(np.float64).reshape(-1, n)
            parts.clear()
            run_steps(sim, matrix, int(matrix.shape[0]))

    for record in records:
        if record.kind != "step":
            flush()
            _apply(sim, record)
        elif record.targets is None:
            parts.append(hold * record.steps)
        elif len(record.targets) == width * record.steps:
            parts.append(record.targets)
        else:  # one row used for every step of the request
            parts.append(record.targets * record.steps)
    flush()


def _pack(targets: NDArray[np.float64]) -> bytes:
    return np.ascontiguousarray(targets, dtype="<f8").tobytes()


def _unpack(blob: bytes, n_assets: int) -> NDArray[np.float64]:
    return np.frombuffer(blob, dtype="<f8").astype(np.float64).reshape(-1, n_assets)


def _simulator(market: MarketData, config: Mapping[str, Any], timeframe: str) -> Simulator:
    sim = Simulator(market.open, market.high, market.low, market.close, EngineConfig(**config), timeframe)
    sim.reset(0, len(market) - 1)
    return sim


def compare_metrics(client: Mapping[str, Any] | None, server: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [client, server]}`` for every metric both sides report that differs.

    Numbers match when equal within a relative/absolute tolerance of 1e-9 (the engine is
    deterministic, so a real replay matches bit for bit); fields only one side knows are ignored.
    """
    mismatch: dict[str, list[Any]] = {}
    for name, theirs in (client or {}).items():
        if name not in server:
            continue
        ours = server[name]
        numeric = isinstance(theirs, int | float) and not isinstance(theirs, bool)
        if not numeric or not math.isclose(theirs, ours, rel_tol=_METRIC_TOLERANCE, abs_tol=_METRIC_TOLERANCE):
            mismatch[name] = [theirs, ours]
    return mismatch


def _invalid(field: str, message: str, received: Any = None, allowed: Any = None) -> RequestValidationFailed:
    detail: dict[str, Any] = {"field": field, "message": message}
    if received is not None:
        detail["received"] = received
    if allowed is not None:
        detail["allowed"] = allowed
    return RequestValidationFailed(f"Invalid request: {field}: {message}", details=[detail])


def _iso(ms: int) -> str:
    return format_ms(ms)


# ---- the service ------------------------------------------------------------------------------


class BacktestService:
    """Backtest sessions of one request: every method checks ownership first (404 otherwise)."""

    def __init__(self, session: Session, runtime: BacktestRuntime, candles: CandleLoader | None = None) -> None:
        self.session = session
        self.runtime = runtime
        self.store = BacktestStore(session)
        if candles is None:
            from tradeready.server.store.market import MarketStore

            candles = MarketStore(session)
        self.candles = candles

    # ---- create / list / get ----------------------------------------------------------------------

    def create(self, account_id: str, body: BacktestCreate) -> BacktestSession:
        """Create a session over ``[start_time, end_time)`` (or a seeded window of it)."""
        self._sweep()
        config = self._engine_config(body.engine_config())
        market = self._load_market(body.symbols, body.timeframe, body.start_time, body.end_time, "start_time")
        bars = len(market)
        if bars < 2:
            raise _invalid(
                "end_time",
                f"the range holds {bars} bar(s) of {', '.join(body.symbols)} {body.timeframe}; a session needs at "
                "least 2 (one step). Widen [start_time, end_time).",
            )
        seed = body.seed
        first, last = 0, bars - 1
        if body.episode_length is not None:
            if body.episode_length > bars - 1:
                raise _invalid(
                    "episode_length",
                    f"episode_length {body.episode_length} exceeds the {bars - 1} steps the range holds",
                    body.episode_length,
                    f"1..{bars - 1}",
                )
            if seed is None:
                seed = secrets.randbits(63)
            rng = np.random.default_rng(seed)
            first = int(rng.integers(0, bars - 1 - body.episode_length + 1))
            last = first + body.episode_length
        window = market.slice(int(market.open_time[first]), int(market.open_time[last]) + 1)
        now = utcnow()
        row = BacktestSession(
            id=new_id("bt"),
            account_id=account_id,
            status="created",
            source=body.source,
            symbols=list(body.symbols),
            timeframe=body.timeframe,
            start_ms=body.start_time,
            end_ms=body.end_time,
            first_bar_ms=int(window.open_time[0]),
            last_bar_ms=int(window.open_time[-1]),
            total_steps=len(window) - 1,
            engine_config=config,
            starting_balance=body.starting_balance,
            fee_rate=body.fee_rate,
            slippage_bps=body.slippage_bps,
            allow_short=body.allow_short,
            strategy_label=body.strategy_label,
            episode_length=body.episode_length,
            seed=seed,
            training_run_id=body.training_run_id,
            episode=body.episode,
            dataset_fingerprint=window.fingerprint,
            version=0,
            step=0,
            cash=body.starting_balance,
            equity=body.starting_balance,
            created_at=now,
            updated_at=now,
        )
        try:
            self.store.add_session(row)
        except IntegrityError:
            self.session.rollback()
            raise ConflictError(
                f"training run {body.training_run_id!r} already has a session for episode {body.episode}",
                details={"training_run_id": body.training_run_id, "episode": body.episode},
            ) from None
        self.session.commit()
        slot = self.runtime.cache.slot(row.id)
        with slot.lock:
            slot.sim, slot.version = _simulator(window, config, row.timeframe), 0
            slot.market, slot.times = window, window.open_time
        return row

    def get(self, account_id: str, session_id: str) -> BacktestSession:
        """The session, if it is the account's."""
        self._sweep()
        return self._owned(account_id, session_id)

    def list(
        self, account_id: str, where: SessionFilter, *, limit: int, offset: int
    ) -> tuple[list[BacktestSession], int]:
        """A page of the account's sessions (newest first) and the total matching ``where``."""
        self._sweep()
        return self.store.list_sessions(account_id, where, limit=limit, offset=offset)

    # ---- trading ----------------------------------------------------------------------------------

    def step(self, account_id: str, session_id: str, body: BacktestStep) -> dict[str, Any]:
        """Advance the session ``body.steps`` bars with ``body.targets``; the step answer.

        One read of the session row (ownership, status, log length), the cached simulator when it
        is at that log length (else caught up from the missing log rows, or rebuilt), then one
        guarded compare-and-set update plus one insert; 409 if another request won the race. (On
        PostgreSQL the read and the write each run as their own transaction when nothing else
        happened in between: two round trips. The read cannot be skipped on a cached simulator:
        stepping a stale one would cost a rebuild instead of a catch-up.)
        """
        self._sweep()
        row = self._state(account_id, session_id, alone=True)
        self._check_steps(body)
        targets = self._targets(body.targets, row.symbols, body.steps)
        self._check_active(row)
        slot = self.runtime.cache.slot(row.id)
        with slot.lock:
            sim = self._ensure(row, slot)
            fills_before = len(sim.fills)
            try:
                executed = run_steps(sim, targets, body.steps)
                stored = None if targets is None else _pack(targets if targets.shape[0] == 1 else targets[:executed])
                committed = self._commit_action(row, sim, slot, kind="step", steps=executed, targets=stored)
            except BaseException:
                slot.clear()
                raise
            if not committed:
                slot.clear()
                raise self._conflict(row)
            return self._step_answer(row, sim, slot, executed, sim.fills[fills_before:])

    def _check_steps(self, body: BacktestStep) -> None:
        limit = self.runtime.limits.max_steps_per_request
        if body.steps > limit:
            raise _invalid(
                "steps",
                f"at most {limit} steps per request; got {body.steps}. Send several requests.",
                body.steps,
                f"1..{limit}",
            )

    def place_order(self, account_id: str, session_id: str, body: OrderCreate) -> dict[str, Any]:
        """Queue an order; it executes from the next step on. The order answer."""
        row = self._state(account_id, session_id)
        asset = self._asset(row, body.symbol, "symbol")
        self._check_active(row)
        payload = {"asset": asset, "side": body.side, "type": body.type, "quantity": body.quantity, "price": body.price}
        slot = self.runtime.cache.slot(row.id)
        with slot.lock:
            sim = self._ensure(row, slot)
            try:
                order = sim.submit_order(asset, body.side, body.quantity, body.type, body.price)
                if not self._commit_action(row, sim, slot, kind="order", payload=payload):
                    raise self._conflict(row)
            except InvalidParameterError as exc:
                slot.clear()
                raise _invalid("order", str(exc)) from None
            except BaseException:
                slot.clear()
                raise
            return self._order_dict(order, row.symbols, slot.times)

    def cancel_order(self, account_id: str, session_id: str, order_id: str) -> dict[str, Any]:
        """Cancel a pending order. The cancelled order."""
        row = self._state(account_id, session_id)
        number = _order_number(order_id)
        self._check_active(row)
        slot = self.runtime.cache.slot(row.id)
        with slot.lock:
            sim = self._ensure(row, slot)
            found = next((o for o in sim.orders if o.order_id == number), None)
            if found is None:
                raise NotFoundError(
                    f"No order {order_id!r} in session {session_id}; "
                    f"list them with GET /api/v1/backtests/{session_id}/orders.",
                    details={"order_id": order_id},
                )
            if found.status != "pending":
                raise ConflictError(
                    f"Order {order_id!r} is {found.status}; only pending orders can be cancelled.",
                    details={"order_id": order_id, "status": found.status},
                )
            try:
                order = sim.cancel_order(found.order_id)
                if not self._commit_action(row, sim, slot, kind="cancel", payload={"order_id": found.order_id}):
                    raise self._conflict(row)
            except BaseException:
                slot.clear()
                raise
            return self._order_dict(order, row.symbols, slot.times)

    def cancel(self, account_id: str, session_id: str) -> BacktestSession:
        """Stop an active session, keeping its results so far (idempotent for a cancelled one)."""
        row = self._state(account_id, session_id)
        if row.status == "cancelled":
            return self._owned(account_id, session_id)
        if row.status not in ACTIVE_STATUSES:
            raise ConflictError(
                f"Session {row.id} is {row.status}; only created or running sessions can be cancelled.",
                details={"status": row.status},
            )
        slot = self.runtime.cache.slot(row.id)
        with slot.lock:
            sim = self._ensure(row, slot)
            now = utcnow()
            metrics = sim.metrics().as_dict()
            changes = {"status": "cancelled", "completed_at": now, "updated_at": now, "metrics": metrics}
            if not self.store.update_session(row.id, row.version, changes):
                self.session.rollback()
                raise self._conflict(row)
            self.store.save_result(self._result_row(row.id, sim, row.symbols, slot.times))
            self.session.commit()
        self.runtime.cache.discard(row.id)
        return self._owned(account_id, session_id)

    # ---- reads --------------------------------------------------------------------------------------

    def portfolio(self, account_id: str, session_id: str) -> dict[str, Any]:
        """Cash, equity and positions at the close of the current bar."""
        row = self._state(account_id, session_id)
        slot = self.runtime.cache.slot(row.id)
        with slot.lock:
            sim = self._ensure(row, slot)
            return {
                "session_id": row.id,
                "status": row.status,
                "step": sim.t - sim.start,
                "total_steps": row.total_steps,
                "time": int(slot.times[sim.t]),
                "cash": sim.cash,
                "equity": sim.equity,
                "total_fees": sim.total_fees,
                "positions": _positions(sim, row.symbols, self._market(slot)),
            }

    def orders(self, account_id: str, session_id: str) -> dict[str, Any]:
        """Every order of the session, in submission order."""
        row = self._state(account_id, session_id)
        stored = self._stored(row)
        if stored is not None:
            return {"session_id": row.id, "orders": stored.orders}
        slot = self.runtime.cache.slot(row.id)
        with slot.lock:
            sim = self._ensure(row, slot)
            return {"session_id": row.id, "orders": [self._order_dict(o, row.symbols, slot.times) for o in sim.orders]}

    def trades(self, account_id: str, session_id: str, *, limit: int | None, offset: int) -> dict[str, Any]:
        """The session's fills (oldest first), paginated."""
        row = self._state(account_id, session_id)
        stored = self._stored(row)
        if stored is not None:
            fills = stored.fills
        else:
            slot = self.runtime.cache.slot(row.id)
            with slot.lock:
                sim = self._ensure(row, slot)
                fills = _fill_dicts(sim.fills, 0, row.symbols, slot.times, sim.start)
        page = fills[offset:] if limit is None else fills[offset : offset + limit]
        return {"session_id": row.id, "trades": page, "total": len(fills), "limit": limit, "offset": offset}

    def equity_curve(self, account_id: str, session_id: str) -> dict[str, Any]:
        """Equity marked at each bar's close, from the first bar to the current one."""
        row = self._state(account_id, session_id)
        stored = self._stored(row)
        if stored is not None:
            times = np.frombuffer(stored.times, dtype="<i8").tolist()
            equity = np.frombuffer(stored.equity, dtype="<f8").tolist()
        else:
            slot = self.runtime.cache.slot(row.id)
            with slot.lock:
                sim = self._ensure(row, slot)
                times = slot.times[sim.start : sim.t + 1].tolist()
                equity = sim.equity_curve().tolist()
        return {"session_id": row.id, "time": times, "equity": equity}

    def results(self, account_id: str, session_id: str) -> dict[str, Any]:
        """The engine's metrics: final for a finished session, so far for an active one."""
        row = self._state(account_id, session_id)
        stored = self._stored(row)
        if stored is not None and row.metrics is not None:
            metrics, fees, bankrupt, step = dict(row.metrics), stored.total_fees, stored.bankrupt, row.step
            done = True
        else:
            slot = self.runtime.cache.slot(row.id)
            with slot.lock:
                sim = self._ensure(row, slot)
                metrics, fees, bankrupt = sim.metrics().as_dict(), sim.total_fees, sim.bankrupt
                step, done = sim.t - sim.start, sim.done
        return {
            "session_id": row.id,
            "status": row.status,
            "step": step,
            "total_steps": row.total_steps,
            "done": done,
            "bankrupt": bankrupt,
            **{k: metrics[k] for k in _METRIC_FIELDS},
            "total_fees": fees,
            "metrics": metrics,
            "client_metrics": row.client_metrics,
            "metrics_mismatch": row.metrics_mismatch,
        }

    # ---- replay -------------------------------------------------------------------------------------

    def replay(self, account_id: str, body: ReplayCreate) -> tuple[BacktestSession, bool]:
        """Record a locally stepped episode: replay it through the engine, store the authoritative results.

        Returns the session and whether it was created (``False``: this episode was already recorded).
        """
        self._sweep()
        if body.training_run_id is not None and body.episode is not None:
            existing = self.store.find_episode(account_id, body.training_run_id, body.episode)
            if existing is not None:
                return existing, False
        n_assets = len(body.symbols)
        targets = _replay_targets(body.targets, n_assets)
        steps = int(targets.shape[0])
        config = self._engine_config(body.engine_config())
        step_ms = timeframe_ms(body.timeframe)
        end = body.end_time if body.end_time is not None else body.start_time + steps * step_ms
        if body.dataset_start_time is not None and body.dataset_end_time is not None:
            if not (body.dataset_start_time <= body.start_time and end < body.dataset_end_time):
                raise _invalid(
                    "dataset_start_time",
                    "the episode's bars must lie inside [dataset_start_time, dataset_end_time)",
                )
            ds_start, ds_end = body.dataset_start_time, body.dataset_end_time
        else:
            ds_start, ds_end = body.start_time, end + 1
        per_symbol = [self._load(s, body.timeframe, ds_start, ds_end, "start_time") for s in body.symbols]
        dataset = self._align(per_symbol, "start_time")
        window = dataset.slice(body.start_time, end + 1)
        if len(window) != steps + 1 or int(window.open_time[0]) != body.start_time:
            raise _invalid(
                "targets",
                f"{steps} target rows need {steps + 1} bars from start_time={_iso(body.start_time)}; the server has "
                f"{len(window)} {body.timeframe} bar(s) between {_iso(body.start_time)} and {_iso(end)}"
                + ("" if body.end_time is not None else " (send end_time, the open time of the episode's last bar)"),
                steps,
            )
        mismatch: dict[str, list[Any]] = {}
        if body.dataset_fingerprint is not None:
            ours = _fingerprint_like(body.dataset_fingerprint, per_symbol, dataset)
            if ours != body.dataset_fingerprint:
                mismatch["dataset_fingerprint"] = [body.dataset_fingerprint, ours]
        sim = _simulator(window, config, body.timeframe)
        executed = run_steps(sim, targets, steps)
        metrics = sim.metrics().as_dict()
        mismatch.update(compare_metrics(body.metrics, metrics))
        now = utcnow()
        row = BacktestSession(
            id=new_id("bt"),
            account_id=account_id,
            status="completed",
            source=body.source,
            symbols=list(body.symbols),
            timeframe=body.timeframe,
            start_ms=body.start_time,
            end_ms=int(window.open_time[-1]) + step_ms,
            first_bar_ms=body.start_time,
            last_bar_ms=int(window.open_time[-1]),
            total_steps=steps,
            engine_config=config,
            starting_balance=body.starting_balance,
            fee_rate=body.fee_rate,
            slippage_bps=body.slippage_bps,
            allow_short=body.allow_short,
            strategy_label=body.strategy_label,
            episode_length=None,
            seed=None,
            training_run_id=body.training_run_id,
            episode=body.episode,
            dataset_fingerprint=window.fingerprint,
            version=1,
            step=sim.t - sim.start,
            cash=sim.cash,
            equity=sim.equity,
            created_at=now,
            updated_at=now,
            completed_at=now,
            metrics=metrics,
            client_metrics=None if body.metrics is None else dict(body.metrics),
            metrics_mismatch=mismatch or None,
        )
        try:
            self.store.add_session(row)
        except IntegrityError:
            self.session.rollback()
            if body.training_run_id is not None and body.episode is not None:
                existing = self.store.find_episode(account_id, body.training_run_id, body.episode)
                if existing is not None:
                    return existing, False
            raise
        self.store.add_action(row.id, 0, kind="step", steps=executed, targets=_pack(targets[:executed]))
        self.store.save_result(self._result_row(row.id, sim, row.symbols, window.open_time))
        self.session.commit()
        return row, True

    # ---- helpers ------------------------------------------------------------------------------------

    def _sweep(self) -> None:
        """Expire idle sessions in the store and free idle simulators (at most once per interval).

        Runs first in a request and commits at once, so whatever the request does next cannot undo it.
        """
        if not self.runtime.sweep_due():
            return
        idle = self.runtime.limits.idle_timeout_s
        now = utcnow()
        if self.store.expire_idle(now - timedelta(seconds=idle), now):
            self.session.commit()
        self.runtime.cache.evict_idle(idle)

    def _owned(self, account_id: str, session_id: str) -> BacktestSession:
        row = self.store.get_owned(account_id, session_id)
        if row is None:
            raise self._not_found(session_id)
        return row

    @staticmethod
    def _not_found(session_id: str) -> SessionNotFoundError:
        return SessionNotFoundError(
            f"No backtest session {session_id!r} in this account; list yours with GET /api/v1/backtests.",
            details={"session_id": session_id},
        )

    def _state(self, account_id: str, session_id: str, *, alone: bool = False) -> SessionState:
        state = self.store.get_state(account_id, session_id, alone=alone)
        if state is None:
            raise self._not_found(session_id)
        return state

    def _check_active(self, row: SessionState) -> None:
        """409 unless the session accepts steps and orders; expires it when idle too long."""
        idle = self.runtime.limits.idle_timeout_s
        if row.status in ACTIVE_STATUSES:
            now = utcnow()
            if row.updated_at >= now - timedelta(seconds=idle):
                return
            if self.store.update_session(row.id, row.version, {"status": "expired", "completed_at": now}):
                self.session.commit()
            self.runtime.cache.discard(row.id)
        elif row.status != "expired":
            hint = "its episode has ended" if row.status == "completed" else "it was cancelled"
            raise ConflictError(
                f"Session {row.id} is {row.status} ({hint}); only created or running sessions accept steps and orders.",
                details={"status": row.status},
            )
        raise ConflictError(
            f"Session {row.id} expired: no activity for more than {idle:g} s. Create a new session.",
            details={"status": "expired", "idle_timeout_s": idle},
        )

    def _ensure(self, row: SessionState, slot: _Slot) -> Simulator:
        """The simulator of ``row`` at its stored log length: cached, caught up, or rebuilt."""
        sim = slot.sim
        slot.state = row
        if sim is not None and slot.version == row.version:
            return sim
        try:
            if sim is not None and 0 <= slot.version < row.version:
                replay_log(sim, self.store.load_actions(row.id, slot.version, row.version))
            else:
                window = self._window(row)
                sim = _simulator(window, row.engine_config, row.timeframe)
                replay_log(sim, self.store.load_actions(row.id, 0, row.version))
                slot.market, slot.times = window, window.open_time
        except BaseException:
            slot.clear()
            raise
        slot.sim, slot.version = sim, row.version
        return sim

    def _window(self, row: SessionState) -> MarketData:
        window = self._load_market(row.symbols, row.timeframe, row.first_bar_ms, row.last_bar_ms + 1, "start_time")
        if window.fingerprint != row.dataset_fingerprint:
            raise ConflictError(
                f"The stored {', '.join(row.symbols)} {row.timeframe} candles of session {row.id} changed after it "
                "was created, so it cannot be rebuilt faithfully. Create a new session.",
                details={"expected_fingerprint": row.dataset_fingerprint, "found_fingerprint": window.fingerprint},
            )
        return window

    def _commit_action(
        self,
        row: SessionState,
        sim: Simulator,
        slot: _Slot,
        *,
        kind: str,
        steps: int = 0,
        targets: bytes | None = None,
        payload: dict[str, Any] | None = None,
    ) -> bool:
        """Append the action (guarded compare-and-set), store results when the episode ended, commit.

        ``False`` (rolled back, nothing written) when another writer appended first or the session
        stopped being active meanwhile.
        """
        status = "completed" if sim.done else "running"
        now = utcnow()
        ok = self.store.advance(
            row,
            kind=kind,
            steps=steps,
            targets=targets,
            payload=payload,
            status=status,
            step=sim.t - sim.start,
            cash=sim.cash,
            equity=sim.equity,
            now=now,
            active_since=now - timedelta(seconds=self.runtime.limits.idle_timeout_s),
            metrics=sim.metrics().as_dict() if sim.done else None,
        )
        if not ok:
            self.session.rollback()
            return False
        if sim.done:
            self.store.save_result(self._result_row(row.id, sim, row.symbols, slot.times))
        self.session.commit()
        row.version += 1
        row.status = status
        row.updated_at = now
        slot.version = row.version
        slot.state = row
        return True

    @staticmethod
    def _market(slot: _Slot) -> MarketData:
        if slot.market is None:  # pragma: no cover - _ensure always sets it
            raise RuntimeError("simulator slot without market data")
        return slot.market

    @staticmethod
    def _conflict(row: SessionState) -> ConflictError:
        return ConflictError(
            f"Session {row.id} was changed by another request at the same time; retry this one.",
            details={"session_id": row.id},
        )

    def _stored(self, row: SessionState) -> BacktestResult | None:
        if row.status in ACTIVE_STATUSES:
            return None
        return self.store.get_result(row.id)

    def _result_row(
        self, session_id: str, sim: Simulator, symbols: Sequence[str], times: NDArray[np.int64]
    ) -> BacktestResult:
        return BacktestResult(
            session_id=session_id,
            times=np.ascontiguousarray(times[sim.start : sim.t + 1], dtype="<i8").tobytes(),
            equity=_pack(sim.equity_curve()),
            fills=_fill_dicts(sim.fills, 0, symbols, times, sim.start),
            orders=[self._order_dict(o, symbols, times) for o in sim.orders],
            total_fees=sim.total_fees,
            bankrupt=sim.bankrupt,
            final_positions=sim.positions,
        )

    def _step_answer(
        self, row: SessionState, sim: Simulator, slot: _Slot, executed: int, fills: Sequence[Fill]
    ) -> dict[str, Any]:
        first = len(sim.fills) - len(fills)
        times = slot.times
        return {
            "session_id": row.id,
            "status": row.status,
            "step": sim.t - sim.start,
            "total_steps": row.total_steps,
            "steps_executed": executed,
            "time": int(times[sim.t]),
            "done": sim.done,
            "bankrupt": sim.bankrupt,
            "cash": sim.cash,
            "equity": sim.equity,
            "positions": _positions(sim, row.symbols, self._market(slot)),
            "fills": _fill_dicts(fills, first, row.symbols, times, sim.start),
        }

    @staticmethod
    def _order_dict(order: Order, symbols: Sequence[str], times: NDArray[np.int64]) -> dict[str, Any]:
        return {
            "order_id": f"ord_{order.order_id}",
            "symbol": symbols[order.asset],
            "side": order.side,
            "type": order.kind,
            "quantity": order.quantity,
            "price": order.price,
            "status": order.status,
            "created_at": int(times[order.created_bar]),
            "filled_at": None if order.filled_bar is None else int(times[order.filled_bar]),
            "filled_quantity": order.filled_quantity,
            "fill_price": order.fill_price,
        }

    def _asset(self, row: SessionState, symbol: str, field: str) -> int:
        try:
            return row.symbols.index(symbol)
        except ValueError:
            raise _invalid(field, f"{symbol!r} is not traded by this session", symbol, row.symbols) from None

    @staticmethod
    def _engine_config(values: dict[str, float | bool]) -> dict[str, Any]:
        try:
            return EngineConfig(**values).as_dict()  # type: ignore[arg-type]
        except InvalidParameterError as exc:
            raise _invalid("engine_config", str(exc)) from None

    def _targets(self, targets: Targets | None, symbols: Sequence[str], steps: int) -> NDArray[np.float64] | None:
        """``body.targets`` as a float64 array ``(1, N)`` or ``(steps, N)`` with NaN = hold."""
        if targets is None:
            return None
        n = len(symbols)
        if isinstance(targets, dict):
            row = np.full((1, n), _NAN)
            for symbol, weight in targets.items():
                row[0, self._asset_index(symbols, symbol)] = _NAN if weight is None else weight
            return row
        if not targets or not isinstance(targets[0], list):
            flat = [_NAN if w is None else w for w in targets if not isinstance(w, list)]
            if len(flat) == n:
                return np.array([flat], dtype=np.float64)
            if n == 1 and len(flat) == steps:
                return np.array(flat, dtype=np.float64).reshape(-1, 1)
            raise _invalid(
                "targets",
                f"got {len(flat)} value(s); this session trades {n} symbol(s) {list(symbols)}: send {n} weight(s) "
                f"(used for every step), {steps} rows of {n} (one per step), or {{symbol: weight}}",
                len(flat),
            )
        rows = [[_NAN if w is None else w for w in r] for r in targets if isinstance(r, list)]
        if len(rows) != steps or any(len(r) != n for r in rows):
            raise _invalid(
                "targets",
                f"per-step targets must be {steps} rows (one per step) of {n} weight(s) for {list(symbols)}; "
                f"got {len(rows)} rows of lengths {sorted({len(r) for r in rows})}",
            )
        return np.array(rows, dtype=np.float64)

    @staticmethod
    def _asset_index(symbols: Sequence[str], symbol: str) -> int:
        try:
            return list(symbols).index(symbol)
        except ValueError:
            raise _invalid("targets", f"{symbol!r} is not traded by this session", symbol, list(symbols)) from None

    def _load(self, symbol: str, timeframe: str, start_ms: int, end_ms: int, field: str) -> Candles:
        candles = self.candles.load_candles(symbol, timeframe, start_ms, end_ms)
        if len(candles) == 0:
            stored = self.candles.load_candles(symbol, timeframe)
            span = f"{_iso(stored.start_ms)} .. {_iso(stored.end_ms)}" if len(stored) else "nothing"
            raise _invalid(
                field,
                f"no {symbol} {timeframe} candles between {_iso(start_ms)} and {_iso(end_ms)}; stored: {span}",
            )
        return candles

    def _align(self, candles: Sequence[Candles], field: str) -> MarketData:
        try:
            return MarketData.from_candles(list(candles))
        except TradeReadyCoreError as exc:
            raise _invalid(field, str(exc)) from None

    def _load_market(
        self, symbols: Sequence[str], timeframe: str, start_ms: int, end_ms: int, field: str
    ) -> MarketData:
        return self._align([self._load(s, timeframe, start_ms, end_ms, field) for s in symbols], field)


_METRIC_FIELDS = (
    "roi_pct",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown_pct",
    "total_trades",
    "win_rate",
    "exposure_pct",
    "final_equity",
)


def _positions(sim: Simulator, symbols: Sequence[str], market: MarketData) -> list[dict[str, Any]]:
    closes = market.close[sim.t].tolist()
    return [
        {
            "symbol": symbols[i],
            "quantity": qty,
            "price": closes[i],
            "market_value": sim.position_value(i),
            "unrealized_pnl": sim.unrealized_pnl(i),
        }
        for i, qty in enumerate(sim.positions)
    ]


def _fill_dicts(
    fills: Sequence[Fill], first: int, symbols: Sequence[str], times: NDArray[np.int64], start: int
) -> list[dict[str, Any]]:
    return [
        {
            "trade_id": f"trd_{first + k + 1}",
            "order_id": None if f.order_id is None else f"ord_{f.order_id}",
            "symbol": symbols[f.asset],
            "side": f.side,
            "quantity": f.quantity,
            "price": f.price,
            "fee": f.fee,
            "kind": f.kind,
            "realized_pnl": f.realized_pnl,
            "time": int(times[f.bar]),
            "step": f.bar - start,
        }
        for k, f in enumerate(fills)
    ]


def _order_number(order_id: str) -> int:
    text = order_id[4:] if order_id.startswith("ord_") else order_id
    if not text.isdigit():
        raise NotFoundError(f"No order {order_id!r}: order ids look like 'ord_1'.", details={"order_id": order_id})
    return int(text)


def _replay_targets(values: Sequence[Any], n_assets: int) -> NDArray[np.float64]:
    nested: list[Any]
    if values and isinstance(values[0], list):
        nested = [[_NAN if w is None else w for w in r] for r in values]
    else:
        nested = [_NAN if v is None else v for v in values]
    try:
        arr = np.array(nested, dtype=np.float64)
    except ValueError:
        raise _invalid("targets", "rows of targets must all have the same length") from None
    if arr.ndim == 1:
        if n_assets != 1:
            raise _invalid(
                "targets", f"a flat list of weights is for one symbol; send rows of {n_assets} for {n_assets} symbols"
            )
        arr = arr.reshape(-1, 1)
    if arr.shape[1] != n_assets:
        raise _invalid("targets", f"each row must hold {n_assets} weight(s), one per symbol; got {arr.shape[1]}")
    return arr


def _fingerprint_like(client: str | dict[str, str], per_symbol: Sequence[Candles], dataset: MarketData) -> Any:
    """The server's fingerprint in the client's form: ``{symbol: fp}``, or one string."""
    if isinstance(client, dict):
        return {c.symbol: c.fingerprint for c in per_symbol}
    return per_symbol[0].fingerprint if len(per_symbol) == 1 else dataset.fingerprint
