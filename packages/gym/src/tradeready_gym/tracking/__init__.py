"""Training tracking: report training runs to the TradeReady platform, robustly.

The environments build a :class:`TrainingTracker` when ``track_training=True`` (the default) and an
API key is available; see :mod:`tradeready_gym.tracking.tracker` for the lifecycle,
:mod:`~tradeready_gym.tracking.sender` for delivery (background thread, batching, backoff, spool),
:mod:`~tradeready_gym.tracking.group` for vectorised training (one run, not one per worker) and
:mod:`~tradeready_gym.tracking.sb3` for the Stable-Baselines3 callback.

Delivering what was spooled while the platform was unreachable::

    from tradeready_gym.tracking import sync

    report = sync()                   # TRADEREADY_API_KEY; each journal's own platform URL
    print(report)                     # delivered 2 spooled run journal(s), 37 episode(s)

or from a shell: ``python -m tradeready_gym.tracking sync`` (``tradeready sync``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentexchange import AgentExchangeClient
from tradeready_gym.tracking.sender import SyncReport, deliver_spool
from tradeready_gym.tracking.spool import JournalContents, default_spool_dir, key_fingerprint
from tradeready_gym.tracking.tracker import DEFAULT_CLOSE_TIMEOUT, TrainingTracker, new_run_id

if TYPE_CHECKING:
    from tradeready_gym.tracking.sb3 import TrainingTrackerCallback

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "SyncReport",
    "TrainingTracker",
    "TrainingTrackerCallback",
    "default_spool_dir",
    "new_run_id",
    "sync",
]


def sync(
    client: AgentExchangeClient | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
) -> SyncReport:
    """Deliver every spooled run journal that no running tracker holds; returns what was done.

    With ``client`` (or ``base_url``) every journal written with the same API key is delivered to
    that platform; otherwise each journal goes to the platform it was written for. The API key is
    ``api_key``, else the client's, else ``TRADEREADY_API_KEY`` (a journal is only delivered with
    the key that wrote it). Delivered journals are deleted; resending is idempotent.
    """
    directory = Path(spool_dir) if spool_dir is not None else default_spool_dir()
    if api_key:
        key: str | None = api_key
    elif client is not None:
        key = client.api_key
    else:
        key = os.environ.get("TRADEREADY_API_KEY")
    fingerprint = key_fingerprint(key)
    clients: dict[str, AgentExchangeClient] = {}

    def client_for(contents: JournalContents) -> AgentExchangeClient | None:
        if fingerprint is None or contents.header.get("key") != fingerprint:
            return None
        if client is not None:
            return client
        url = base_url or str(contents.header.get("base_url") or "") or None
        cache_key = url or ""
        if cache_key not in clients:
            clients[cache_key] = AgentExchangeClient(api_key=key, base_url=url)
        return clients[cache_key]

    try:
        report = deliver_spool(directory, client_for)
    finally:
        for made in clients.values():
            made.close()
    if fingerprint is None:
        for name in report.remaining:
            report.remaining[name] = "no API key: pass api_key= or set TRADEREADY_API_KEY"
    return report


def __getattr__(name: str) -> Any:
    # The callback needs stable-baselines3 (and torch): import it only when asked for.
    if name == "TrainingTrackerCallback":
        from tradeready_gym.tracking.sb3 import TrainingTrackerCallback

        return TrainingTrackerCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
