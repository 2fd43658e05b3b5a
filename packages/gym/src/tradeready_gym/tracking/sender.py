"""The tracker's background sender: journal, batch, send, retry with backoff, heartbeat, deliver spools.

The training thread only calls :meth:`Sender.submit` (a ``SimpleQueue.put``). The sender thread:

1. writes each operation to the tracker's journal (:mod:`tradeready_gym.tracking.spool`) and
   numbers episodes from the run group's counter (:mod:`tradeready_gym.tracking.group`);
2. sends in order: registration, then per episode the replay of its action log
   (``POST /backtests/replay``, which gives the episode's ``session_id``), then the episodes in one
   batch (``{"episodes": [...]}``), then completion; each accepted operation is acknowledged in the
   journal;
3. when the platform is unreachable (connection error, timeout, 429, 5xx), stops sending and retries
   after an exponential backoff (0.5 s doubling to 30 s) from the journal, so nothing is kept in
   memory meanwhile and nothing is lost if the process dies;
4. sends a heartbeat at most every ``heartbeat_interval`` seconds (run-wide totals, by the group's
   leader) with the live progress read from the tracker's counters;
5. delivers journals left behind by earlier runs with the same platform and API key, on start.

Errors are logged once per kind on the ``tradeready_gym.tracking`` logger and never raised.

Usage::

    sender = Sender(client, run_id="run_0123456789abcdef", group=group, spool_dir=path, progress=fn)
    sender.submit(Register({...}))
    sender.submit(Episode(episode={...}, replay={...}))
    sender.close(timeout=10.0)      # completes the run if this was the group's last member
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from agentexchange import (
    AgentExchangeClient,
    AgentExchangeError,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from tradeready_gym.tracking.describe import versions
from tradeready_gym.tracking.group import GroupView, RunGroup
from tradeready_gym.tracking.spool import (
    Journal,
    JournalContents,
    append_ack,
    claim,
    journals,
    key_fingerprint,
    read_journal,
)

__all__ = [
    "Complete",
    "Episode",
    "Once",
    "Progress",
    "Register",
    "Sender",
    "SyncReport",
    "deliver_ops",
    "deliver_spool",
]

logger = logging.getLogger("tradeready_gym.tracking")

MAX_BATCH = 500
"""Episodes per ``POST /episodes`` request."""
ROTATE_BYTES = 8 * 1024 * 1024
"""A fully delivered journal larger than this is replaced by a fresh one (long runs stay small on disk)."""
MAX_SPOOL_BYTES = 256 * 1024 * 1024
"""Past this journal size, episodes are spooled without their action log (no backtest session for them)."""
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0


# --- what the training thread submits ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    """Register the run, or add to its registration (``config`` keys it lacks, ``total_timesteps``)."""

    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Episode:
    """One finished episode: its report (without its number) and the replay payload, built lazily.

    ``action_log`` (``(steps, N)`` floats, NaN = hold) is converted to JSON on the sender thread.
    """

    episode: dict[str, Any]
    replay: dict[str, Any] | None = None
    action_log: Any = None


@dataclass(frozen=True, slots=True)
class Complete:
    """This member is done; the last member of the group completes the run with ``final_stats``."""

    final_stats: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"


@dataclass(frozen=True, slots=True)
class Progress:
    """Live counters of one tracker, read by the sender for the heartbeat."""

    steps: int
    episode_steps: int
    episode_length: int | None


_STOP = object()


class _Flush:
    """A request from the training thread to wait until everything queued so far is delivered."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.delivered = False


class _Transient(Exception):
    """The platform could not be reached or asked us to come back later."""


class _Deferred(_Transient):
    """The run is not registered yet (its registration is in another worker's journal): try later."""


class _Parked(Exception):
    """The platform refused this API key: keep everything in the spool for a later ``sync``."""


# --- logging once ---------------------------------------------------------------------------------


