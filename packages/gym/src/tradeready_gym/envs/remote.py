"""``execution="remote"``: the environment steps a backtest session on the platform.

Usage::

    env = gym.make("TradeReady-BTC-v0", execution="remote", api_key="ak_live_...",
                   base_url="http://localhost:8000")
    obs, info = env.reset(seed=0)            # creates the episode's session on the platform
    obs, reward, terminated, truncated, info = env.step(1)   # one message on the session's step stream
    env.close()                              # cancels a session left unfinished

:class:`RemoteSimulator` has the read and step interface the environment uses from
:class:`tradeready_core.engine.Simulator` (``t``, ``cash``, ``equity``, ``holdings``,
``positions``, ``step_fees``, ``step_fills``, ``done``, ``bankrupt``, ``fills``, ``step1()``,
``step()``, ``equity_curve()``, ``metrics()``, ``result()``), so ``TradingEnv.step()`` is one code
path for both modes. The observation's candle window still comes from the locally computed feature
matrix; the portfolio state (and so the reward) comes from the server's answer to each step.

Per episode: ``reset()`` cancels the previous session if it is unfinished and creates one over the
episode's exact bars (``[open_time[start], open_time[end]]``) with the env's engine configuration,
its strategy label (``strategy_label``, else the env id) and, once the training tracker has
registered a run, its ``training_run_id``. The fingerprint of the candles the platform reports for
that window must equal the local one (else :class:`DatasetMismatchError`); the session's step
stream (``client.stream_backtest``, a WebSocket) is opened, and each step is one ``stream.step()``;
the stream is closed when the episode ends, and the episode's metrics are read once from the
platform. Sessions are recorded with ``source="training"``.
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, SupportsIndex, cast

import numpy as np
from numpy.typing import NDArray

from agentexchange import (
    AgentExchangeClient,
    AgentExchangeError,
    APIConnectionError,
    AuthenticationError,
    BacktestStream,
    ConflictError,
    NotFoundError,
)
from agentexchange.types import StepResult
from tradeready_core.data import MarketData, format_ms
from tradeready_core.engine import EngineConfig, EpisodeResult, Fill, StepReport, episode_bars, targets_within
from tradeready_core.errors import EpisodeFinishedError, InvalidParameterError
from tradeready_core.metrics import Metrics
from tradeready_gym.errors import TradeReadyGymError

if TYPE_CHECKING:
    from tradeready_gym.envs.base import TradingEnv

__all__ = [
    "DatasetMismatchError",
    "RemoteExecutionError",
    "RemoteSimulator",
    "check_remote_options",
]

_METRIC_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in dataclasses.fields(Metrics))
_START_HINT = (
    "Start the platform with `tradeready serve` (and pass api_key= / base_url=, or set "
    "TRADEREADY_API_KEY / TRADEREADY_BASE_URL), or step in-process with execution='local'."
)


class RemoteExecutionError(TradeReadyGymError, RuntimeError):
    """The platform could not run the episode's backtest session (unreachable, refused, expired)."""


class DatasetMismatchError(RemoteExecutionError):
    """The platform's candles for the episode differ from the ones the environment computes features on."""


def check_remote_options(api_key: str | None, client: AgentExchangeClient | None) -> None:
    """Raise :class:`InvalidParameterError` when ``execution="remote"`` cannot work with these options."""
    has_key = client.has_api_key if client is not None else bool(api_key or os.environ.get("TRADEREADY_API_KEY"))
    if not has_key:
        raise InvalidParameterError(
            "execution='remote' steps a backtest session on the platform and needs an API key: pass "
            "api_key='ak_live_...' or client=, or set TRADEREADY_API_KEY; got none "
            "(or use execution='local', the default)"
        )


def _link_of(env: TradingEnv) -> Callable[[], tuple[str, str | None]]:
    """``() -> (strategy_label, training_run_id)`` read from ``env`` at each reset (weakly referenced)."""
    ref = weakref.ref(env)
    fallback = type(env).__name__

    def link() -> tuple[str, str | None]:
        target = ref()
        if target is None:
            return fallback, None
        spec = target.spec
        label = target.strategy_label or (spec.id if spec is not None else fallback)
        run_id = target.tracking_run_id
        return label, run_id or None

    return link


