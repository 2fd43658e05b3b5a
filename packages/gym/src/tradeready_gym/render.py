"""Rendering of an environment's episode: a text line (``"ansi"``) or a chart (``"rgb_array"``).

The chart uses matplotlib's Agg canvas directly (no pyplot, no window, no global state); matplotlib
is imported only when a chart is first drawn, so training without rendering never loads it::

    env = gym.make("TradeReady-BTC-v0", data=df, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()        # (H, W, 3) uint8: price with buys/sells, and equity below
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tradeready_core.data import format_ms

__all__ = ["ansi_frame", "rgb_frame"]


def ansi_frame(
    *,
    symbols: Sequence[str],
    timestamp_ms: int,
    step: int,
    steps: int,
    prices: Sequence[float],
    positions: Sequence[float],
    cash: float,
    equity: float,
    starting_balance: float,
) -> str:
    """One text line describing the state after a step."""
    held = "  ".join(f"{s} {q:+.6g} @ {p:,.2f}" for s, q, p in zip(symbols, positions, prices, strict=True))
    roi = (equity / starting_balance - 1.0) * 100.0
    return (
        f"[{format_ms(timestamp_ms)}] step {step}/{steps}  {held}  cash {cash:,.2f}  "
        f"equity {equity:,.2f} ({roi:+.2f} %)"
    )


def rgb_frame(
    *,
    title: str,
    close: NDArray[np.float64],
    equity: NDArray[np.float64],
    buys: Sequence[int],
    sells: Sequence[int],
    width: int = 800,
    height: int = 500,
) -> NDArray[np.uint8]:
    """A chart of the episode so far: ``close`` with buy/sell markers (bar offsets) above ``equity``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: only when rendering
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    price_ax, equity_ax = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    x = np.arange(close.shape[0])
    price_ax.plot(x, close, linewidth=0.8, color="#455a64")
    if len(buys):
        price_ax.scatter(buys, close[list(buys)], marker="^", s=18, color="#2e7d32", label="buy")
    if len(sells):
        price_ax.scatter(sells, close[list(sells)], marker="v", s=18, color="#c62828", label="sell")
    price_ax.set_title(title, fontsize=9)
    price_ax.set_ylabel("price")
    equity_ax.plot(np.arange(equity.shape[0]), equity, linewidth=0.9, color="#1565c0")
    equity_ax.set_ylabel("equity")
    equity_ax.set_xlabel("step")
    fig.tight_layout()
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    return np.ascontiguousarray(rgba[:, :, :3])