class Once:
    """Logs each kind of tracking problem once (per tracker, or per ``sync``); tracking never raises."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, kind: str, message: str, *args: Any, level: int = logging.WARNING) -> None:
        with self._lock:
            if kind in self._seen:
                return
            self._seen.add(kind)
        logger.log(level, message, *args)


def _classify(exc: AgentExchangeError) -> type[Exception] | None:
    """``_Transient``/``_Parked`` for errors worth retrying later, ``None`` for a permanent refusal."""
    if isinstance(exc, APIConnectionError):
        return _Transient
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return _Parked
    if isinstance(exc, NotFoundError) and exc.code == "run_not_found":
        return _Deferred
    if isinstance(exc, APIStatusError) and (exc.status_code in (408, 429) or exc.status_code >= 500):
        return _Transient
    if isinstance(exc, APIStatusError):
        return None
    return _Transient  # an unreadable answer (proxy page, truncated body): try again later


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _targets_json(action_log: Any) -> list[Any]:
    """``(steps, N)`` weights as JSON: one number per step for one asset, else rows; NaN -> null."""
    arr = np.asarray(action_log, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    rows: list[Any] = arr.tolist()
    if not np.isnan(arr).any():
        return rows
    if arr.ndim == 1:
        return [None if x != x else x for x in rows]
    return [[None if x != x else x for x in row] for row in rows]


# --- delivery (shared by the live sender and sync) ---------------------------------------------


def _replay(client: AgentExchangeClient, run_id: str, op: dict[str, Any], log: Once) -> str | None:
    """Upload an episode's replay; its ``session_id``, or ``None`` when the platform cannot replay it."""
    payload = dict(op["replay"])
    payload["training_run_id"] = run_id
    payload["episode"] = op["episode"]["episode"]
    try:
        session = client.replay_episode(payload)
    except AgentExchangeError as exc:
        kind = _classify(exc)
        if kind is not None:
            raise kind(str(exc)) from exc
        log(
            "replay",
            "tracking: the platform could not replay episode %s of %s (%s); episodes are reported "
            "without a backtest session (e.g. candles given with data= that the platform does not have)",
            payload["episode"],
            run_id,
            exc,
        )
        return None
    session_id = session.get("session_id")
    return str(session_id) if session_id else None


def _send_episodes(client: AgentExchangeClient, run_id: str, ops: Sequence[dict[str, Any]], log: Once) -> None:
    episodes = []
    for op in ops:
        episode = dict(op["episode"])
        if op.get("replay") is not None and not episode.get("session_id"):
            session_id = _replay(client, run_id, op, log)
            if session_id is not None:
                episode["session_id"] = session_id
        episodes.append(episode)
    try:
        client.report_episodes(run_id, episodes)
    except ConflictError as exc:
        log("conflict", "tracking: run %s already holds some of these episodes with other values: %s", run_id, exc)
    except AgentExchangeError as exc:
        kind = _classify(exc)
        if kind is not None:
            raise kind(str(exc)) from exc
        log("episodes", "tracking: the platform refused episodes of run %s: %s", run_id, exc)


def _send_one(client: AgentExchangeClient, run_id: str, op: dict[str, Any], log: Once) -> None:
    try:
        if op["op"] == "register":
            client.create_training_run(**op["body"])
        elif op["op"] == "complete":
            body = op.get("body", {})
            client.complete_training_run(run_id, final_stats=body.get("final_stats"), status=body.get("status"))
    except AgentExchangeError as exc:
        kind = _classify(exc)
        if kind is not None:
            raise kind(str(exc)) from exc
        log(f"{op['op']}-refused", "tracking: the platform refused %s of run %s: %s", op["op"], run_id, exc)


def deliver_ops(
    client: AgentExchangeClient,
    run_id: str,
    ops: Sequence[dict[str, Any]],
    ack: Callable[[list[int]], None],
    log: Once,
) -> None:
    """Send journal operations in order, acknowledging each group as it is accepted.

    Raises ``_Transient`` (try later) or ``_Parked`` (the key is refused) and stops there; permanent
    refusals of one operation are logged once and acknowledged (resending cannot help).
    """
    index = 0
    while index < len(ops):
        op = ops[index]
        if op["op"] == "episode":
            batch = [op]
            index += 1
            while index < len(ops) and ops[index]["op"] == "episode" and len(batch) < MAX_BATCH:
                batch.append(ops[index])
                index += 1
            _send_episodes(client, run_id, batch, log)
            ack([int(o["seq"]) for o in batch])
        else:
            _send_one(client, run_id, op, log)
            ack([int(op["seq"])])
            index += 1


