"""One training run shared by the environments of a vectorised trainer (one run, not one per worker).

How workers find each other: every tracker computes a *group key* from its training session and
its configuration (``strategy_label``, env id, env parameters, reward). The session is
``$TRADEREADY_TRACKING_SESSION`` when set, else the id of the process that started the workers
(``multiprocessing.parent_process()``: the training script, for ``SubprocVecEnv`` and
``gymnasium.vector.AsyncVectorEnv`` under fork, forkserver or spawn), else this process
(``DummyVecEnv``, ``SyncVectorEnv``). The group lives in ``<spool_dir>/.groups/<key>.json``, changed
only under an exclusive ``flock``:

* the first tracker to reset creates the group and its ``run_id``; every tracker with the same key
  that resets before anyone in the group has stepped joins it as the next member (vectorised envs
  reset all their workers before the first step). Once the group has stepped (or after
  :data:`JOIN_WINDOW_S`) it is sealed, so a later env with the same configuration (an evaluation
  env, the next run of a sweep) starts its own run;
* episode numbers come from the group's counter, so they are unique across workers and processes
  (assigned by each tracker's background sender, in batches);
* each member's sender writes its progress counters into the group; the member with the lowest
  index (the leader) sends the run's heartbeat with the totals;
* the last member to close completes the run; the file is kept closed and pruned after a week.

Usage::

    group = RunGroup.join(spool_dir / ".groups", key, new_run_id)
    numbers = group.allocate(3)      # e.g. [4, 5, 6]
    view = group.report(member_counters)
    last = group.leave()
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradeready_gym.tracking.spool import locked_file

__all__ = ["JOIN_WINDOW_S", "PRUNE_AFTER_S", "SESSION_ENV", "GroupView", "RunGroup", "group_key", "session_token"]

SESSION_ENV = "TRADEREADY_TRACKING_SESSION"
JOIN_WINDOW_S = 600.0
"""A group older than this no longer takes new members, even if nobody stepped yet."""
PRUNE_AFTER_S = 7 * 24 * 3600.0
"""Group files untouched for a week are removed when a new group is joined."""
_STALE_S = 30.0
"""Progress counters older than this do not count toward the run's steps per second."""


def session_token() -> str:
    """The training session this process belongs to (see the module docstring)."""
    explicit = os.environ.get(SESSION_ENV)
    if explicit:
        return explicit
    parent = multiprocessing.parent_process()
    pid = parent.pid if parent is not None and parent.pid is not None else os.getpid()
    return f"pid{pid}"


def group_key(session: str, identity: Mapping[str, Any]) -> str:
    """A file-name-safe key for ``identity`` (label, env id, parameters, reward) within ``session``."""
    blob = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{session}\n{blob}".encode()).hexdigest()[:24]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class GroupView:
    """The run's progress as the heartbeat reports it (totals over the group's members)."""

    leader: bool
    steps: int
    steps_per_second: float
    episodes: int
    members: int


