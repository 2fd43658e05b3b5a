"""Per-key rate limiting shared through the database (two limiters = two worker processes)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine
from tests.support.platform import LiveServer, create_account

from tradeready.server.db.engine import make_engine
from tradeready.server.db.migrate import upgrade
from tradeready.server.errors import RateLimitedError
from tradeready.server.services.ratelimit import RateLimiter
from tradeready.server.settings import Settings


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(platform_settings: Settings) -> Iterator[Engine]:
    platform_settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(platform_settings.resolved_database_url)
    eng = make_engine(platform_settings.resolved_database_url)
    try:
        yield eng
    finally:
        eng.dispose()


def _admitted(limiter: RateLimiter, key: str) -> bool:
    try:
        limiter.check(key)
    except RateLimitedError:
        return False
    return True


def test_two_processes_never_admit_more_than_the_limit(engine: Engine) -> None:
    clock = Clock(6_000_000.0 + 15.0)  # 15 s into a window
    a, b = RateLimiter(engine, 10, clock=clock), RateLimiter(engine, 10, clock=clock)
    results = [_admitted(limiter, "key_a") for _ in range(15) for limiter in (a, b)]
    assert sum(results) == 10
    with pytest.raises(RateLimitedError) as caught:
        b.check("key_a")
    assert caught.value.headers["Retry-After"] == "45"
    assert caught.value.code == "rate_limited" and caught.value.status_code == 429
    assert _admitted(a, "key_other")  # limits are per key
    clock.now += 45.0  # next window
    assert sum(_admitted(limiter, "key_a") for _ in range(6) for limiter in (a, b)) == 10


def test_hot_keys_use_the_local_fast_path(engine: Engine) -> None:
    clock = Clock(6_000_000.0)
    limiter = RateLimiter(engine, 120_000, clock=clock)
    for _ in range(5_000):
        limiter.check("key_hot")
    assert limiter.db_claims == 14  # blocks of 1, 2, 4, ..., 512 (1,023 requests), then 4 x 1,000


def test_block_claims_are_shared_fairly_near_the_limit(engine: Engine) -> None:
    clock = Clock(6_000_000.0)
    a, b = RateLimiter(engine, 1_000, clock=clock), RateLimiter(engine, 1_000, clock=clock)
    admitted = sum(_admitted(limiter, "key_b") for _ in range(700) for limiter in (a, b))
    assert 1_000 - 2 * a.max_block <= admitted <= 1_000


def test_disabled_limiter_admits_everything(engine: Engine) -> None:
    limiter = RateLimiter(engine, 0)
    for _ in range(100):
        limiter.check("key_x")
    assert limiter.db_claims == 0


def _wait_for_fresh_window(min_remaining_s: float = 20.0) -> None:
    remaining = 60.0 - time.time() % 60.0
    if remaining < min_remaining_s:
        time.sleep(remaining + 0.05)


def test_live_server_answers_429_with_retry_after(platform_settings: Settings) -> None:
    settings = platform_settings.model_copy(update={"rate_limit_per_minute": 5})
    with LiveServer(settings) as server:
        alice, bob = create_account(settings, "alice"), create_account(settings, "bob")
        _wait_for_fresh_window()
        with httpx.Client(base_url=server.url + "/api/v1") as http:
            codes = [http.get("/account", headers={"X-API-Key": alice.api_key}).status_code for _ in range(7)]
            limited = http.get("/account", headers={"X-API-Key": alice.api_key})
            other = http.get("/account", headers={"X-API-Key": bob.api_key})
            health = http.get("/health")
    assert codes == [200] * 5 + [429] * 2
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert other.status_code == 200 and health.status_code == 200


def test_admit_local_spends_only_blocks_already_claimed(engine: Engine) -> None:
    clock = Clock(6_000_000.0)
    limiter = RateLimiter(engine, 120_000, clock=clock)
    assert not limiter.admit_local("key_l")  # nothing claimed yet: the caller must check()
    limiter.check("key_l")  # claims a block of 1, spent on this request
    assert not limiter.admit_local("key_l") and limiter.db_claims == 1
    limiter.check("key_l")  # claims 2: one for this request, one left
    assert limiter.admit_local("key_l") and not limiter.admit_local("key_l")
    limiter.check("key_l")  # claims 4
    assert [limiter.admit_local("key_l") for _ in range(4)] == [True, True, True, False]
    assert limiter.db_claims == 3  # local admissions never touch the database
    limiter.check("key_l")  # claims 8: 7 left in this window...
    clock.now += 60.0
    assert not limiter.admit_local("key_l")  # ...but not in the next one
    assert not limiter.admit_local("key_other")  # blocks are per key


def test_local_admissions_count_against_the_shared_limit(engine: Engine) -> None:
    clock = Clock(6_000_000.0)
    a, b = RateLimiter(engine, 1_000, clock=clock), RateLimiter(engine, 1_000, clock=clock)
    admitted = sum(
        limiter.admit_local("key_s") or _admitted(limiter, "key_s") for _ in range(800) for limiter in (a, b)
    )
    assert 1_000 - 2 * a.max_block <= admitted <= 1_000  # never over; at most the unused blocks under
    assert a.db_claims + b.db_claims < admitted / 4  # most admissions were local
    assert RateLimiter(engine, 0).admit_local("key_s")  # a disabled limiter admits everything locally
