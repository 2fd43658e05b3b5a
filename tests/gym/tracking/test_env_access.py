"""What the tracker reads from the env and the SDK client: public accessors only, never private attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from tests.gym.tracking.helpers import BTC_1H, Platform, iter_journals, make_env, run_episodes, trading_env

import tradeready_gym  # noqa: F401  (registers the env ids)
from agentexchange import AgentExchangeClient
from tradeready_core.engine import Simulator
from tradeready_core.errors import InvalidParameterError
from tradeready_gym import tracking
from tradeready_gym.envs import NullTracker, TradingEnv
from tradeready_gym.tracking import TrainingTracker
from tradeready_gym.tracking.spool import key_fingerprint, read_journal

KEY = "ak_live_0123456789abcdef0123456789abcdef"
TRACKING_SOURCES = sorted(Path(tracking.__file__).parent.glob("*.py"))

PRIVATE_READS = {
    "getattr on an env's private attribute": re.compile(r"""getattr\(\s*(\w+\.)*_?env\s*,\s*["']_"""),
    "an env's private attribute": re.compile(r"env\._"),
    "the unwrapped env's private attribute": re.compile(r"unwrapped\._"),
    "the SDK client's private key by name": re.compile(r"""["']_api_key["']"""),
    "another object's _api_key": re.compile(r"(?<!\bself)\._api_key\b"),
}


def private_reads(source: str) -> list[str]:
    """``line: what`` for every private read of an env or SDK client in ``source``."""
    return [
        f"{number}: {what}: {line.strip()}"
        for number, line in enumerate(source.splitlines(), start=1)
        for what, pattern in PRIVATE_READS.items()
        if pattern.search(line)
    ]


def offline_env(**kwargs: Any) -> gym.Env[Any, Any]:
    kwargs.setdefault("track_training", False)
    return gym.make(
        "TradeReady-BTC-v0", data=BTC_1H, start_time="2025-01-01", end_time="2025-01-03", lookback_window=5, **kwargs
    )


# -- the tracking package reads no private attributes ------------------------------------------


def test_tracking_sources_are_found() -> None:
    names = {path.name for path in TRACKING_SOURCES}
    assert {"__init__.py", "tracker.py", "sender.py"} <= names


@pytest.mark.parametrize("path", TRACKING_SOURCES, ids=lambda path: path.name)
def test_tracking_reads_no_private_env_or_client_attributes(path: Path) -> None:
    assert private_reads(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "line",
    [
        'sim = getattr(env, "_sim", None)',
        "running = not getattr(env, '_needs_reset', True)",
        "n = getattr(self._env, '_k', 0)",
        "client = env._client",
        "env._tracker = tracker",
        "env.unwrapped._tracker = tracker",
        'key = getattr(client, "_api_key", None)',
        "key = client._api_key",
        "key = self._client._api_key",
    ],
)
def test_the_check_catches_private_reads(line: str) -> None:
    assert private_reads(line)


@pytest.mark.parametrize(
    "line",
    [
        "sim = env.simulator",
        "running = not env.needs_reset",
        "client = self._client or env.client",
        "env.unwrapped.attach_tracker(tracker)",
        "self._api_key = api_key",
        "key = client.api_key",
        'total = getattr(self.model, "_total_timesteps", None)',
    ],
)
def test_the_check_allows_public_reads_and_own_state(line: str) -> None:
    assert private_reads(line) == []


# -- TradingEnv's accessors ------------------------------------------------------------------


def test_accessors_follow_the_episode() -> None:
    env = offline_env(episode_length=5)
    base = trading_env(env)
    assert base.client is None  # no client= given
    assert base.needs_reset and base.episode_step == 0
    assert isinstance(base.simulator, Simulator)  # data= given: loaded on construction
    assert isinstance(base.tracker, NullTracker)

    env.reset(seed=0)
    sim = base.simulator
    assert sim is not None and sim.end - sim.start == 5
    assert not base.needs_reset and base.episode_step == 0
    for k in range(1, 5):
        env.step(0)
        assert base.episode_step == k and not base.needs_reset
    *_, terminated, truncated, info = env.step(0)
    assert truncated and not terminated and info["episode_metrics"]["steps"] == 5
    assert base.needs_reset and base.episode_step == 5  # the last episode's count until the next reset
    assert base.simulator is sim and not sim.bankrupt

    env.reset(seed=1)
    assert not base.needs_reset and base.episode_step == 0
    env.close()