class RemoteSimulator:
    """A server-side backtest session behind the :class:`~tradeready_core.engine.Simulator` interface.

    Usage (what ``TradingEnv`` does with ``execution="remote"``)::

        sim = RemoteSimulator(market, EngineConfig(), "1h", client=client)
        sim.reset(start=60, end=160)        # POST /backtests (the episode's bars), opens its step stream
        sim.step1(0.5)                      # one message on the stream
        sim.equity, sim.cash, sim.positions, sim.step_fees
        sim.close()                         # cancel an unfinished session, close an owned client

    ``client`` is used as given (never closed here); without one, a client is built from
    ``api_key``/``base_url`` (then ``TRADEREADY_API_KEY``/``TRADEREADY_BASE_URL``) and closed by
    :meth:`close`. ``link`` returns the session's ``(strategy_label, training_run_id)``.
    """

    def __init__(
        self,
        market: MarketData,
        config: EngineConfig,
        timeframe: str,
        *,
        client: AgentExchangeClient | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        link: Callable[[], tuple[str, str | None]] | None = None,
    ) -> None:
        self.market = market
        self.config = config
        self.timeframe = timeframe
        self.n_bars, self.n_assets = len(market), market.n_assets
        self._symbols = list(market.symbols)
        self._times: list[int] = market.open_time.tolist()
        self._owns_client = client is None
        self.client = client if client is not None else AgentExchangeClient(api_key=api_key, base_url=base_url)
        self._link = link if link is not None else (lambda: ("default", None))
        self.session_id: str | None = None
        self._stream: BacktestStream | None = None
        self._state_for(0, 1)

    @classmethod
    def for_env(cls, env: TradingEnv, market: MarketData) -> RemoteSimulator:
        """The remote simulator of ``env`` over ``market`` (its client or credentials, label and run)."""
        return cls(
            market,
            env.config,
            env.timeframe,
            client=env.client,
            api_key=env.api_key,
            base_url=env.base_url,
            link=_link_of(env),
        )

    # ------------------------------------------------------------------ episode control
    def _state_for(self, start: int, end: int) -> None:
        cash = float(self.config.starting_balance)
        self.start, self._end, self.t = start, end, start
        self.cash = cash
        self.equity = cash
        self.holdings: list[float] = [0.0] * self.n_assets
        self._values: list[float] = [0.0] * self.n_assets
        self._pnl: list[float] = [0.0] * self.n_assets
        self.fills: list[Fill] = []
        self._eq: list[float] = [cash]
        self.total_fees = 0.0
        self.step_fees = 0.0
        self.step_fills = 0
        self.done = False
        self.bankrupt = False
        self._metrics: tuple[int, Metrics] | None = None

    def reset(self, start: SupportsIndex = 0, end: SupportsIndex | None = None) -> None:
        """Cancel the previous session if unfinished, then create one over bars ``start..end``."""
        start, stop = episode_bars(start, end, self.n_bars)
        self._cancel()
        self._state_for(start, stop)
        label, run_id = self._link()
        cfg = self.config
        first_ms, last_ms = self._times[start], self._times[stop]
        session = self._call(
            "create the episode's backtest session",
            lambda: self.client.create_backtest(
                symbols=self._symbols,
                timeframe=self.timeframe,
                start_time=first_ms,
                end_time=last_ms + 1,
                starting_balance=cfg.starting_balance,
                fee_rate=cfg.fee_rate,
                slippage_bps=cfg.slippage_bps,
                allow_short=cfg.allow_short,
                strategy_label=label,
                training_run_id=run_id,
                max_leverage=cfg.max_leverage,
                borrow_rate_annual=cfg.borrow_rate_annual,
                maintenance_margin=cfg.maintenance_margin,
                min_trade_value=cfg.min_trade_value,
                source="training",
            ),
        )
        self.session_id = str(session["session_id"])
        theirs = session.get("dataset_fingerprint")
        ours = self.market.slice(first_ms, last_ms + 1).fingerprint
        if theirs != ours or session.get("total_steps") != stop - start:
            self._cancel()
            raise DatasetMismatchError(
                f"the platform at {self.client.base_url} holds different {'/'.join(self._symbols)} "
                f"{self.timeframe} candles between {format_ms(first_ms)} and {format_ms(last_ms)} than this "
                f"environment (fingerprint {theirs!r} with {session.get('total_steps')} steps there, {ours!r} with "
                f"{stop - start} steps here); import the same file with `tradeready data import`, or drop data= so "
                "the environment downloads the platform's candles"
            )
        session_id = self.session_id
        self._stream = self._call("open the session's step stream", lambda: self.client.stream_backtest(session_id))

    @property
    def end(self) -> int:
        """The last bar of the episode."""
        return self._end

    # ------------------------------------------------------------------ stepping
    def step1(self, target: float) -> bool:
        """Single-asset step: ``target`` weight (NaN = hold). Returns ``done``."""
        if self.n_assets != 1:
            raise InvalidParameterError(f"step1() needs exactly 1 asset; this simulator has {self.n_assets}")
        return self._step([None if target != target else float(target)])

    def step(self, targets: Sequence[float] | NDArray[np.float64] | None = None) -> bool:
        """Advance one bar; ``targets`` are per-asset weights (NaN = hold, None = no rebalance)."""
        if targets is None:
            return self._step(None)
        ws = targets.tolist() if isinstance(targets, np.ndarray) else list(targets)
        if len(ws) != self.n_assets:
            raise InvalidParameterError(f"targets must have {self.n_assets} values; got {len(ws)}")
        return self._step([None if w != w else float(w) for w in ws])

    def advance(
        self,
        targets: object,
        codes: tuple[tuple[int, int], ...],
        limit: float,
        low: float,
        high: float,
    ) -> StepReport | None:
        """:meth:`step` and the step's report, as :meth:`tradeready_core.engine.Simulator.advance` defines them."""
        if not targets_within(targets, self.n_assets, low, high):
            return None
        before = self.equity
        done = self.step(cast("list[float]", targets))
        fractions = self.equity_fractions(codes, limit)
        holdings = tuple(self.holdings)
        return (done, before, self.equity, self.cash, holdings, self.step_fills, self.step_fees, self.t, fractions)

    def _step(self, wire: list[float | None] | None) -> bool:
        stream = self._stream
        if self.done or stream is None:
            raise EpisodeFinishedError("step() called after the episode ended; call reset() first")
        answer = self._call("step the backtest session", lambda: stream.step(1, wire))
        self._apply(answer)
        if self.done:
            self._close_stream()
        return self.done

    def _apply(self, answer: StepResult) -> None:
        t = self.start + int(answer["step"])
        if t != self.t + 1 or int(answer["time"]) != self._times[t]:
            raise DatasetMismatchError(
                f"session {self.session_id} answered step {answer['step']} at {answer['time']} ms; expected bar "
                f"{self.t + 1 - self.start} at {self._times[min(self.t + 1, self.n_bars - 1)]} ms"
            )
        fees = 0.0
        index = self._symbols.index
        for f in answer["fills"]:
            fee = float(f["fee"])
            order = f["order_id"]
            self.fills.append(
                Fill(
                    self.start + int(f["step"]),
                    index(f["symbol"]),
                    "buy" if f["side"] == "buy" else "sell",
                    float(f["quantity"]),
                    float(f["price"]),
                    fee,
                    str(f["kind"]),
                    f["realized_pnl"],
                    None if order is None else int(str(order).removeprefix("ord_")),
                )
            )
            fees += fee  # same order and arithmetic as the engine's running sums
            self.total_fees += fee
        positions = answer["positions"]
        self.holdings[:] = [float(p["quantity"]) for p in positions]
        self._values = [float(p["market_value"]) for p in positions]
        self._pnl = [float(p["unrealized_pnl"]) for p in positions]
        self.step_fees = fees
        self.step_fills = len(answer["fills"])
        self.cash = float(answer["cash"])
        self.equity = float(answer["equity"])
        self._eq.append(self.equity)
        self.t = t
        self.done = bool(answer["done"])
        self.bankrupt = bool(answer["bankrupt"])

    # ------------------------------------------------------------------ state
    @property
    def positions(self) -> list[float]:
        """Held quantity of each asset (negative = short)."""
        return list(self.holdings)

    def position(self, asset: int = 0) -> float:
        """Held quantity of ``asset`` (negative = short)."""
        return self.holdings[asset]

    def position_value(self, asset: int = 0) -> float:
        """Value of the held quantity of ``asset`` at the current close (as the platform marked it)."""
        return self._values[asset]

    def unrealized_pnl(self, asset: int = 0) -> float:
        """Open profit or loss of ``asset`` at the current close (as the platform computed it)."""
        return self._pnl[asset]

    def equity_fractions(self, codes: tuple[tuple[int, int], ...], limit: float) -> list[float]:
        """The account as fractions of equity, as :meth:`tradeready_core.engine.Simulator.equity_fractions`
        defines them, from the platform's answers (the same doubles: the platform runs that engine)."""
        equity = self.equity
        inv = 1.0 / equity if equity > 0.0 else 0.0
        out: list[float] = []
        for code, i in codes:
            if code == 1:
                x = self._values[i] * inv
            elif code == 0:
                x = self.cash * inv
            else:
                x = self._pnl[i] * inv
            out.append(limit if x > limit else (-limit if x < -limit else x))
        return out

    def equity_curve(self) -> NDArray[np.float64]:
        """Equity marked at each bar from ``start`` to the current ``t``, as the platform reported it."""
        return np.array(self._eq, dtype=np.float64)

    def metrics(self) -> Metrics:
        """The platform's metrics of the episode so far (one request per step at most, cached)."""
        if self._metrics is not None and self._metrics[0] == self.t:
            return self._metrics[1]
        if self.session_id is None:
            raise EpisodeFinishedError("no episode yet: call reset() first")
        session_id = self.session_id
        results = self._call("read the session's results", lambda: self.client.get_backtest_results(session_id))
        values = results["metrics"]
        metrics = Metrics(**{name: values[name] for name in _METRIC_FIELDS})
        self._metrics = (self.t, metrics)
        return metrics

    def result(self) -> EpisodeResult:
        """The episode so far: the platform's equity curve, fills and metrics."""
        return EpisodeResult.of(self)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Cancel an unfinished session and close the client if this object built it (idempotent)."""
        try:
            self._cancel()
        finally:
            if self._owns_client:
                self.client.close()
                self._owns_client = False

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def _cancel(self) -> None:
        self._close_stream()
        session_id, self.session_id = self.session_id, None
        if session_id is None or self.done:
            return
        try:
            self.client.cancel_backtest(session_id)
        except (ConflictError, NotFoundError):
            return  # already completed or expired (409), or gone (404): nothing is left running
        except AgentExchangeError as exc:
            raise self._error("cancel the unfinished backtest session", exc) from exc

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except AgentExchangeError as exc:
            raise self._error(what, exc) from exc

    def _error(self, what: str, exc: AgentExchangeError) -> RemoteExecutionError:
        url = self.client.base_url
        if isinstance(exc, APIConnectionError):
            return RemoteExecutionError(
                f"execution='remote' could not {what}: the TradeReady platform at {url} could not be reached "
                f"({exc}). {_START_HINT}"
            )
        if isinstance(exc, AuthenticationError):
            return RemoteExecutionError(
                f"execution='remote' could not {what}: the platform at {url} refused the API key ({exc}); "
                "create one with `tradeready keys create` and pass it as api_key="
            )
        return RemoteExecutionError(f"execution='remote' could not {what} on the platform at {url}: {exc}")
