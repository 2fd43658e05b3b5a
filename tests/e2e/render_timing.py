"""Measure the dashboard's time to first render (not a test; speed is reported, never asserted).

Starts a real platform on loopback (SQLite in a temporary home), fills it through the REST API and
opens the pages in headless chromium:

* ``/training`` with 50 runs (200 episodes each, so every row has a sparkline);
* ``/training/{run_id}`` of a run with 100,000 episodes, ingested through the batch endpoint, also
  with its episode table sorted by ROI on the server (page 3).

Reported per page, for the first load after ingest (server caches cold) and the median of
``--repeat`` loads after it: the HTML response time, first contentful paint, and the moment the
page is complete (the runs table, or the learning-curve chart drawn). Plotly's bundle is in the
browser cache in both (it is served ``immutable``).

Run::

    .venv/bin/python -m tests.e2e.render_timing --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.browser import Browser
from tests.e2e.conftest import episode
from tests.support.platform import LiveServer, create_account
from tradeready.server.dashboard.assets import PLOTLY_URL
from tradeready.server.settings import Settings

BATCH = 10_000


def fill(api: httpx.Client, n_runs: int, per_run: int, big: int) -> str:
    for r in range(n_runs):
        run_id = api.post(
            "/training/runs", json={"strategy_label": f"sweep_lr_{r % 5}", "env_id": "TradeReady-BTC-v0"}
        ).json()["run_id"]
        batch = [episode(i, ((i * (r + 3)) % 17) / 4 - 1 + i / 100) for i in range(1, per_run + 1)]
        api.post(f"/training/runs/{run_id}/episodes", json={"episodes": batch}).raise_for_status()
        if r % 3:
            api.post(f"/training/runs/{run_id}/complete", json={}).raise_for_status()
    big_id: str = api.post("/training/runs", json={"strategy_label": "ppo_100k"}).json()["run_id"]
    started = time.perf_counter()
    for first in range(1, big + 1, BATCH):
        batch = [episode(i, ((i * 7) % 23) / 5 - 2 + i / 20_000) for i in range(first, min(big, first + BATCH - 1) + 1)]
        api.post(f"/training/runs/{big_id}/episodes", json={"episodes": batch}, timeout=120).raise_for_status()
    print(f"ingested {big:,} episodes in {time.perf_counter() - started:.1f} s through the batch endpoint")
    return big_id


PAINT = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const curve = performance.getEntriesByType('resource').find(e => e.name.includes('/learning-curve'));
  return {response: nav.responseEnd - nav.startTime, fcp: fcp ? fcp.startTime : null, now: performance.now(),
          curve: curve ? curve.responseEnd - curve.requestStart : null};
}"""


def measure(browser: Browser, url: str, ready: str, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """(the first, cold load; the median of the ``repeat`` loads after it)."""
    samples: dict[str, list[float]] = {"html_ms": [], "fcp_ms": [], "complete_ms": [], "curve_ms": []}
    for _ in range(repeat + 1):
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector(ready, timeout=60_000)
        timing: dict[str, Any] = page.evaluate(PAINT)
        samples["html_ms"].append(timing["response"])
        samples["fcp_ms"].append(timing["fcp"] or float("nan"))
        samples["complete_ms"].append(timing["now"])
        samples["curve_ms"].append(timing["curve"] if timing["curve"] is not None else float("nan"))
        page.close()
    return {k: v[0] for k, v in samples.items()}, {k: statistics.median(v[1:]) for k, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--episodes", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        with LiveServer(settings) as server:
            key = create_account(settings, "bench").api_key
            with httpx.Client(base_url=server.url + "/api/v1", headers={"X-API-Key": key}, timeout=60) as api:
                big_id = fill(api, args.runs - 1, 200, args.episodes)
            with Browser.launch(Path(tmp) / "profile") as browser:
                page = browser.new_page()
                page.goto(server.url + "/login?next=/backtests")  # /training stays cold
                page.get_by_label("API key").fill(key)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/backtests")
                # the bundle in the browser's HTTP cache, as after any first visit
                page.evaluate("url => fetch(url).then(r => r.text()).then(t => t.length)", PLOTLY_URL)
                page.close()
                rows = {
                    f"/training ({args.runs} runs)": measure(
                        browser, server.url + "/training", "#runs-table tbody tr", args.repeat
                    ),
                    f"/training/{{run_id}} ({args.episodes:,} episodes)": measure(
                        browser, server.url + f"/training/{big_id}", "#curve-chart .main-svg", args.repeat
                    ),
                    "  same, episode table sorted by ROI": measure(
                        browser,
                        server.url + f"/training/{big_id}?ep_sort=roi_pct&ep_order=desc&ep_page=3",
                        "#curve-chart .main-svg",
                        args.repeat,
                    ),
                }
                assert not browser.console_errors, browser.console_errors
    print(f"{'page':44} {'load':6} {'HTML':>9} {'first paint':>12} {'complete':>10} {'curve JSON':>11}")
    for name, (cold, warm) in rows.items():
        for label, row in (("cold", cold), (f"med{args.repeat}", warm)):
            print(
                f"{name:44} {label:6} {row['html_ms']:7.0f}ms {row['fcp_ms']:10.0f}ms {row['complete_ms']:8.0f}ms"
                f" {row['curve_ms']:9.0f}ms"
            )


if __name__ == "__main__":
    main()
