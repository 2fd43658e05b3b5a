"""Where an environment's candles come from: local data, or the platform through the SDK.

Usage::

    from tradeready_gym.data_source import resolve_market_data

    market = resolve_market_data(["BTCUSDT"], "1h", data="BTCUSDT-1h.csv")          # offline
    market = resolve_market_data(["BTCUSDT", "ETHUSDT"], "1h", data={"BTC": df_btc, "ETH": df_eth})
    market = resolve_market_data(["BTCUSDT"], "1h", start_time="2025-01-01", client=client)

Resolution order:

1. ``data=`` (a DataFrame, a CSV/Parquet/ZIP path, :class:`~tradeready_core.data.Candles`, or a
   mapping ``{symbol: one of those}`` whose keys may be ``"BTCUSDT"`` or ``"BTC"``) is loaded and
   validated with :func:`tradeready_core.data.load_candles`; finer candles are resampled to
   ``timeframe`` (never coarser ones).
2. Otherwise the platform, through an :class:`agentexchange.AgentExchangeClient` (``client=``, or
   one built from ``api_key``/``base_url``): one ``get_candles`` request per symbol. Each download
   is cached on disk as ``<fingerprint>.npz`` under ``cache_dir`` (default
   ``$TRADEREADY_CACHE_DIR``, else ``$XDG_CACHE_HOME/tradeready/candles``, else
   ``~/.cache/tradeready/candles``), with an index from the request to its fingerprint. The cached
   copy is used without downloading while the platform's dataset summary (``/market/symbols``:
   count, first and last time, source) is unchanged, and when the platform cannot be reached.
3. Neither: :class:`~tradeready_gym.errors.DataSourceError` naming the URL, how to start the
   platform (``tradeready serve``) and how to run offline (``data=``).

``start_time``/``end_time`` select ``start_time <= open_time < end_time``; ``warmup_bars`` more
bars before ``start_time`` are included so indicators are defined from the first decision.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from agentexchange import AgentExchangeClient, AgentExchangeError, APIConnectionError
from tradeready_core.data import Candles, MarketData, TimeLike, load_candles, resample, to_ms
from tradeready_core.errors import InvalidParameterError
from tradeready_core.timeframes import TIMEFRAMES, timeframe_ms, timeframe_seconds
from tradeready_gym.errors import DataSourceError

__all__ = ["DataInput", "SingleDataInput", "default_cache_dir", "resolve_market_data"]

SingleDataInput: TypeAlias = "pd.DataFrame | str | os.PathLike[str] | Candles"
"""One symbol's candles: a DataFrame, a file path, or :class:`~tradeready_core.data.Candles`."""

DataInput: TypeAlias = "SingleDataInput | Mapping[str, SingleDataInput]"
"""``data=``: one symbol's candles, or a mapping from symbol to candles."""

_QUOTE = "USDT"


