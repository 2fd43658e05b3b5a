"""Query and compare training runs with the SDK (``agentexchange``).

Shows the read side of training tracking: list runs (filtered by status and label), read one
run's episodes and smoothed learning curve, and compare several runs side by side (the
hyperparameter-comparison view of the dashboard, as data). Errors are typed: an unknown run id
raises ``NotFoundError``, a bad key ``AuthenticationError``.

Run it against a platform where some runs were recorded (e.g. by the other examples)::

    TRADEREADY_API_KEY=ak_live_... python examples/compare_runs.py

Environment variables: ``TRADEREADY_API_KEY`` (required), ``TRADEREADY_BASE_URL``,
``WINDOW`` (smoothing window of the learning curve, default 10).
"""

import os

from agentexchange import AgentExchangeClient, NotFoundError

WINDOW = int(os.environ.get("WINDOW", 10))

with AgentExchangeClient(api_key=os.environ["TRADEREADY_API_KEY"]) as client:
    runs = client.get_training_runs(status="completed", limit=50)
    if not runs:
        raise SystemExit("no completed training runs yet: run one of the training examples first")

    print(f"{'run_id':<22} {'label':<22} {'episodes':>8} {'avg ROI %':>10} {'avg Sharpe':>10}")
    for run in runs:
        roi, sharpe = run["avg_roi_pct"], run["avg_sharpe"]
        print(
            f"{run['run_id']:<22} {run['strategy_label']:<22} {run['total_episodes']:>8} "
            f"{'-' if roi is None else f'{roi:.2f}':>10} {'-' if sharpe is None else f'{sharpe:.2f}':>10}"
        )

    # One run in detail: its episodes and its smoothed learning curve.
    latest = runs[0]
    run = client.get_training_run(latest["run_id"])
    curve = client.get_learning_curve(latest["run_id"], metric="roi_pct", window=WINDOW)
    print(f"\n{latest['run_id']} ({run['strategy_label']}): {len(run['episodes'])} episodes")
    for point in curve["curve"][-5:]:
        print(f"  episode {point['episode']:>4}: ROI {point['value']:+.2f}%  smoothed {point['smoothed']:+.2f}%")

    # Side by side: average / best / worst / last ROI, Sharpe, drawdown, trades, reward.
    comparison = client.compare_training_runs(run_ids=[r["run_id"] for r in runs[:10]])
    print("\ncomparison:")
    for column in comparison["runs"]:
        print(
            f"  {column['run_id']:<22} best ROI {column['best_roi_pct']}  worst ROI {column['worst_roi_pct']}  "
            f"avg drawdown {column['avg_max_drawdown_pct']}"
        )
    print("best run per metric:", comparison["best"])

    try:
        client.get_training_run("run_0000000000000000")
    except NotFoundError as exc:
        print(f"\nunknown run -> {type(exc).__name__} ({exc.code}): {exc.message}")
