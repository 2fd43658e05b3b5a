"""The shared shell of every TradeReady environment: data, features, engine, observation, info.

Subclasses only define the action space and how an action becomes target weights
(:meth:`TradingEnv._resolve`). Everything else, and every parameter, lives here:

==========================  ===================================================================
parameter                   meaning
==========================  ===================================================================
``api_key``, ``base_url``   the platform (candles, later tracking); default ``TRADEREADY_API_KEY``
                            / ``TRADEREADY_BASE_URL`` then ``http://localhost:8000``
``starting_balance``        cash at every reset (quote currency, e.g. USDT), default 10 000
``timeframe``               candle timeframe, one of ``TIMEFRAMES``, default ``"1h"``
``lookback_window``         candles per observation window, default 50
``observation_features``    names from ``tradeready_gym.features`` (candle features and the
                            portfolio scalars ``balance``, ``position``, ``unrealized_pnl``)
``reward_function``         a :class:`~tradeready_gym.rewards.RewardFunction` (copied per env),
                            default :class:`~tradeready_gym.rewards.LogReturnReward`
``start_time``, ``end_time``  decisions are taken on candles with ``start_time <= open_time <
                            end_time`` (epoch ms, ISO-8601 or datetime); default all data
``track_training``          report episodes to the platform (through a :class:`TrainingHook`; see
                            :meth:`TradingEnv.attach_tracker`)
``strategy_label``          label of the training run in the dashboard
``fee_rate``, ``slippage_bps``  trading costs (see :mod:`tradeready_core.engine`)
``episode_length``          ``None``: each episode is the whole range; ``N``: a random window of
                            ``N`` steps per reset, drawn from ``self.np_random``
``allow_short``             allow negative positions (margin, borrow cost, liquidation)
``render_mode``             ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (matplotlib chart)
``execution``               ``"local"`` (in-process engine) or ``"remote"`` (each step is one request to a
                            backtest session on the platform: see :mod:`tradeready_gym.envs.remote`)
``data``                    offline candles: DataFrame, path, or ``{symbol: DataFrame | path}``
``client``                  an :class:`agentexchange.AgentExchangeClient` to use for the platform
``cache_dir``               where downloaded candles are cached (see ``data_source``)
==========================  ===================================================================

Observation (``float32``, shape ``(lookback_window * F + S,)``): the last ``lookback_window`` rows
of the precomputed feature matrix, oldest first, flattened (row ``t`` uses candles closed at or
before ``t``), followed by ``S`` portfolio scalars in the order requested: ``balance`` =
cash / equity, ``position`` = position value / equity (one per asset), ``unrealized_pnl`` =
open PnL / equity (one per asset). Every value is clipped to ``[-OBS_CLIP, OBS_CLIP]``, the
observation space's finite bounds.

Step: the action's targets are executed by :class:`tradeready_core.engine.Simulator` (fill at the
next candle's open, costs, equity marked at its close), then reward, observation and ``info``
(``equity``, ``cash``, ``position``, ``fills``, ``fees``, ``timestamp`` = close time of the candle
just marked, epoch ms). ``terminated`` means bankrupt; ``truncated`` means the episode's window
ended. The last step also carries ``episode_metrics`` (:meth:`Metrics.as_dict`), ``action_log``
(the resolved target weights, ``(steps, N)``, NaN = hold), ``episode_start_index`` and
``episode_start_time``: :func:`tradeready_core.engine.replay` of that log over the same candles
gives the same equity curve, bit for bit.
"""

from __future__ import annotations

import abc
import copy
import math
import os
import struct
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from agentexchange import AgentExchangeClient
from tradeready_core.data import MarketData, TimeLike, to_ms
from tradeready_core.engine import EngineConfig, EpisodeResult, Simulator
from tradeready_core.errors import InsufficientDataError, InvalidParameterError
from tradeready_core.timeframes import TIMEFRAMES, timeframe_ms
from tradeready_gym.data_source import DataInput, resolve_market_data
from tradeready_gym.envs.remote import RemoteSimulator, check_remote_options
from tradeready_gym.features import FEATURE_CLIP, FeaturePipeline
from tradeready_gym.render import ansi_frame, rgb_frame
from tradeready_gym.rewards import _LOG_MIN, _MIN_LOG_RATIO, MAX_STEP_RETURN, LogReturnReward, RewardFunction