def default_cache_dir() -> Path:
    """The candle cache folder (see the module docstring for how it is chosen)."""
    explicit = os.environ.get("TRADEREADY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "tradeready" / "candles"


def resolve_market_data(
    symbols: Sequence[str],
    timeframe: str,
    *,
    data: DataInput | None = None,
    start_time: TimeLike | None = None,
    end_time: TimeLike | None = None,
    warmup_bars: int = 0,
    client: AgentExchangeClient | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> MarketData:
    """The aligned candles of ``symbols`` on ``timeframe`` (see the module docstring)."""
    if timeframe not in TIMEFRAMES:
        raise InvalidParameterError(f"timeframe must be one of {TIMEFRAMES}; got {timeframe!r}")
    start_ms = None if start_time is None else to_ms(start_time, name="start_time")
    end_ms = None if end_time is None else to_ms(end_time, name="end_time")
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise InvalidParameterError(
            f"end_time must be after start_time; got start_time={start_time!r}, end_time={end_time!r}"
        )
    fetch_start = None if start_ms is None else start_ms - warmup_bars * timeframe_ms(timeframe)
    if data is not None:
        candles = [_local(symbol, timeframe, _pick(data, symbols, symbol)) for symbol in symbols]
    else:
        candles = _from_platform(symbols, timeframe, fetch_start, end_ms, client, api_key, base_url, cache_dir)
    sliced = []
    for c in candles:
        part = c.slice(fetch_start, end_ms)
        if len(part) < 2:
            raise InvalidParameterError(
                f"{c.symbol} {timeframe} has {len(part)} candle(s) in [start_time, end_time) "
                f"(data covers {c.start_ms if len(c) else None}..{c.end_ms if len(c) else None} ms); "
                f"got start_time={start_time!r}, end_time={end_time!r}"
            )
        sliced.append(part)
    return MarketData.from_candles(sliced)


def _pick(data: DataInput, symbols: Sequence[str], symbol: str) -> SingleDataInput:
    if isinstance(data, Mapping):
        for key in (symbol, symbol.removesuffix(_QUOTE)):
            if key in data:
                return data[key]
        raise InvalidParameterError(
            f"data has no candles for {symbol}; its keys are {sorted(map(str, data))}, "
            f"expected one per symbol of {list(symbols)} (e.g. {symbol!r} or {symbol.removesuffix(_QUOTE)!r})"
        )
    if len(symbols) != 1:
        raise InvalidParameterError(
            f"this environment trades {list(symbols)}: pass data as a mapping with one entry per symbol, "
            f"e.g. data={{{symbols[0]!r}: ..., ...}}; got a single {type(data).__name__}"
        )
    return data


def _local(symbol: str, timeframe: str, source: SingleDataInput) -> Candles:
    if isinstance(source, Candles):
        candles = source
    elif isinstance(source, pd.DataFrame | str | os.PathLike):
        candles = load_candles(source, symbol=symbol)
    else:
        raise InvalidParameterError(
            f"data for {symbol} must be a pandas DataFrame, a file path or Candles; got {type(source).__name__}"
        )
    return _to_timeframe(candles, timeframe)


def _to_timeframe(candles: Candles, timeframe: str) -> Candles:
    if candles.timeframe == timeframe:
        return candles
    have, want = timeframe_seconds(candles.timeframe), timeframe_seconds(timeframe)
    if want < have or want % have:
        raise InvalidParameterError(
            f"data for {candles.symbol} has {candles.timeframe} candles, which cannot make "
            f"timeframe={timeframe!r}; pass timeframe={candles.timeframe!r} or data at {timeframe} or finer"
        )
    return resample(candles, timeframe)


# ---------------------------------------------------------------------------------- platform
def _from_platform(
    symbols: Sequence[str],
    timeframe: str,
    start_ms: int | None,
    end_ms: int | None,
    client: AgentExchangeClient | None,
    api_key: str | None,
    base_url: str | None,
    cache_dir: str | os.PathLike[str] | None,
) -> list[Candles]:
    own = client is None
    api = client if client is not None else AgentExchangeClient(api_key=api_key, base_url=base_url)
    cache = _Cache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    try:
        summaries = _summaries(api)
        out: list[Candles] = []
        for symbol in symbols:
            key = f"{api.base_url}|{symbol}|{timeframe}|{start_ms}|{end_ms}"
            summary = summaries.get((symbol, timeframe)) if summaries is not None else None
            cached = cache.get(key, summary, offline=summaries is None)
            if cached is None:
                cached = _download(api, symbol, timeframe, start_ms, end_ms, key, cache, summary)
            out.append(cached)
        return out
    finally:
        if own:
            api.close()


def _summaries(api: AgentExchangeClient) -> dict[tuple[str, str], dict[str, Any]] | None:
    """The platform's dataset summaries, or None when it cannot be reached."""
    try:
        datasets = api.get_market_symbols()
    except APIConnectionError:
        return None
    except AgentExchangeError as exc:
        raise _platform_error(api, exc) from exc
    return {(str(d["symbol"]), str(d["timeframe"])): dict(d) for d in datasets}


def _download(
    api: AgentExchangeClient,
    symbol: str,
    timeframe: str,
    start_ms: int | None,
    end_ms: int | None,
    key: str,
    cache: _Cache,
    summary: dict[str, Any] | None,
) -> Candles:
    try:
        payload = api.get_candles(symbol, timeframe, start_ms, end_ms)
    except AgentExchangeError as exc:
        raise _platform_error(api, exc) from exc
    candles = Candles(
        symbol=str(payload["symbol"]),
        timeframe=str(payload["timeframe"]),
        open_time=np.asarray(payload["open_time"], dtype=np.int64),
        open=np.asarray(payload["open"], dtype=np.float64),
        high=np.asarray(payload["high"], dtype=np.float64),
        low=np.asarray(payload["low"], dtype=np.float64),
        close=np.asarray(payload["close"], dtype=np.float64),
        volume=np.asarray(payload["volume"], dtype=np.float64),
        source=payload["source"],  # type: ignore[arg-type]
    )
    cache.put(key, candles, str(payload.get("fingerprint") or candles.fingerprint), summary)
    return candles


def _platform_error(api: AgentExchangeClient, exc: AgentExchangeError) -> DataSourceError:
    if isinstance(exc, APIConnectionError):
        reason = f"the TradeReady platform at {api.base_url} could not be reached ({exc})"
    else:
        reason = f"the TradeReady platform at {api.base_url} did not provide them ({type(exc).__name__}: {exc})"
    return DataSourceError(
        f"No candles: {reason}. Start the platform with `tradeready serve` (and pass api_key= / "
        "base_url=, or set TRADEREADY_API_KEY / TRADEREADY_BASE_URL), or run offline by passing "
        "data= (a DataFrame, a CSV/Parquet path, or {symbol: DataFrame | path})."
    )


class _Cache:
    """``index.json`` (request -> fingerprint, summary) plus one ``<fingerprint>.npz`` per dataset."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _index(self) -> dict[str, dict[str, Any]]:
        try:
            loaded = json.loads((self.root / "index.json").read_text())
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def get(self, key: str, summary: dict[str, Any] | None, *, offline: bool) -> Candles | None:
        entry = self._index().get(key)
        if entry is None:
            return None
        if not offline and (summary is None or entry.get("summary") != _jsonable(summary)):
            return None
        try:
            with np.load(self.root / f"{entry['fingerprint']}.npz") as f:
                meta = json.loads(str(f["meta"]))
                return Candles(
                    symbol=meta["symbol"],
                    timeframe=meta["timeframe"],
                    source=meta["source"],
                    open_time=f["open_time"],
                    open=f["open"],
                    high=f["high"],
                    low=f["low"],
                    close=f["close"],
                    volume=f["volume"],
                )
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, candles: Candles, fingerprint: str, summary: dict[str, Any] | None) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            meta = json.dumps({"symbol": candles.symbol, "timeframe": candles.timeframe, "source": candles.source})
            with tempfile.NamedTemporaryFile(dir=self.root, suffix=".npz", delete=False) as tmp:
                np.savez(
                    tmp,
                    meta=np.array(meta),
                    open_time=candles.open_time,
                    open=candles.open,
                    high=candles.high,
                    low=candles.low,
                    close=candles.close,
                    volume=candles.volume,
                )
            os.replace(tmp.name, self.root / f"{fingerprint}.npz")
            index = self._index()
            index[key] = {"fingerprint": fingerprint, "summary": None if summary is None else _jsonable(summary)}
            with tempfile.NamedTemporaryFile("w", dir=self.root, suffix=".json", delete=False) as tmp_index:
                json.dump(index, tmp_index)
            os.replace(tmp_index.name, self.root / "index.json")
        except OSError:
            return  # the cache is an optimisation: a read-only disk must not stop training


def _jsonable(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in json.loads(json.dumps(summary, default=str)).items()}
