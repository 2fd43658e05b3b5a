"""Training pages: server-rendered HTML, HTML fragments for live swaps, and small JSON for the charts.

Pages (``PageRoute``: errors render as pages, no session redirects to ``/login``)::

    GET /training                              active cards + runs table (filter, sort, select to compare)
    GET /training/fragments/active             the active cards alone (polled every ~2 s while runs are active)
    GET /training/fragments/runs               the runs table alone (same query as /training)
    GET /training/compare?run_ids=a,b          overlaid curves + compare table
    GET /training/{run_id}                     header, learning-curve chart, episode table
    GET /training/{run_id}/fragments/episodes  one sorted page of the episode table

JSON (cookie session, JSON error envelope)::

    GET /dashboard-api/training/runs/{run_id}/summary
    GET /dashboard-api/training/runs/{run_id}/learning-curve?metric=&window=&max_points=&since_episode=&until_episode=
    GET /dashboard-api/training/compare-curves?run_ids=&metric=&window=&max_points=
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from tradeready.server.api.deps import SessionDep, SettingsDep
from tradeready.server.dashboard.compression import CompressedRoute
from tradeready.server.dashboard.data import (
    CHART_POINTS,
    METRIC_LABELS,
    SPARK_WINDOW,
    SparkCache,
    TrainingData,
    parse_run_ids,
)
from tradeready.server.dashboard.pageroute import PageRoute
from tradeready.server.dashboard.rendering import render
from tradeready.server.dashboard.session import ApiUser, PageUser
from tradeready.server.errors import RequestValidationFailed
from tradeready.server.schemas.training import ALLOWED_STATUSES
from tradeready.server.services.training import MAX_COMPARE_RUNS
from tradeready.server.settings import Settings

__all__ = ["JSON", "api_router", "router", "training_data"]

router = APIRouter(include_in_schema=False, route_class=PageRoute)
api_router = APIRouter(prefix="/dashboard-api", include_in_schema=False, route_class=CompressedRoute)

CHART_METRICS = (("roi_pct", "ROI"), ("sharpe_ratio", "Sharpe"), ("reward_sum", "Reward"))
EPISODES_PER_PAGE = 50
DEFAULT_WINDOW = 10


class JSON(Response):
    """orjson, timestamps with ``Z``, never cached."""

    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200) -> None:
        super().__init__(content, status_code=status_code, headers={"Cache-Control": "no-store"})

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY)


def training_data(request: Request, session: Session, settings: Settings, account_id: str) -> TrainingData:
    """The account's :class:`TrainingData`, sharing the application's sparkline cache."""
    cache = getattr(request.app.state, "dashboard_spark_cache", None)
    if not isinstance(cache, SparkCache):
        cache = SparkCache()
        request.app.state.dashboard_spark_cache = cache
    return TrainingData(session, settings, account_id, cache)


def _fragment(request: Request, template: str, context: Mapping[str, Any], user: Any) -> Response:
    return render(request, template, context, user=user)


# --- /training --------------------------------------------------------------------------------


def _runs_context(
    data: TrainingData, status: str | None, strategy_label: str | None, sort: str, order: str
) -> dict[str, Any]:
    runs, total = data.runs_table(status=status or None, strategy_label=strategy_label or None, sort=sort, order=order)

    def sort_href(key: str) -> str:
        next_order = "asc" if (key == sort and order == "desc") else "desc"
        if key != sort and key in ("strategy_label", "run_id", "status"):
            next_order = "asc"
        query = {"status": status or "", "strategy_label": strategy_label or "", "sort": key, "order": next_order}
        return "/training?" + urlencode({k: v for k, v in query.items() if v})

    return {"runs": runs, "total": total, "sort": sort, "order": order, "sort_href": sort_href, "window": SPARK_WINDOW}


def _active_context(data: TrainingData, has_runs: bool) -> dict[str, Any]:
    active = data.active_cards()
    return {
        "active": active,
        "any_running": any(r["status"] == "running" for r in active),
        "has_runs": has_runs,
        "window": SPARK_WINDOW,
    }


@router.get("/training")
def training_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    status: str = "",
    strategy_label: str = "",
    sort: str = "started_at",
    order: str = "desc",
) -> Response:
    data = training_data(request, session, settings, user.account_id)
    labels = data.labels()
    context: dict[str, Any] = {
        "has_runs": bool(labels),
        "labels": labels,
        "statuses": ALLOWED_STATUSES,
        "status": status,
        "strategy_label": strategy_label,
        "base_url": str(request.base_url).rstrip("/"),
    }
    context.update(_active_context(data, bool(labels)))
    context.update(_runs_context(data, status, strategy_label, sort, order))
    return render(request, "training.html", context, user=user)


@router.get("/training/fragments/active")
def active_fragment(request: Request, user: PageUser, session: SessionDep, settings: SettingsDep) -> Response:
    data = training_data(request, session, settings, user.account_id)
    return _fragment(request, "partials/active_cards.html", _active_context(data, True), user)


@router.get("/training/fragments/runs")
def runs_fragment(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    status: str = "",
    strategy_label: str = "",
    sort: str = "started_at",
    order: str = "desc",
) -> Response:
    data = training_data(request, session, settings, user.account_id)
    return _fragment(
        request, "partials/runs_table.html", _runs_context(data, status, strategy_label, sort, order), user
    )


# --- /training/compare ------------------------------------------------------------------------


@router.get("/training/compare")
def compare_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    run_ids: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    window: int = DEFAULT_WINDOW,
) -> Response:
    ids = parse_run_ids(run_ids)
    if not ids:
        return render(request, "compare_empty.html", {}, user=user)
    data = training_data(request, session, settings, user.account_id)
    comparison = data.compare(ids)
    context = {
        "comparison": comparison,
        "window": window,
        "page_data": {
            "run_ids": ids,
            "window": window,
            "metrics": [[k, METRIC_LABELS[k]] for k, _ in CHART_METRICS],
            "max_points": CHART_POINTS // 2,
            "statuses": {r["run_id"]: r["status"] for r in comparison["runs"]},
        },
        "compare_columns": COMPARE_COLUMNS,
        "max_runs": MAX_COMPARE_RUNS,
    }
    return render(request, "compare.html", context, user=user)


COMPARE_COLUMNS = (
    ("total_episodes", "Episodes", "int"),
    ("avg_roi_pct", "Avg ROI", "pct"),
    ("best_roi_pct", "Best ROI", "pct"),
    ("worst_roi_pct", "Worst ROI", "pct"),
    ("last_roi_pct", "Last ROI", "pct"),
    ("avg_sharpe", "Avg Sharpe", "num"),
    ("avg_max_drawdown_pct", "Avg max DD", "plainpct"),
    ("avg_trades", "Avg trades", "num"),
    ("avg_reward", "Avg reward", "num"),
    ("duration_seconds", "Duration", "duration"),
)


# --- /training/{run_id} -----------------------------------------------------------------------


def _flatten(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key in sorted(config, key=str):
        value = config[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(_flatten(value, name + "."))
        elif isinstance(value, str):
            rows.append((name, value))
        else:
            rows.append((name, orjson.dumps(value).decode()))
    return rows


def _algorithm(config: Mapping[str, Any]) -> str | None:
    for key in ("algorithm", "algo", "model_class", "agent"):
        value = config.get(key)
        if isinstance(value, str) and value:
            return value
    for value in config.values():
        if isinstance(value, Mapping):
            found = _algorithm(value)
            if found:
                return found
    return None


def _episode_context(data: TrainingData, run_id: str, ep_sort: str, ep_order: str, ep_page: int) -> dict[str, Any]:
    result = data.episodes(run_id, sort=ep_sort, order=ep_order, page=ep_page, per_page=EPISODES_PER_PAGE)

    def ep_href(sort: str | None = None, order: str | None = None, page: int | None = None) -> str:
        query = {
            "ep_sort": sort or result.sort,
            "ep_order": order or result.order,
            "ep_page": page if page is not None else result.page,
        }
        return f"/training/{run_id}?" + urlencode(query)

    return {
        "episodes": result.episodes,
        "ep_sort": result.sort,
        "ep_order": result.order,
        "ep_page": result.page,
        "ep_pages": result.pages,
        "ep_total": result.total,
        "ep_first": result.first,
        "ep_last": result.last,
        "ep_href": ep_href,
    }


@router.get("/training/{run_id}")
def run_page(
    request: Request,
    run_id: str,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    metric: str = "roi_pct",
    window: int = DEFAULT_WINDOW,
    ep_sort: str = "episode",
    ep_order: str = "desc",
    ep_page: int = 1,
) -> Response:
    data = training_data(request, session, settings, user.account_id)
    run = data.run(run_id)
    if metric not in dict(CHART_METRICS):
        raise RequestValidationFailed(
            f"Invalid metric {metric!r}; allowed: {', '.join(k for k, _ in CHART_METRICS)}",
        )
    config = run.get("config") or {}
    context = {
        "run": run,
        "metric": metric,
        "window": window,
        "metrics": CHART_METRICS,
        "algorithm": _algorithm(config),
        "config_rows": _flatten(config),
        "final_rows": _flatten(run.get("final_stats") or {}),
        "evaluations": data.evaluations_of(run_id),
        "page_data": {
            "run_id": run_id,
            "status": run["status"],
            "metric": metric,
            "window": window,
            "max_points": CHART_POINTS,
            "last_episode": run["last_episode"],
            "total_episodes": run["total_episodes"],
            "metric_labels": METRIC_LABELS,
        },
    }
    context.update(_episode_context(data, run_id, ep_sort, ep_order, ep_page))
    return render(request, "run.html", context, user=user)


@router.get("/training/{run_id}/fragments/episodes")
def episodes_fragment(
    request: Request,
    run_id: str,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    ep_sort: str = "episode",
    ep_order: str = "desc",
    ep_page: int = 1,
) -> Response:
    data = training_data(request, session, settings, user.account_id)
    context = _episode_context(data, run_id, ep_sort, ep_order, ep_page)
    return _fragment(request, "partials/episodes_table.html", context, user)


# --- JSON for charts and live updates ---------------------------------------------------------


@api_router.get("/training/runs/{run_id}/summary")
def run_summary(request: Request, run_id: str, user: ApiUser, session: SessionDep, settings: SettingsDep) -> Response:
    return JSON(training_data(request, session, settings, user.account_id).summary(run_id))


@api_router.get("/training/runs/{run_id}/learning-curve")
def run_curve(
    request: Request,
    run_id: str,
    user: ApiUser,
    session: SessionDep,
    settings: SettingsDep,
    metric: str = "roi_pct",
    window: int = DEFAULT_WINDOW,
    max_points: int | None = CHART_POINTS,
    since_episode: int | None = None,
    until_episode: int | None = None,
) -> Response:
    data = training_data(request, session, settings, user.account_id)
    curve = data.curve(
        run_id,
        metric=metric,
        window=window,
        max_points=max_points,
        since_episode=since_episode,
        until_episode=until_episode,
    )
    return JSON(curve)


@api_router.get("/training/compare-curves")
def compare_curves(
    request: Request,
    user: ApiUser,
    session: SessionDep,
    settings: SettingsDep,
    run_ids: Annotated[list[str], Query()],
    metric: str = "roi_pct",
    window: int = DEFAULT_WINDOW,
    max_points: int = CHART_POINTS // 2,
) -> Response:
    ids = parse_run_ids(run_ids)
    if len(ids) > MAX_COMPARE_RUNS:
        raise RequestValidationFailed(f"At most {MAX_COMPARE_RUNS} runs can be compared, got {len(ids)}.")
    data = training_data(request, session, settings, user.account_id)
    summaries = {r["run_id"]: r for r in data.compare(ids)["runs"]}
    curves = data.compare_curves(ids, metric=metric, window=window, max_points=max_points)
    for curve in curves:
        run = summaries[curve["run_id"]]
        curve.update(strategy_label=run["strategy_label"], status=run["status"], total_episodes=run["total_episodes"])
    return JSON({"metric": metric, "window": window, "runs": curves})