__all__ = ["DEFAULT_FEATURES", "EXECUTION_MODES", "OBS_CLIP", "NullTracker", "TradingEnv", "TrainingHook"]

DEFAULT_FEATURES: Final[tuple[str, ...]] = ("ohlcv", "rsi_14", "macd", "bollinger", "balance", "position")
"""The seed's feature set."""

OBS_CLIP: Final[float] = FEATURE_CLIP
"""Every observation value lies in ``[-OBS_CLIP, OBS_CLIP]``."""

EXECUTION_MODES: Final[tuple[str, ...]] = ("local", "remote")

_VIEW_CACHE_MAX_BARS: Final = 200_000
"""Up to this many bars, the observation window of every bar is kept as a ready view (about 150 bytes
each, 30 MB at most): an observation is then a single copy, without slicing the feature matrix."""

_log = math.log
_HI: Final = OBS_CLIP
_LO: Final = -OBS_CLIP


class TrainingHook(Protocol):
    """What the environment tells a training tracker (never called from inside the engine)."""

    def on_reset(self, env: TradingEnv) -> None: ...

    def on_episode_end(self, env: TradingEnv, info: Mapping[str, Any], reward_sum: float) -> None: ...

    def on_close(self, env: TradingEnv) -> None: ...


class NullTracker:
    """The no-op hook used until the platform tracker is installed (and with ``track_training=False``)."""

    def on_reset(self, env: TradingEnv) -> None:
        """Nothing to do."""

    def on_episode_end(self, env: TradingEnv, info: Mapping[str, Any], reward_sum: float) -> None:
        """Nothing to do."""

    def on_close(self, env: TradingEnv) -> None:
        """Nothing to do."""


def _check_choice(name: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise InvalidParameterError(f"{name} must be one of {tuple(allowed)}; got {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be True or False; got {value!r}")


def _check_optional_str(name: str, value: object, max_len: int = 200) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > max_len):
        raise InvalidParameterError(
            f"{name} must be None or a non-empty string of at most {max_len} characters; got {value!r}"
        )