@dataclass
class SyncReport:
    """What :func:`deliver_spool` did: journals delivered, left (with why), and episodes sent."""

    delivered: list[str] = field(default_factory=list)
    remaining: dict[str, str] = field(default_factory=dict)
    episodes: int = 0

    def __str__(self) -> str:
        lines = [f"delivered {len(self.delivered)} spooled run journal(s), {self.episodes} episode(s)"]
        lines += [f"left {name}: {why}" for name, why in self.remaining.items()]
        return "\n".join(lines)


def deliver_spool(
    spool_dir: Path,
    client_for: Callable[[JournalContents], AgentExchangeClient | None],
    *,
    exclude: Iterable[Path] = (),
    log: Once | None = None,
) -> SyncReport:
    """Deliver every journal in ``spool_dir`` that no live tracker holds.

    ``client_for(contents)`` gives the client to deliver a journal with, or ``None`` to leave it
    (another platform or API key). Delivered journals are deleted; the others keep their
    acknowledgements so the next attempt resends less.
    """
    report = SyncReport()
    log = log if log is not None else Once()
    skip = {Path(p) for p in exclude}
    deferred: list[Path] = []
    for path in journals(spool_dir):
        if path in skip:
            continue
        outcome = _deliver_journal(path, client_for, report, log)
        if outcome == "deferred":
            deferred.append(path)
        elif outcome == "unreachable":
            return report
    # Workers of one run journal separately: episodes whose run was registered by a journal
    # delivered later in the first pass go through now.
    for path in deferred:
        if _deliver_journal(path, client_for, report, log) == "unreachable":
            break
    return report


def _deliver_journal(
    path: Path,
    client_for: Callable[[JournalContents], AgentExchangeClient | None],
    report: SyncReport,
    log: Once,
) -> str:
    """Deliver one journal; ``"done"``, ``"skipped"``, ``"deferred"`` or ``"unreachable"``."""
    with claim(path) as handle:
        if handle is None:
            return "skipped"
        contents = read_journal(path)
        if not contents.pending:
            path.unlink(missing_ok=True)
            report.delivered.append(path.name)
            return "done"
        client = client_for(contents)
        if client is None:
            report.remaining[path.name] = "written for another platform or API key"
            return "skipped"

        def ack(seqs: list[int], journal: IO[str] = handle) -> None:
            append_ack(journal, seqs)

        try:
            deliver_ops(client, contents.run_id, contents.pending, ack, log)
        except _Deferred as exc:
            report.remaining[path.name] = f"not delivered, the run is not registered (yet): {exc}"
            return "deferred"
        except _Transient as exc:
            report.remaining[path.name] = f"not delivered, the platform is unreachable: {exc}"
            return "unreachable"
        except _Parked as exc:
            report.remaining[path.name] = f"not delivered, the API key was refused: {exc}"
            return "skipped"
        path.unlink(missing_ok=True)
        report.remaining.pop(path.name, None)
        report.delivered.append(path.name)
        report.episodes += sum(1 for op in contents.pending if op["op"] == "episode")
        return "done"


# --- the live sender -------------------------------------------------------------------------------


