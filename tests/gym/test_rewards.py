"""Rewards against hand-computed values, their published formulas, and boundedness."""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeready_core.errors import InvalidParameterError
from tradeready_gym.rewards import (
    CompositeReward,
    DifferentialSharpeReward,
    DrawdownPenaltyReward,
    LogReturnReward,
    PnLReward,
    RewardFunction,
    SharpeReward,
    SortinoReward,
    StepState,
)


@dataclass
class State:
    """A concrete StepState, as an environment would pass it."""

    step_fees: float = 0.0
    step_fills: int = 0
    position_fraction: float = 0.0
    equity: float = 10_000.0
    starting_balance: float = 10_000.0


def run(reward: RewardFunction, equity: list[float], state: StepState | None = None) -> list[float]:
    """Reset at ``equity[0]`` and return the reward of each following step."""
    state = state or State(starting_balance=equity[0])
    reward.reset(equity[0])
    return [reward(prev, now, state) for prev, now in itertools.pairwise(equity)]


def path_from_returns(returns: list[float], start: float = 10_000.0) -> list[float]:
    equity = [start]
    for r in returns:
        equity.append(equity[-1] * (1.0 + r))
    return equity


ALL_REWARDS = [
    PnLReward,
    LogReturnReward,
    SharpeReward,
    SortinoReward,
    DrawdownPenaltyReward,
    DifferentialSharpeReward,
    lambda: CompositeReward([(SortinoReward(window=10), 0.5), (DrawdownPenaltyReward(coef=2.0), 0.5)]),
]


def test_pnl_is_a_fraction_of_the_starting_balance() -> None:
    rewards = run(PnLReward(), [10_000.0, 10_100.0, 9_999.0, 9_999.0])
    assert rewards == pytest.approx([0.01, -0.0101, 0.0])
    # The sum is the episode's ROI as a fraction.
    assert sum(rewards) == pytest.approx(9_999.0 / 10_000.0 - 1.0)


def test_log_return() -> None:
    rewards = run(LogReturnReward(), [100.0, 110.0, 99.0, 0.0])
    assert rewards == pytest.approx([math.log(1.1), math.log(0.9), math.log(1e-6)])


def test_sharpe_by_hand_with_a_window_of_three() -> None:
    returns = [0.01, -0.02, 0.03, 0.0]
    reward = SharpeReward(window=3, max_ratio=10.0)
    rewards = run(reward, path_from_returns(returns))

    def ratio(window: list[float]) -> float:
        mean = statistics.fmean(window)
        mean_sq = statistics.fmean(r * r for r in window)
        return mean / math.sqrt(statistics.pvariance(window) + mean_sq / 100.0)

    s2 = ratio([0.01, -0.02])
    s3 = ratio([0.01, -0.02, 0.03])
    s4 = ratio([-0.02, 0.03, 0.0])  # the oldest return left the window
    assert rewards == pytest.approx([0.0, s2, s3 - s2, s4 - s3], rel=1e-9, abs=1e-12)
    # The rewards telescope to the last window's ratio.
    assert sum(rewards) == pytest.approx(s4)


def test_sharpe_with_a_large_cap_is_the_plain_sharpe_ratio() -> None:
    returns = [0.01, -0.02, 0.03, 0.005, -0.01]
    rewards = run(SharpeReward(window=5, max_ratio=1e9), path_from_returns(returns))
    plain = statistics.fmean(returns) / statistics.pstdev(returns)
    assert sum(rewards) == pytest.approx(plain, rel=1e-9)


def test_sortino_by_hand() -> None:
    returns = [0.02, -0.01, 0.03, -0.02]
    rewards = run(SortinoReward(window=4, max_ratio=5.0), path_from_returns(returns))

    def ratio(window: list[float]) -> float:
        mean = statistics.fmean(window)
        downside_sq = statistics.fmean(min(r, 0.0) ** 2 for r in window)
        mean_sq = statistics.fmean(r * r for r in window)
        return mean / math.sqrt(downside_sq + mean_sq / 25.0)

    expected = [ratio(returns[:k]) if k >= 2 else 0.0 for k in range(1, 5)]
    assert rewards == pytest.approx([b - a for a, b in zip([0.0, *expected[:-1]], expected, strict=True)])