def _check_int(name: str, value: object, low: int, high: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= int(value) <= high:
        none = "None or " if optional else ""
        raise InvalidParameterError(f"{name} must be {none}an integer in [{low}, {high}]; got {value!r}")


class TradingEnv(gym.Env[NDArray[np.float32], Any], abc.ABC):
    """Base class of the TradeReady environments (see the module docstring for every parameter)."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012 - gymnasium's attribute

    multi_asset: ClassVar[bool] = False
    """Whether actions, ``info["position"]`` and the observation's position scalars are per asset (a list,
    a tuple, one value each) even for one symbol: the portfolio env. Single-asset envs take a number."""

    # the private state in slots: with the public attributes alone, the instance dict stays small enough
    # for CPython's fast attribute and method access (more than 30 attributes would disable it)
    __slots__ = (
        "_balance_slot",
        "_cache_dir",
        "_client",
        "_close0",
        "_close_times",
        "_closes",
        "_columns",
        "_data",
        "_first",
        "_flat",
        "_k",
        "_last",
        "_log",
        "_log_return",
        "_market",
        "_needs_reset",
        "_obs_offset",
        "_obs_size",
        "_pack_scalars",
        "_pnl_slot",
        "_position_slot",
        "_reward_function",
        "_reward_sum",
        "_scalar_codes",
        "_scalars_at",
        "_sim",
        "_tracker",
        "_views",
        "_window",
    )

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        starting_balance: float = 10_000.0,
        timeframe: str = "1h",
        lookback_window: int = 50,
        observation_features: Sequence[str] = DEFAULT_FEATURES,
        reward_function: RewardFunction | None = None,
        start_time: TimeLike | None = None,
        end_time: TimeLike | None = None,
        track_training: bool = True,
        strategy_label: str | None = None,
        fee_rate: float = 0.001,
        slippage_bps: float = 5.0,
        episode_length: int | None = None,
        allow_short: bool = False,
        render_mode: str | None = None,
        execution: str = "local",
        data: DataInput | None = None,
        client: AgentExchangeClient | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.symbols = tuple(symbols)
        self.n_assets = len(self.symbols)
        _check_optional_str("api_key", api_key)
        _check_optional_str("base_url", base_url, 2000)
        _check_choice("timeframe", timeframe, TIMEFRAMES)
        _check_int("lookback_window", lookback_window, 1, 10_000)
        _check_bool("track_training", track_training)
        _check_optional_str("strategy_label", strategy_label, max_len=100)
        _check_int("episode_length", episode_length, 1, 10**9, optional=True)
        _check_bool("allow_short", allow_short)
        _check_choice("render_mode", render_mode, (None, *self.metadata["render_modes"]))
        _check_choice("execution", execution, EXECUTION_MODES)
        if reward_function is not None and not isinstance(reward_function, RewardFunction):
            raise InvalidParameterError(
                "reward_function must be None or a tradeready_gym.rewards.RewardFunction instance "
                f"(e.g. SharpeReward(window=50)); got {reward_function!r}"
            )
        if cache_dir is not None and not isinstance(cache_dir, str | os.PathLike):
            raise InvalidParameterError(f"cache_dir must be None or a folder path; got {cache_dir!r}")
        if client is not None and not isinstance(client, AgentExchangeClient):
            raise InvalidParameterError(f"client must be an agentexchange.AgentExchangeClient; got {client!r}")
        self.start_ms = None if start_time is None else to_ms(start_time, name="start_time")
        self.end_ms = None if end_time is None else to_ms(end_time, name="end_time")
        if self.start_ms is not None and self.end_ms is not None and self.end_ms <= self.start_ms:
            raise InvalidParameterError(
                f"end_time must be after start_time; got start_time={start_time!r}, end_time={end_time!r}"
            )
        self.config = EngineConfig(
            starting_balance=starting_balance, fee_rate=fee_rate, slippage_bps=slippage_bps, allow_short=allow_short
        )
        self.pipeline = FeaturePipeline(list(observation_features))
        if execution == "remote":
            check_remote_options(api_key, client)
        self.api_key, self.base_url = api_key, base_url
        self.timeframe = timeframe
        self.lookback_window = int(lookback_window)
        self.episode_length = None if episode_length is None else int(episode_length)
        self.allow_short = allow_short
        self.track_training = track_training
        self.strategy_label = strategy_label
        self.execution = execution
        self.render_mode = render_mode
        self.reward_function = LogReturnReward() if reward_function is None else copy.deepcopy(reward_function)
        self._data, self._client, self._cache_dir = data, client, cache_dir
        self._tracker: TrainingHook = NullTracker()
        if track_training:  # reports once an API key is known (argument, client or TRADEREADY_API_KEY)
            from tradeready_gym.tracking import TrainingTracker

            self._tracker = TrainingTracker(client, api_key=api_key, base_url=base_url, strategy_label=strategy_label)

        self._columns = len(self.pipeline.columns) * self.n_assets
        self._window = self.lookback_window * self._columns
        portfolio = self.pipeline.portfolio_features
        codes = {"balance": 0, "position": 1, "unrealized_pnl": 2}
        self._scalar_codes: tuple[tuple[int, int], ...] = tuple(
            (codes[p], i) for p in portfolio for i in (range(1) if p == "balance" else range(self.n_assets))
        )
        self._obs_size = self._window + len(self._scalar_codes)
        self._pack_scalars = struct.Struct(f"={len(self._scalar_codes)}f").pack_into
        self._scalars_at = self._window * 4  # byte offset of the scalars in an observation
        if self._obs_size == 0:
            raise InvalidParameterError("observation_features must select at least one value")
        # the observation of bar t starts at flat[t * columns + _obs_offset]
        self._obs_offset = self._columns - self._window
        # single asset: where each portfolio scalar goes in the observation (-1: not observed)
        slots = {p: self._window + k for k, p in enumerate(portfolio)}
        if not self.multi_asset and self.n_assets != 1:
            raise InvalidParameterError(f"{type(self).__name__} trades one symbol; got {list(self.symbols)!r}")
        self._balance_slot = slots.get("balance", -1)
        self._position_slot = slots.get("position", -1)
        self._pnl_slot = slots.get("unrealized_pnl", -1)
        self.observation_space = spaces.Box(-OBS_CLIP, OBS_CLIP, (self._obs_size,), np.float32)
        self.action_space = self._make_action_space()

        self._sim: Simulator | RemoteSimulator | None = None
        self._market: MarketData | None = None
        self._needs_reset = True
        self._k = 0
        if data is not None:
            self._load()

    @property
    def reward_function(self) -> RewardFunction:
        """The reward paid after each step (replaceable between episodes)."""
        return self._reward_function

    @reward_function.setter
    def reward_function(self, reward: RewardFunction) -> None:
        if not isinstance(reward, RewardFunction):
            raise InvalidParameterError(
                f"reward_function must be a tradeready_gym.rewards.RewardFunction instance; got {reward!r}"
            )
        self._reward_function = reward
        # the default reward is computed inline by step() (unless a subclass changes what it pays)
        self._log_return = type(reward).__call__ is LogReturnReward.__call__

    # ------------------------------------------------------------------ subclass hooks
    @abc.abstractmethod
    def _make_action_space(self) -> spaces.Space[Any]:
        """The action space."""

    @abc.abstractmethod
    def _resolve(self, action: Any) -> Any:
        """The target weight(s) of ``action``: a float for one asset, a list of ``n_assets`` floats otherwise.

        Raises :class:`InvalidParameterError` for an action outside the action space; NaN = hold.
        """

    # ------------------------------------------------------------------ data
    def _load(self) -> None:
        warmup = self.pipeline.warmup + self.lookback_window
        market = resolve_market_data(
            list(self.symbols),
            self.timeframe,
            data=self._data,
            start_time=self.start_ms,
            end_time=self.end_ms,
            warmup_bars=warmup,
            client=self._client,
            api_key=self.api_key,
            base_url=self.base_url,
            cache_dir=self._cache_dir,
        )
        n_bars = len(market)
        first = self.pipeline.warmup + self.lookback_window - 1
        if self.start_ms is not None:
            first = max(first, int(np.searchsorted(market.open_time, self.start_ms, "left")))
        last = n_bars - 1
        if last - first < 1:
            raise InsufficientDataError(
                f"{'/'.join(market.symbols)} {self.timeframe}: {n_bars} candles leave no step after the "
                f"feature warm-up ({self.pipeline.warmup}) and lookback_window ({self.lookback_window}); "
                "pass more data, an earlier start_time or a smaller lookback_window"
            )
        if self.episode_length is not None and self.episode_length > last - first:
            raise InvalidParameterError(
                f"episode_length must be at most {last - first} (steps available after warm-up); "
                f"got {self.episode_length}"
            )
        if self.pipeline.columns:
            blocks = [
                self.pipeline.compute(
                    market.open[:, j], market.high[:, j], market.low[:, j], market.close[:, j], market.volume[:, j]
                ).values
                for j in range(self.n_assets)
            ]
            matrix = blocks[0] if len(blocks) == 1 else np.hstack(blocks)
        else:
            matrix = np.zeros((n_bars, 0), dtype=np.float32)
        # padded with one observation's worth of zeros so that every window plus the scalar slots
        # behind it is one contiguous slice: the observation is a single copy
        flat = np.zeros(matrix.size + self._obs_size, dtype=np.float32)
        flat[: matrix.size] = matrix.reshape(-1)
        flat.setflags(write=False)
        self._flat = flat
        size, columns, offset = self._obs_size, self._columns, self._obs_offset
        self._views: list[NDArray[np.float32] | None] | None = None
        if n_bars <= _VIEW_CACHE_MAX_BARS:
            self._views = [None] * first
            self._views += [flat[t * columns + offset : t * columns + offset + size] for t in range(first, n_bars)]
        self._market = market
        self._sim = (
            RemoteSimulator.for_env(self, market)
            if self.execution == "remote"
            else Simulator(market.open, market.high, market.low, market.close, self.config, self.timeframe)
        )
        self._closes: list[list[float]] = market.close.T.tolist()
        self._close0: list[float] = self._closes[0]
        step_ms = timeframe_ms(self.timeframe)
        self._close_times: list[int] = (market.open_time + step_ms).tolist()
        self._first, self._last = first, last
        max_steps = last - first if self.episode_length is None else self.episode_length
        # the resolved targets of each step, flat: one float per step for one asset (preallocated), else
        # N per step, appended (floats only: nothing for the garbage collector to scan)
        self._log: list[float] = [] if self.multi_asset else [math.nan] * max_steps

    @property
    def market(self) -> MarketData:
        """The candles this environment trades (resolved on construction with ``data=``, else on reset)."""
        if self._market is None:
            self._load()
        assert self._market is not None
        return self._market

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        """Start an episode (the whole range, or a random ``episode_length`` window)."""
        super().reset(seed=seed)
        if self._sim is None:
            self._load()
        sim = self._sim
        assert sim is not None
        if self.episode_length is None:
            start, end = self._first, self._last
        else:
            start = int(self.np_random.integers(self._first, self._last - self.episode_length + 1))
            end = start + self.episode_length
        if not self._needs_reset and self._k > 0:
            self._end_episode(sim, {})  # reset mid-episode (e.g. by a TimeLimit wrapper): report what ran
        sim.reset(start, end)
        self.reward_function.reset(sim.equity)
        self._reward_sum = 0.0
        self._k = 0
        if self.multi_asset:
            self._log = []
        self._needs_reset = False
        self._tracker.on_reset(self)
        return self._observe(start), self._info(sim)

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """Execute one decision (see the module docstring).

        The hot path of training, written out inline: Python floats, no I/O, no pandas, one numpy
        copy (the observation: a ready view of the window plus its scalar slots) and two scalar
        writes. Every returned object is new (callers such as SB3's buffers may keep them). This is
        the one-asset form; :class:`~tradeready_gym.envs.portfolio.PortfolioTradingEnv` writes out
        the N-asset one (the same contract).
        """
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step(), and again after an episode ends")
        target = self._resolve(action)
        sim: Simulator = self._sim  # type: ignore[assignment]  # set by reset()
        prev_equity = sim.equity
        k = self._k
        self._k = k + 1
        self._log[k] = target
        done = sim.step1(target)
        equity = sim.equity
        if self._log_return and prev_equity > 0.0 and -1.0 <= (r := equity / prev_equity - 1.0) <= MAX_STEP_RETURN:
            # the default LogReturnReward, inline: the operations of its __call__ for this case
            x = 1.0 + r
            reward = _log(x) if x >= _MIN_LOG_RATIO else _LOG_MIN
        else:
            reward = self._reward_function.__call__(prev_equity, equity, self)
        self._reward_sum += reward
        t = sim.t
        views = self._views
        obs = (views[t] if views is not None else self._window_view(t)).copy()  # type: ignore[union-attr]
        cash = sim.cash
        q = sim.holdings[0]
        inv = 1.0 / equity if equity > 0.0 else 0.0
        slot = self._balance_slot
        if slot >= 0:
            x = cash * inv
            obs[slot] = _HI if x > _HI else (_LO if x < _LO else x)
        slot = self._position_slot
        if slot >= 0:
            x = q * self._close0[t] * inv
            obs[slot] = _HI if x > _HI else (_LO if x < _LO else x)
        slot = self._pnl_slot
        if slot >= 0:
            x = sim.unrealized_pnl(0) * inv
            obs[slot] = _HI if x > _HI else (_LO if x < _LO else x)
        info: dict[str, Any] = {
            "equity": equity,
            "cash": cash,
            "position": q,
            "fills": sim.step_fills,
            "fees": sim.step_fees,
            "timestamp": self._close_times[t],
        }
        if done:
            self._end_episode(sim, info)
            terminated = sim.bankrupt
            return obs, reward, terminated, not terminated, info
        return obs, reward, False, False, info

    def _end_episode(self, sim: Simulator | RemoteSimulator, info: dict[str, Any]) -> None:
        self._needs_reset = True
        n = self.n_assets
        info["episode_metrics"] = sim.metrics().as_dict()
        info["action_log"] = np.array(self._log[: self._k * n], dtype=np.float64).reshape(self._k, n)
        info["episode_start_index"] = sim.start
        info["episode_start_time"] = int(self.market.open_time[sim.start])
        info["reward_sum"] = self._reward_sum
        if isinstance(sim, RemoteSimulator):
            info["session_id"] = sim.session_id  # the platform's session that ran this episode
        self._tracker.on_episode_end(self, info, self._reward_sum)

    def _window_view(self, t: int) -> NDArray[np.float32]:
        """The read-only view of bar ``t``'s window followed by the (zero) scalar slots."""
        a = t * self._columns + self._obs_offset
        return self._flat[a : a + self._obs_size]

    def _observe(self, t: int) -> NDArray[np.float32]:
        """The observation after bar ``t`` closed (what :meth:`step` returns, written out inline there)."""
        obs = self._window_view(t).copy()  # window + scalar slots: one copy
        if self._scalar_codes:
            self._write_scalars(obs, self._sim)  # type: ignore[arg-type]  # set by reset()
        return obs

    def _write_scalars(self, obs: NDArray[np.float32], sim: Simulator | RemoteSimulator) -> None:
        """Write the portfolio scalars behind the window, in the order requested, each clipped.

        The values are the engine's :meth:`~tradeready_core.engine.Simulator.equity_fractions` at the
        simulator's current bar, written at once and rounded to float32 like a numpy assignment
        (clipped: no overflow).
        """
        values = sim.equity_fractions(self._scalar_codes, _HI)
        self._pack_scalars(obs, self._scalars_at, *values)  # type: ignore[arg-type]  # an ndarray is a writable buffer

    def _info(self, sim: Simulator | RemoteSimulator) -> dict[str, Any]:
        return {
            "equity": sim.equity,
            "cash": sim.cash,
            "position": tuple(sim.positions) if self.multi_asset else sim.position(0),
            "fills": 0,
            "fees": 0.0,
            "timestamp": self._close_times[sim.t],
        }

    def render(self) -> str | NDArray[np.uint8] | None:
        """``"ansi"``: one text line; ``"rgb_array"``: a chart of price, trades and equity."""
        if self.render_mode is None or self._sim is None:
            return None
        sim = self._sim
        t = sim.t
        if self.render_mode == "ansi":
            return ansi_frame(
                symbols=self.symbols,
                timestamp_ms=self._close_times[t],
                step=t - sim.start,
                steps=sim.end - sim.start,
                prices=[c[t] for c in self._closes],
                positions=sim.positions,
                cash=sim.cash,
                equity=sim.equity,
                starting_balance=self.config.starting_balance,
            )
        close = np.asarray(self._closes[0][sim.start : t + 1], dtype=np.float64)
        fills = [f for f in sim.fills if f.asset == 0]
        return rgb_frame(
            title=f"{self.symbols[0]} {self.timeframe}" + (" (synthetic data)" if self.market.is_synthetic else ""),
            close=close,
            equity=sim.equity_curve(),
            buys=[f.bar - sim.start for f in fills if f.side == "buy"],
            sells=[f.bar - sim.start for f in fills if f.side == "sell"],
        )

    # ------------------------------------------------------------------ for the training tracker (read-only)
    @property
    def client(self) -> AgentExchangeClient | None:
        """The :class:`agentexchange.AgentExchangeClient` passed as ``client=``, else ``None``.

        ``None`` also when only ``api_key``/``base_url`` (or ``TRADEREADY_API_KEY``) were given:
        the env keeps no client of its own.
        """
        return self._client

    @property
    def simulator(self) -> Simulator | RemoteSimulator | None:
        """The engine that runs the episodes (``None`` until the candles are loaded).

        For reading the current (or last) episode's state: ``start``, ``end``, ``t``, ``bankrupt``,
        ``equity``... Stepping or resetting it directly bypasses the env's bookkeeping.
        """
        return self._sim

    @property
    def episode_step(self) -> int:
        """Steps taken in the current episode: 0 after :meth:`reset`, ``n`` after its ``n``-th step.

        Once an episode has ended it keeps that episode's count until the next :meth:`reset`
        (check :attr:`needs_reset`).
        """
        return self._k

    @property
    def needs_reset(self) -> bool:
        """Whether :meth:`step` needs a :meth:`reset` first: before the first reset and once an episode ended."""
        return self._needs_reset

    @property
    def tracker(self) -> TrainingHook:
        """The training hook this env reports to (a :class:`NullTracker` when nothing reports)."""
        return self._tracker

    def attach_tracker(self, hook: TrainingHook) -> None:
        """Report this env's training to ``hook`` from now on, in place of the current :attr:`tracker`.

        ``hook`` (a :class:`TrainingHook`, e.g. a
        :class:`~tradeready_gym.tracking.TrainingTracker`) gets ``on_reset`` after every
        :meth:`reset`, ``on_episode_end`` when an episode ends (its last :meth:`step`, or cut short
        by :meth:`reset` or :meth:`close`) and ``on_close`` from :meth:`close`; it is never called
        on any other step. The replaced hook is neither closed nor told; pass ``NullTracker()`` to
        stop reporting. On a wrapped env: ``env.unwrapped.attach_tracker(hook)``.
        """
        missing = [
            name for name in ("on_reset", "on_episode_end", "on_close") if not callable(getattr(hook, name, None))
        ]
        if missing:
            raise InvalidParameterError(
                f"hook must implement the TrainingHook protocol; {hook!r} lacks {', '.join(missing)}"
            )
        self._tracker = hook

    @property
    def tracking_run_id(self) -> str | None:
        """The training run this env reports to (``None`` before the first reset or when not tracking)."""
        run_id = getattr(self._tracker, "run_id", None)
        return run_id if isinstance(run_id, str) else None

    def close(self) -> None:
        """Tell the tracker the run is over (``env.close()`` completes the training run)."""
        if self._sim is not None and not self._needs_reset and self._k > 0:
            self._end_episode(self._sim, {})  # closed mid-episode: report what ran
        self._tracker.on_close(self)
        if isinstance(self._sim, RemoteSimulator):
            self._sim.close()  # cancels an unfinished session: none is left behind
        super().close()

    # ------------------------------------------------------------------ state for rewards / users
    @property
    def equity(self) -> float:
        """Equity marked at the last close."""
        return self._sim.equity if self._sim is not None else self.config.starting_balance

    @property
    def starting_balance(self) -> float:
        """Cash at every reset."""
        return self.config.starting_balance

    @property
    def step_fees(self) -> float:
        """Fees paid during the last step."""
        return self._sim.step_fees if self._sim is not None else 0.0

    @property
    def step_fills(self) -> int:
        """Fills during the last step."""
        return self._sim.step_fills if self._sim is not None else 0

    @property
    def position_fraction(self) -> float:
        """Signed value of the open positions / equity, after the last step."""
        sim = self._sim
        if sim is None or sim.equity <= 0.0:
            return 0.0
        t = sim.t
        return sum(q * c[t] for q, c in zip(sim.positions, self._closes, strict=True)) / sim.equity

    def episode_result(self) -> EpisodeResult:
        """The current (or last) episode's equity curve, fills and metrics."""
        if self._sim is None:
            raise gym.error.ResetNeeded("no episode yet: call reset() first")
        return self._sim.result()