@pytest.mark.parametrize("name", ["client", "simulator", "episode_step", "needs_reset", "tracker"])
def test_accessors_are_read_only(name: str) -> None:
    base = trading_env(offline_env())
    with pytest.raises(AttributeError):
        setattr(base, name, None)


def test_client_is_the_injected_client() -> None:
    with AgentExchangeClient(api_key=KEY, base_url="http://127.0.0.1:9") as client:
        assert trading_env(offline_env(client=client)).client is client
    assert trading_env(offline_env(api_key=KEY)).client is None  # the env keeps no client of its own


def test_attach_tracker_replaces_the_hook() -> None:
    calls: list[str] = []

    class Recorder(NullTracker):
        def on_reset(self, env: TradingEnv) -> None:
            calls.append(f"reset:{env.episode_step}")

        def on_episode_end(self, env: TradingEnv, info: Mapping[str, Any], reward_sum: float) -> None:
            calls.append(f"end:{env.episode_step}:{env.needs_reset}")

        def on_close(self, env: TradingEnv) -> None:
            calls.append("close")

    env = offline_env(episode_length=3)
    base = trading_env(env)
    recorder = Recorder()
    base.attach_tracker(recorder)
    assert base.tracker is recorder
    env.reset(seed=0)
    for _ in range(3):
        env.step(0)
    env.reset(seed=1)
    env.step(0)
    env.close()  # mid-episode: the 1-step episode is reported
    assert calls == ["reset:0", "end:3:True", "reset:0", "end:1:True", "close"]
    assert base.tracking_run_id is None  # the recorder has no run


def test_attach_tracker_rejects_what_is_not_a_hook() -> None:
    class OnlyReset:
        def on_reset(self, env: TradingEnv) -> None:
            """Not a whole hook."""

    base = trading_env(offline_env())
    before = base.tracker
    with pytest.raises(InvalidParameterError, match="lacks on_episode_end, on_close"):
        base.attach_tracker(OnlyReset())  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="lacks on_reset, on_episode_end, on_close"):
        base.attach_tracker(None)  # type: ignore[arg-type]
    assert base.tracker is before


# -- the tracker through those accessors -----------------------------------------------------


def test_tracker_without_credentials_spools_under_the_env_clients_key(client_home: Path) -> None:
    """No client or key on the tracker: it uses the env's client and tags the spool with its key's hash."""
    with AgentExchangeClient(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0) as down:
        env = offline_env(client=down, episode_length=4)
        tracker = TrainingTracker(close_timeout=0.5, heartbeat_interval=0.2, request_timeout=1.0, replay=False)
        trading_env(env).attach_tracker(tracker)
        run_episodes(env, 2)
        env.close()
    assert tracker.run_id is not None and not tracker.active
    [journal] = iter_journals(client_home)
    contents = read_journal(journal)
    assert contents.header["key"] == key_fingerprint(KEY)
    assert [op["op"] for op in contents.pending][-3:] == ["episode", "episode", "complete"]
    assert KEY not in journal.read_text()


def test_tracker_without_credentials_reports_through_the_envs_client(platform: Platform) -> None:
    client = platform.client()
    env = make_env(client, tracker=False, episode_length=6)
    tracker = TrainingTracker(heartbeat_interval=0.2, request_timeout=5.0)
    trading_env(env).attach_tracker(tracker)
    run_episodes(env, 2)
    env.close()
    assert tracker.run_id is not None
    run = client.get_training_run(tracker.run_id)
    assert run["status"] == "completed"
    assert [(e["steps"], e["terminated"], e["truncated"]) for e in run["episodes"]] == [(6, False, True)] * 2