class RunGroup:
    """This tracker's membership in a run group (see the module docstring)."""

    def __init__(self, path: Path | None, run_id: str, member: int, created: bool) -> None:
        self.path = path
        self.run_id = run_id
        self.member = member
        self.created = created
        self._next_private = 1  # episode counter of a group without a file

    @classmethod
    def private(cls, run_id: str) -> RunGroup:
        """A group of one, kept in memory (no shared folder available)."""
        return cls(None, run_id, 0, True)

    @classmethod
    def join(cls, directory: Path, key: str, new_run_id: Callable[[], str]) -> RunGroup:
        """Join the open group for ``key``, or start a new one with ``new_run_id()``."""
        path = directory / f"{key}.json"
        now = time.time()
        _prune(directory, now)
        with locked_file(path) as handle:
            state = _read(handle)
            members: dict[str, dict[str, Any]] = state.get("members", {})
            live = {k: m for k, m in members.items() if m.get("open") and _alive(int(m.get("pid", 0)))}
            joinable = (
                state.get("run_id")
                and live
                and not state.get("sealed")
                and now - float(state.get("created_at", 0.0)) < JOIN_WINDOW_S
            )
            if joinable:
                member = 1 + max(int(k) for k in members)
                created = False
            else:
                state = {"run_id": new_run_id(), "created_at": now, "sealed": False, "next_episode": 1, "members": {}}
                members = state["members"]
                member = 0
                created = True
            members[str(member)] = {"pid": os.getpid(), "open": True, "steps": 0, "sps": 0.0, "at": now}
            _write(handle, state)
            return cls(path, str(state["run_id"]), member, created)

    def allocate(self, count: int) -> list[int]:
        """``count`` fresh episode numbers of the run (and seal the group: it has stepped)."""
        if self.path is None:
            first = self._next_private
            self._next_private += count
            return list(range(first, first + count))
        with locked_file(self.path) as handle:
            state = _read(handle)
            first = int(state.get("next_episode", 1))
            state["next_episode"] = first + count
            state["sealed"] = True
            _write(handle, state)
        return list(range(first, first + count))

    def report(self, steps: int, steps_per_second: float) -> GroupView:
        """Store this member's counters; return the group's totals and whether this member leads."""
        if self.path is None:
            return GroupView(True, steps, steps_per_second, self._next_private - 1, 1)
        now = time.time()
        with locked_file(self.path) as handle:
            state = _read(handle)
            members: dict[str, dict[str, Any]] = state.setdefault("members", {})
            mine = members.setdefault(str(self.member), {"pid": os.getpid(), "open": True})
            mine.update(steps=steps, sps=steps_per_second, at=now)
            if steps > 0:
                state["sealed"] = True
            _write(handle, state)
        live = [int(k) for k, m in members.items() if m.get("open") and _alive(int(m.get("pid", 0)))]
        total_steps = sum(int(m.get("steps", 0)) for m in members.values())
        fresh = [m for m in members.values() if m.get("open") and now - float(m.get("at", 0)) < _STALE_S]
        sps = sum(float(m.get("sps", 0.0)) for m in fresh)
        return GroupView(
            leader=not live or self.member == min(live),
            steps=total_steps,
            steps_per_second=sps,
            episodes=int(state.get("next_episode", 1)) - 1,
            members=len(members),
        )

    def leave(self, steps: int) -> tuple[bool, dict[str, Any]]:
        """Close this membership; returns whether it was the last open one and the group's totals."""
        if self.path is None:
            return True, {"episodes": self._next_private - 1, "total_steps": steps, "workers": 1}
        with locked_file(self.path) as handle:
            state = _read(handle)
            members: dict[str, dict[str, Any]] = state.setdefault("members", {})
            mine = members.setdefault(str(self.member), {"pid": os.getpid()})
            mine.update(open=False, steps=steps, at=time.time())
            if state.get("run_id") != self.run_id:  # the file was taken over by a newer group
                return True, {"total_steps": steps}
            live = [m for m in members.values() if m.get("open") and _alive(int(m.get("pid", 0)))]
            totals = {
                "episodes": int(state.get("next_episode", 1)) - 1,
                "total_steps": sum(int(m.get("steps", 0)) for m in members.values()),
                "workers": len(members),
            }
            # The file stays (closed); unlinking it could orphan a concurrent joiner's state.
            _write(handle, state)
            return not live, totals


def _prune(directory: Path, now: float) -> None:
    """Remove group and context files untouched for :data:`PRUNE_AFTER_S` (finished or crashed trainings)."""
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > PRUNE_AFTER_S:
                path.unlink()


def _read(handle: Any) -> dict[str, Any]:
    handle.seek(0)
    text = handle.read()
    if not text.strip():
        return {}
    try:
        state = json.loads(text)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _write(handle: Any, state: Mapping[str, Any]) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(state, separators=(",", ":")))
    handle.flush()
