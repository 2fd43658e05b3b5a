"""Server-side rendering of the dashboard: the Jinja environment, formatting filters, sparklines.

Example::

    render(request, "training.html", {"runs": runs}, user=user)   # an HTMLResponse with security headers
    sparkline_svg([0.1, 0.4, -0.2])                                # a tiny inline <svg> polyline
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from tradeready.server.dashboard.assets import PLOTLY_URL, asset_url
from tradeready.server.dashboard.session import DashboardUser

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "fmt_duration",
    "fmt_num",
    "fmt_pct",
    "render",
    "sparkline_svg",
    "templates",
]

TEMPLATE_DIR = Path(__file__).with_name("templates")

# Scripts only from us; Plotly needs inline styles for its SVG. No frames, no third-party origins.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def fmt_num(value: float | int | None, digits: int = 2) -> str:
    """``1234.5 -> '1,234.50'``; ``None`` or non-finite -> an em dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def fmt_pct(value: float | None, digits: int = 2) -> str:
    """``3.8 -> '+3.80%'`` (values are already percentages)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:+,.{digits}f}%"


def fmt_duration(seconds: float | None) -> str:
    """``75 -> '1m 15s'``, ``5400 -> '1h 30m'``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    return f"{hours // 24}d {hours % 24}h"


def fmt_time(moment: datetime | str | None) -> str:
    """An ISO timestamp shown as ``2026-03-01 10:00 UTC``."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_short_time(moment: datetime | str | None) -> str:
    """``2026-03-01 10:00`` (UTC, minutes), for table cells; the full time goes in a tooltip."""
    full = fmt_time(moment)
    return full[:16] if full.endswith(" UTC") else full


def iso(moment: datetime | str | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sparkline_svg(values: Sequence[float | None], width: int = 120, height: int = 28, label: str = "") -> Markup:
    """A tiny inline SVG line of ``values`` (non-finite values skipped), with a zero line when it is in range.

    Returns an empty, labelled placeholder when fewer than two finite values exist.
    """
    points = [(i, float(v)) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    title = f"<title>{Markup.escape(label)}</title>" if label else ""
    if len(points) < 2:
        return Markup(
            f'<svg class="spark spark-empty" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="no episodes yet">{title}'
            f'<line x1="2" x2="{width - 2}" y1="{height / 2}" y2="{height / 2}"/></svg>'
        )
    n = max(len(values) - 1, 1)
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    span = hi - lo or 1.0
    pad = 2.0

    def y(v: float) -> float:
        return pad + (hi - v) / span * (height - 2 * pad)

    coords = " ".join(f"{pad + i / n * (width - 2 * pad):.1f},{y(v):.1f}" for i, v in points)
    zero = ""
    if lo < 0 < hi:
        zero = f'<line class="spark-zero" x1="0" x2="{width}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}"/>'
    trend = "up" if points[-1][1] >= points[0][1] else "down"
    return Markup(
        f'<svg class="spark spark-{trend}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{Markup.escape(label or "smoothed ROI")}">{title}{zero}'
        f'<polyline points="{coords}"/></svg>'
    )


def _build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=fmt_num, pct=fmt_pct, duration=fmt_duration, time=fmt_time, short_time=fmt_short_time, iso=iso
    )
    env.globals.update(asset_url=asset_url, plotly_url=PLOTLY_URL, sparkline=sparkline_svg)
    return env


templates = _build_environment()


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    user: DashboardUser | None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the layout's context (user, current path) and the security headers."""
    full = {"request": request, "user": user, "path": request.url.path, **context}
    html = templates.get_template(template).render(full)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
