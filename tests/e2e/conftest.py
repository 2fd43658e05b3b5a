"""Fixtures of the browser tests: chromium, a trainer that reports in the background, REST helpers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser import Browser
from tests.support.platform import AccountKey, LiveServer


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Headless Debian chromium with a fresh profile; fails (never skips) when chromium is missing."""
    with Browser.launch(tmp_path / "chromium-profile") as launched:
        yield launched


@pytest.fixture
def api(live_server: LiveServer, account: AccountKey) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + "/api/v1", headers={"X-API-Key": account.api_key}) as client:
        yield client


def episode(number: int, roi: float) -> dict[str, Any]:
    return {
        "episode": number,
        "roi_pct": roi,
        "sharpe_ratio": roi / 3,
        "max_drawdown_pct": 2.0 + abs(roi) / 2,
        "total_trades": 3 + number % 5,
        "reward_sum": roi * 8,
        "steps": 200,
    }


class Trainer(threading.Thread):
    """Reports a running training the way the gym's tracker does: heartbeats and episodes, over REST.

    Runs until :meth:`finish`, which completes the run.
    """

    def __init__(self, base_url: str, api_key: str, run_id: str, first_episode: int, episode_length: int = 200):
        super().__init__(name=f"trainer-{run_id}", daemon=True)
        self.client = httpx.Client(base_url=base_url + "/api/v1", headers={"X-API-Key": api_key})
        self.run_id = run_id
        self.episode = first_episode
        self.episode_length = episode_length
        self.stop_event = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        step = 0
        try:
            while not self.stop_event.is_set():
                for within in (50, 100, 150):
                    step += 50
                    self._post(
                        "heartbeat",
                        {
                            "step": step,
                            "episode": self.episode,
                            "episode_steps": within,
                            "episode_length": self.episode_length,
                            "steps_per_second": 950.0 + within,
                            "total_timesteps": 200_000,
                            "timesteps_done": min(200_000, step),
                        },
                    )
                    if self.stop_event.wait(0.15):
                        return
                roi = (self.episode % 13) / 4 - 1.0 + self.episode / 100
                self._post("episodes", episode(self.episode, roi))
                self.episode += 1
        finally:
            self.client.close()

    def _post(self, what: str, body: dict[str, Any]) -> None:
        response = self.client.post(f"/training/runs/{self.run_id}/{what}", json=body)
        if response.status_code >= 400:
            self.errors.append(f"{what}: {response.status_code} {response.text}")

    def finish(self) -> None:
        self.stop_event.set()
        self.join(10)
