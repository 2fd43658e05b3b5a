"""Unit tests of the session cookie, its secret, redirects and the formatting helpers."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tradeready.server.dashboard.rendering import fmt_duration, fmt_num, fmt_pct, sparkline_svg
from tradeready.server.dashboard.session import (
    SECRET_FILE,
    SessionData,
    SessionSigner,
    load_session_secret,
    safe_next,
    tokens_match,
)
from tradeready.server.settings import Settings

DATA = SessionData(account_id="acc_1", key_id="key_1", csrf="tok")


def test_cookie_round_trips_and_rejects_tampering() -> None:
    signer = SessionSigner("s" * 48, max_age_s=3600)
    cookie = signer.dumps(DATA)
    assert signer.loads(cookie) == DATA
    assert "ak_live_" not in cookie
    assert signer.loads(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None
    assert SessionSigner("x" * 48, max_age_s=3600).loads(cookie) is None
    assert signer.loads("") is None
    assert signer.loads(None) is None


def test_cookie_expires_after_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    import itsdangerous.timed

    signer = SessionSigner("s" * 48, max_age_s=60)
    cookie = signer.dumps(DATA)
    now = itsdangerous.timed.time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 59)
    assert signer.loads(cookie) == DATA
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 120)
    assert signer.loads(cookie) is None


def test_generated_secret_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first = load_session_secret(settings)
    path = tmp_path / "home" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_session_secret(settings) == first
    assert load_session_secret(Settings(home=tmp_path / "home", session_secret="configured-" * 4)) == "configured-" * 4


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/training/run_1?metric=sharpe_ratio", "/training/run_1?metric=sharpe_ratio"),
        ("https://evil.example/", "/training"),
        ("//evil.example/x", "/training"),
        ("/\\evil.example", "/training"),
        ("", "/training"),
        (None, "/training"),
    ],
)
def test_safe_next_keeps_only_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_tokens_match_needs_both() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert not tokens_match("", "")
    assert not tokens_match(None, "abc")


def test_sparkline_draws_finite_points_and_a_zero_line() -> None:
    svg = str(sparkline_svg([-1.0, None, 2.0, float("nan"), 3.0], label="ppo <v1>"))
    assert svg.startswith("<svg")
    assert svg.count(",") == 3  # three finite points
    assert "spark-zero" in svg
    assert "spark-up" in svg
    assert "ppo &lt;v1&gt;" in svg
    empty = str(sparkline_svg([1.0]))
    assert "spark-empty" in empty and "polyline" not in empty
    assert "spark-zero" not in str(sparkline_svg([1.0, 2.0]))
    assert "spark-down" in str(sparkline_svg([2.0, 1.0]))


def test_formatting() -> None:
    assert fmt_pct(3.8) == "+3.80%"
    assert fmt_pct(-0.4) == "-0.40%"
    assert fmt_pct(None) == "—"
    assert fmt_num(1234.5) == "1,234.50"
    assert fmt_num(1234) == "1,234"
    assert fmt_num(float("inf")) == "—"
    assert fmt_duration(75) == "1m 15s"
    assert fmt_duration(5400) == "1h 30m"
    assert fmt_duration(3 * 86400 + 7200) == "3d 2h"