@pytest.mark.parametrize("reward_class", [SharpeReward, SortinoReward])
def test_rolling_window_matches_a_recomputation_over_a_long_path(reward_class: type[SharpeReward]) -> None:
    """Rolling sums, ring-buffer wrap-around and the periodic exact recomputation agree with a slice."""
    returns = [0.013 * math.sin(1.7 * k) + 0.004 * math.cos(0.3 * k) for k in range(500)]
    window, cap = 7, 10.0
    rewards = run(reward_class(window=window, max_ratio=cap), path_from_returns(returns))
    equity = path_from_returns(returns)
    exact = [now / prev - 1.0 for prev, now in itertools.pairwise(equity)]
    previous = 0.0
    for k, reward in enumerate(rewards):
        tail = exact[max(0, k + 1 - window) : k + 1]
        if len(tail) < 2:
            ratio = 0.0
        else:
            mean = statistics.fmean(tail)
            mean_sq = statistics.fmean(r * r for r in tail)
            if reward_class is SharpeReward:
                deviation = statistics.pvariance(tail)
            else:
                deviation = statistics.fmean(min(r, 0.0) ** 2 for r in tail)
            ratio = mean / math.sqrt(deviation + mean_sq / cap**2)
        assert reward == pytest.approx(ratio - previous, abs=1e-9)
        previous = ratio


def test_sortino_without_losses_is_capped_not_exploding() -> None:
    rewards = run(SortinoReward(window=50, max_ratio=10.0), path_from_returns([0.001] * 200))
    assert rewards[0] == 0.0
    assert rewards[1] == pytest.approx(10.0)  # a window of only gains scores exactly max_ratio
    assert all(abs(r) < 1e-9 for r in rewards[2:])
    assert sum(rewards) == pytest.approx(10.0)


@pytest.mark.parametrize("reward_class", [SharpeReward, SortinoReward, DifferentialSharpeReward])
def test_long_flat_paths_pay_nothing(reward_class: type[RewardFunction]) -> None:
    assert run(reward_class(), [10_000.0] * 5_000) == [0.0] * 4_999


@pytest.mark.parametrize("reward_class", [SharpeReward, SortinoReward])
def test_a_flat_path_after_volatility_stays_bounded(reward_class: type[SharpeReward]) -> None:
    """Rounding residue after big returns leave the window must not turn into a huge ratio."""
    returns = [0.3, -0.25, 0.4, -0.35] * 25 + [0.0] * 1_000 + [1e-12] * 100
    rewards = run(reward_class(window=20), path_from_returns(returns))
    assert all(math.isfinite(r) and abs(r) <= 20.0 for r in rewards)
    assert all(abs(r) < 1e-6 for r in rewards[-1_050:-100])


def test_drawdown_penalty_by_hand() -> None:
    equity = [100.0, 110.0, 99.0, 104.5, 93.5, 120.0]
    rewards = run(DrawdownPenaltyReward(coef=2.0), equity)
    # Drawdowns from the running peak: 0, 0, 0.1, 0.05, 0.15, 0.
    assert rewards == pytest.approx(
        [
            0.10,  # new peak: the plain return
            -0.10 - 2.0 * 0.10,  # drawdown 0 -> 0.10
            104.5 / 99.0 - 1.0,  # recovery: no bonus
            93.5 / 104.5 - 1.0 - 2.0 * 0.10,  # drawdown 0.05 -> 0.15
            120.0 / 93.5 - 1.0,  # new peak
        ]
    )