class Sender:
    """The background thread of one tracker (see the module docstring)."""

    def __init__(
        self,
        client: AgentExchangeClient,
        *,
        run_id: str,
        group: RunGroup,
        spool_dir: Path | None,
        api_key: str | None,
        progress: Callable[[], Progress],
        context: Callable[[], Mapping[str, Any]] | None = None,
        heartbeat_interval: float = 0.5,
        request_timeout: float = 10.0,
        log: Once | None = None,
        first: Register | None = None,
    ) -> None:
        self.run_id = run_id
        self.group = group
        self.spool_dir = spool_dir
        self._base = client
        self._client = client.with_options(max_retries=0, timeout=request_timeout)
        self._api_key = api_key
        self._key = key_fingerprint(api_key)
        self._log = log if log is not None else Once()
        self._progress = progress
        self._context = context
        self._heartbeat_interval = heartbeat_interval
        self._request_timeout = request_timeout
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._journal: Journal | None = None
        self._memory: list[dict[str, Any]] = []  # operations not acknowledged, when there is no journal
        self._seq = 0
        self._pending: list[dict[str, Any]] = []
        self._offline_until: float | None = None
        self._backoff = BACKOFF_INITIAL_S
        self._parked = False
        self._next_heartbeat = time.monotonic() + heartbeat_interval
        self._last_steps = 0
        self._last_time = time.monotonic()
        self._deadline: float | None = None
        self._closed = threading.Event()
        self._delivered = False
        self._numbers: Iterator[int] = iter(())
        if first is not None:
            self._queue.put(first)  # registration goes first, before any heartbeat
        self._thread = threading.Thread(target=self._run, name=f"tradeready-tracker-{run_id}", daemon=True)
        self._thread.start()

    # -- training thread ------------------------------------------------------------------------

    def submit(self, item: Register | Episode | Complete) -> None:
        """Queue ``item`` (never blocks, never raises)."""
        self._queue.put(item)

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until everything submitted so far is delivered; whether it was."""
        if not self._thread.is_alive():
            return self._delivered
        request = _Flush()
        self._queue.put(request)
        request.done.wait(timeout)
        return request.done.is_set() and request.delivered

    def close(self, timeout: float) -> bool:
        """Deliver what is queued within ``timeout`` seconds; the rest stays in the spool.

        Returns ``True`` when everything was delivered.
        """
        if self._thread.is_alive():
            self._queue.put((_STOP, time.monotonic() + max(0.0, timeout)))
            self._thread.join(timeout + 0.25)
        if self._thread.is_alive():
            self._log("close-timeout", "tracking: the sender of %s did not finish within %.1fs", self.run_id, timeout)
            return False
        return self._delivered

    @property
    def alive(self) -> bool:
        """Whether the sender thread still runs."""
        return self._thread.is_alive()

    @property
    def journal_path(self) -> Path | None:
        return None if self._journal is None else self._journal.path

    # -- sender thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._open_journal()
            self._deliver_old_spools()
            stop = False
            final: Complete | None = None
            while not stop:
                items = self._next_items()
                ops: list[dict[str, Any]] = []
                flushes: list[_Flush] = []
                # One lock of the run group numbers every episode of this round.
                count = sum(1 for item in items if isinstance(item, Episode))
                self._numbers = iter(self.group.allocate(count) if count else ())
                for item in items:
                    if isinstance(item, tuple) and item and item[0] is _STOP:
                        stop, self._deadline = True, item[1]
                    elif isinstance(item, _Flush):
                        flushes.append(item)
                    elif isinstance(item, Complete):
                        final = item  # sent last, after the final heartbeat
                    else:
                        ops.extend(self._to_ops(item))
                self._record(ops)
                self._try_deliver(force=stop or bool(flushes))
                for request in flushes:
                    request.delivered = self._all_delivered()
                    request.done.set()
                self._maybe_heartbeat(force=stop)
            if final is not None:
                self._record(self._to_ops(final))
                self._try_deliver(force=True)
            self._finish()
        except Exception:  # tracking never takes training down
            logger.exception("tracking: the sender of %s stopped after an unexpected error", self.run_id)
        finally:
            self._closed.set()

    def _next_items(self) -> list[Any]:
        wait = max(0.0, self._next_heartbeat - time.monotonic()) if self._heartbeat_interval > 0 else 1.0
        if self._offline_until is not None:
            wait = min(wait, max(0.0, self._offline_until - time.monotonic()))
        items: list[Any] = []
        try:
            items.append(self._queue.get(timeout=max(wait, 0.01)))
        except queue.Empty:
            return items
        while len(items) < 10 * MAX_BATCH:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _open_journal(self) -> None:
        if self.spool_dir is None:
            return
        try:
            self._journal = Journal.create(
                self.spool_dir, run_id=self.run_id, base_url=self._base.base_url, api_key=self._api_key
            )
        except OSError as exc:
            self._log("spool-open", "tracking: cannot write the spool in %s (%s); no spool", self.spool_dir, exc)

    def _deliver_old_spools(self) -> None:
        if self.spool_dir is None:
            return
        exclude = [] if self._journal is None else [self._journal.path]
        try:
            report = deliver_spool(self.spool_dir, self._client_for, exclude=exclude, log=self._log)
        except OSError as exc:
            self._log("spool-read", "tracking: cannot read the spool in %s: %s", self.spool_dir, exc)
            return
        if report.delivered:
            logger.info("tracking: %s", report)

    def _client_for(self, contents: JournalContents) -> AgentExchangeClient | None:
        same_url = contents.header.get("base_url") == self._base.base_url
        return self._client if same_url and contents.header.get("key") == self._key else None

    def _to_ops(self, item: Any) -> list[dict[str, Any]]:
        if isinstance(item, Register):
            body = item.body
            config = body.get("config")
            if isinstance(config, dict) and "versions" in config and config["versions"] is None:
                body = {**body, "config": {**config, "versions": versions()}}
            return [{"op": "register", "body": body}]
        if isinstance(item, Episode):
            number = next(self._numbers, None)
            if number is None:
                number = self.group.allocate(1)[0]
            episode = {key: _finite_or_none(value) for key, value in item.episode.items()}
            episode["episode"] = number
            replay = None
            if item.replay is not None and self._journal is not None and self._journal.size > MAX_SPOOL_BYTES:
                self._log(
                    "spool-full",
                    "tracking: the spool of %s passed %d MB; further episodes are kept without their action log",
                    self.run_id,
                    MAX_SPOOL_BYTES // 2**20,
                )
            elif item.replay is not None:
                replay = dict(item.replay)
                if item.action_log is not None:
                    replay["targets"] = _targets_json(item.action_log)
                if isinstance(replay.get("metrics"), Mapping):
                    replay["metrics"] = {k: _finite_or_none(v) for k, v in replay["metrics"].items()}
            return [{"op": "episode", "episode": episode, "replay": replay}]
        if isinstance(item, Complete):
            last, totals = self.group.leave(self._progress().steps)
            if not last:
                return []
            stats = {**totals, **item.final_stats}
            return [{"op": "complete", "body": {"final_stats": stats, "status": item.status}}]
        return []

    def _record(self, ops: list[dict[str, Any]]) -> None:
        if not ops:
            return
        if self._journal is not None:
            try:
                numbered = self._journal.append_many(ops)
            except (OSError, ValueError) as exc:
                self._log("spool-write", "tracking: cannot append to %s (%s)", self._journal.path, exc)
                numbered = self._number(ops)
                self._memory.extend(numbered)
        else:
            numbered = self._number(ops)
            self._memory.extend(numbered)
        if self._offline_until is None and not self._parked:
            self._pending.extend(numbered)

    def _number(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for op in ops:
            self._seq += 1
            out.append({"seq": self._seq + 1_000_000_000, **op})
        return out

    def _ack(self, seqs: list[int]) -> None:
        if self._journal is not None:
            self._journal.ack(seqs)
        if self._memory:
            done = set(seqs)
            self._memory = [op for op in self._memory if op["seq"] not in done]

    def _try_deliver(self, force: bool = False) -> None:
        if self._parked:
            return
        now = time.monotonic()
        if self._offline_until is not None:
            if now < self._offline_until and not force:
                return
            self._pending = self._unacked_from_spool()
        if not self._pending:
            self._offline_until = None
            return
        if self._deadline is not None and now >= self._deadline:
            return
        if self._deadline is not None:
            remaining = max(0.05, self._deadline - now)
            client = self._client.with_options(timeout=min(self._request_timeout, remaining))
        else:
            client = self._client
        pending, self._pending = self._pending, []
        try:
            deliver_ops(client, self.run_id, pending, self._ack, self._log)
        except _Parked as exc:
            self._parked = True
            self._log(
                "parked",
                "tracking: the platform refused the API key (%s); run %s stays in the spool %s for "
                "`tradeready sync` with a valid key",
                exc,
                self.run_id,
                self.journal_path,
            )
        except _Transient as exc:
            self._go_offline(exc)
        else:
            self._offline_until = None
            self._backoff = BACKOFF_INITIAL_S
            self._rotate_journal()

    def _rotate_journal(self) -> None:
        journal = self._journal
        if journal is None or journal.size < ROTATE_BYTES or not journal.all_acked or self.spool_dir is None:
            return
        journal.close(delete=True)
        self._journal = None
        self._open_journal()

    def _go_offline(self, exc: Exception) -> None:
        self._log(
            "offline",
            "tracking: could not deliver to the platform (%s); episodes are spooled to %s and retried with backoff",
            exc,
            self.journal_path or "memory",
        )
        self._offline_until = time.monotonic() + self._backoff
        self._backoff = min(BACKOFF_MAX_S, self._backoff * 2.0)
        self._pending = []  # they are in the journal (or in memory): re-read when the backoff ends

    def _unacked_from_spool(self) -> list[dict[str, Any]]:
        if self._journal is None:
            return list(self._memory)
        try:
            spooled = read_journal(self._journal.path).pending
        except OSError as exc:
            self._log("spool-read", "tracking: cannot read %s: %s", self._journal.path, exc)
            spooled = []
        return spooled + list(self._memory)

    def _all_delivered(self) -> bool:
        journal_done = self._journal is None or self._journal.closed or self._journal.all_acked
        return journal_done and not self._memory and not self._pending

    def _maybe_heartbeat(self, force: bool = False) -> None:
        if self._heartbeat_interval <= 0:
            return
        now = time.monotonic()
        if now < self._next_heartbeat and not force:
            return
        if self._deadline is not None and now >= self._deadline:
            return
        self._next_heartbeat = now + self._heartbeat_interval
        progress = self._progress()
        elapsed = now - self._last_time
        sps = max(0.0, (progress.steps - self._last_steps) / elapsed) if elapsed > 0 else 0.0
        self._last_steps, self._last_time = progress.steps, now
        try:
            view: GroupView = self.group.report(progress.steps, sps)
        except OSError as exc:
            self._log("group", "tracking: cannot update the run group file: %s", exc)
            return
        if not view.leader or self._offline_until is not None or self._parked:
            return
        context = dict(self._context()) if self._context is not None else {}
        client = self._client
        if self._deadline is not None:
            client = client.with_options(timeout=max(0.05, min(self._request_timeout, self._deadline - now)))
        try:
            client.send_heartbeat(
                self.run_id,
                step=view.steps,
                episode=view.episodes + 1,
                episode_steps=progress.episode_steps,
                episode_length=progress.episode_length,
                steps_per_second=round(view.steps_per_second, 3),
                total_timesteps=context.get("total_timesteps"),
                timesteps_done=context.get("timesteps_done", view.steps),
                train_metrics=context.get("train_metrics"),
            )
        except AgentExchangeError as exc:
            kind = _classify(exc)
            if kind is _Transient:
                self._go_offline(exc)
            else:
                self._log("heartbeat", "tracking: heartbeat of %s refused: %s", self.run_id, exc, level=logging.INFO)

    def _finish(self) -> None:
        # One last attempt even while backing off: close is the moment the user expects delivery.
        if self._offline_until is not None and not self._parked:
            self._try_deliver(force=True)
        if self._journal is not None:
            delete = self._delivered = self._journal.all_acked and not self._memory
            if not delete:
                logger.warning(
                    "tracking: run %s is not fully delivered; it is spooled in %s and will be sent on the next "
                    "run or with `python -m tradeready_gym.tracking sync`",
                    self.run_id,
                    self._journal.path,
                )
            self._journal.close(delete=delete)
        else:
            self._delivered = not self._memory
            if self._memory:
                self._log("lost", "tracking: %d operation(s) of %s were not delivered", len(self._memory), self.run_id)