def test_drawdown_penalty_peak_starts_at_the_starting_equity() -> None:
    reward = DrawdownPenaltyReward(coef=1.0)
    reward.reset(200.0)
    assert reward(100.0, 100.0, State()) == pytest.approx(-0.5)  # already 50 % below the start: penalised once
    assert reward(100.0, 100.0, State()) == 0.0


def _differential_sharpe_reference(returns: list[float], eta: float) -> list[float]:
    """Moody and Saffell (1998), eq. for D_t, with A_0 = B_0 = 0."""
    a = b = 0.0
    out = []
    for r in returns:
        delta_a, delta_b = r - a, r * r - b
        denominator = (b - a * a) ** 1.5 if b - a * a > 0 else 0.0
        out.append((b * delta_a - 0.5 * a * delta_b) / denominator if denominator else 0.0)
        a, b = a + eta * delta_a, b + eta * delta_b
    return out


def test_differential_sharpe_follows_the_published_update() -> None:
    returns = [0.004 * math.sin(0.9 * k) + 0.002 * math.cos(2.3 * k) + 0.0005 for k in range(400)]
    equity = path_from_returns(returns)
    exact = [now / prev - 1.0 for prev, now in itertools.pairwise(equity)]
    rewards = run(DifferentialSharpeReward(eta=0.05, clip=1e12), equity)
    assert rewards == pytest.approx(_differential_sharpe_reference(exact, 0.05), rel=1e-9, abs=1e-12)
    assert rewards[0] == 0.0


def test_differential_sharpe_is_the_derivative_of_the_moving_sharpe_ratio() -> None:
    """D_t = dS_t/d(eta) at eta -> 0, with S = A / sqrt(B - A²): checks the reference formula itself."""
    eta = 1e-7
    a, b = 0.001, 0.0002  # moments of an established history
    for r in (0.02, -0.015, 0.0, 0.004):
        delta_a, delta_b = r - a, r * r - b
        s_before = a / math.sqrt(b - a * a)
        a_new, b_new = a + eta * delta_a, b + eta * delta_b
        s_after = a_new / math.sqrt(b_new - a_new * a_new)
        reward = DifferentialSharpeReward(eta=eta, clip=1e12)
        reward._a, reward._b = a, b  # start from the established moments
        assert reward(1.0, 1.0 + r, State()) == pytest.approx((s_after - s_before) / eta, rel=1e-4)


def test_differential_sharpe_is_clipped() -> None:
    rewards = run(DifferentialSharpeReward(eta=0.01, clip=3.0), path_from_returns([0.01, 0.0101, -0.2, 0.5]))
    assert max(abs(r) for r in rewards) == 3.0


def test_composite_is_the_weighted_sum_of_its_parts() -> None:
    equity = path_from_returns([0.01, -0.03, 0.02, 0.015, -0.005, 0.0, 0.04])
    composite = CompositeReward([(SharpeReward(window=4), 0.7), (PnLReward(), -0.3), (LogReturnReward(), 2)])
    expected_parts = [run(SharpeReward(window=4), equity), run(PnLReward(), equity), run(LogReturnReward(), equity)]
    expected = [0.7 * s - 0.3 * p + 2.0 * g for s, p, g in zip(*expected_parts, strict=True)]
    assert run(composite, equity) == pytest.approx(expected)
    # reset() reaches the parts: a second episode gives the same rewards.
    assert run(composite, equity) == pytest.approx(expected)


def test_config_names_the_class_and_its_parameters() -> None:
    assert PnLReward().config() == {"name": "PnLReward", "params": {}}
    assert SharpeReward(window=30).config() == {"name": "SharpeReward", "params": {"window": 30, "max_ratio": 10.0}}
    assert SortinoReward().config()["params"] == {"window": 50, "max_ratio": 10.0}
    assert DrawdownPenaltyReward(coef=0.5).config() == {"name": "DrawdownPenaltyReward", "params": {"coef": 0.5}}
    assert DifferentialSharpeReward().config()["params"] == {"eta": 0.01, "clip": 10.0}
    composite = CompositeReward([(SortinoReward(window=20), 0.6), (PnLReward(), 0.4)])
    assert composite.config() == {
        "name": "CompositeReward",
        "params": {
            "parts": [
                {"weight": 0.6, "reward": {"name": "SortinoReward", "params": {"window": 20, "max_ratio": 10.0}}},
                {"weight": 0.4, "reward": {"name": "PnLReward", "params": {}}},
            ]
        },
    }
    json.dumps(composite.config())
    assert repr(SharpeReward(window=30)) == "SharpeReward(window=30, max_ratio=10.0)"


def test_a_custom_reward_as_documented() -> None:
    class FeeAwareReward(RewardFunction):
        def __init__(self, penalty: float = 1.0) -> None:
            self.penalty = penalty

        def __call__(self, prev_equity: float, equity: float, state: StepState) -> float:
            return (equity - prev_equity - self.penalty * state.step_fees) / prev_equity

    reward = FeeAwareReward(penalty=2.0)
    assert reward.config() == {"name": "FeeAwareReward", "params": {"penalty": 2.0}}
    reward.reset(100.0)
    assert reward(100.0, 101.0, State(step_fees=0.25)) == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SharpeReward(window=1), "window must be an int >= 2 (steps); got 1"),
        (
            lambda: SortinoReward(window=2.5),  # type: ignore[arg-type]
            "window must be an int >= 2 (steps); got 2.5",
        ),
        (lambda: SortinoReward(window=True), "window must be an int >= 2 (steps); got True"),
        (lambda: SharpeReward(max_ratio=0), "max_ratio must be a finite number > 0; got 0"),
        (lambda: DifferentialSharpeReward(eta=1.0), "eta must be a number in (0, 1); got 1.0"),
        (lambda: DifferentialSharpeReward(clip=math.inf), "clip must be a finite number > 0; got inf"),
        (lambda: DrawdownPenaltyReward(coef=-1), "coef must be a finite number >= 0; got -1"),
        (lambda: CompositeReward([]), "at least one"),
        (lambda: CompositeReward([(PnLReward(), math.nan)]), "must be a finite number; got nan"),
        (
            lambda: CompositeReward([("pnl", 1.0)]),  # type: ignore[list-item]
            "(RewardFunction, weight) pairs",
        ),
    ],
)
def test_bad_parameters_are_rejected_with_the_value(build: object, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        build()  # type: ignore[operator]


def test_one_instance_cannot_be_two_parts() -> None:
    part = SharpeReward()
    with pytest.raises(InvalidParameterError, match="appears twice"):
        CompositeReward([(part, 0.5), (part, 0.5)])


@pytest.mark.parametrize("build", ALL_REWARDS)
def test_reset_rejects_a_non_positive_starting_equity(build: type[RewardFunction]) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape("starting_equity must be a finite number > 0; got 0.0")):
        build().reset(0.0)


equity_values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e9, allow_nan=False),
    st.sampled_from([0.0, 1e-300, 10_000.0, 10_000.0 + 1e-9]),
)


@settings(max_examples=60, deadline=None)
@given(path=st.lists(equity_values, min_size=2, max_size=120))
@pytest.mark.parametrize("build", ALL_REWARDS)
def test_every_reward_is_always_finite(build: type[RewardFunction], path: list[float]) -> None:
    reward = build()
    reward.reset(10_000.0)
    state = State()
    values = [reward(prev, now, state) for prev, now in zip([10_000.0, *path[:-1]], path, strict=True)]
    assert all(isinstance(v, float) and math.isfinite(v) for v in values)
    if isinstance(reward, SharpeReward | SortinoReward):
        assert all(abs(v) <= 2 * reward.max_ratio + 1e-9 for v in values)
    if isinstance(reward, DifferentialSharpeReward):
        assert all(abs(v) <= reward.clip for v in values)
