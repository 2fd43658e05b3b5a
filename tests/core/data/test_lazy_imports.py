"""``tradeready_core.data`` imports pandas (and pyarrow) only when a function needs them.

The pandas-free time helpers must agree exactly with the pandas reading they replace.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeready_core.data import format_ms, to_ms
from tradeready_core.errors import InvalidParameterError


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_and_time_helpers_do_not_load_pandas() -> None:
    out = _run(
        """
        import sys
        import tradeready_core.data as data
        data.to_ms("2024-01-01T05:06:07.5Z"); data.to_ms("2024-01-01"); data.format_ms(1704067200123)
        data.synthetic_candles("BTCUSDT", "1h", periods=10, seed=0).slice("2024-01-01", "2024-01-02")
        print(sorted(m for m in ("pandas", "pyarrow") if m in sys.modules))
        """
    )
    assert out == "[]"


def test_timelike_and_frames_load_pandas_on_demand() -> None:
    out = _run(
        """
        import sys, typing
        from tradeready_core.data import TimeLike, synthetic_candles
        print("pandas" in sys.modules, [a.__name__ for a in typing.get_args(TimeLike)])
        print(type(synthetic_candles("BTCUSDT", "1h", periods=3, seed=0).to_frame()).__name__)
        """
    )
    assert out.splitlines() == [
        "True ['int', 'integer', 'str', 'datetime', 'date', 'Timestamp', 'datetime64']",
        "DataFrame",
    ]


def _pandas_to_ms(value: object) -> int | type[Exception]:
    """The all-pandas reading the fast path replaces: the value, or the type of exception raised."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return InvalidParameterError
    try:
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return int(ts.as_unit("ns").value) // 1_000_000
    except Exception as exc:  # out of pandas' nanosecond range: raised as is
        return type(exc)


def _our_to_ms(value: object) -> int | type[Exception]:
    try:
        return to_ms(value)  # type: ignore[arg-type]
    except Exception as exc:
        return type(exc)


_datetimes = st.datetimes(min_value=dt.datetime(1600, 1, 1), max_value=dt.datetime(2300, 1, 1))
_zones = st.one_of(st.none(), st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m))))


@given(_datetimes, _zones)
def test_to_ms_of_datetimes_matches_pandas(value: dt.datetime, zone: dt.tzinfo | None) -> None:
    value = value.replace(tzinfo=zone)
    assert _our_to_ms(value) == _pandas_to_ms(value)
    assert _our_to_ms(value.date()) == _pandas_to_ms(value.date())


@given(_datetimes, st.sampled_from(["T", " "]), st.integers(0, 6), st.sampled_from(["", "Z", "+05:30", "-02:00"]))
def test_to_ms_of_iso_strings_matches_pandas(value: dt.datetime, sep: str, digits: int, zone: str) -> None:
    text = value.isoformat(sep=sep, timespec="microseconds")
    text = (text[: len(text) - 6 + digits] if digits else text[:19]) + zone
    assert _our_to_ms(text) == _pandas_to_ms(text)
    assert _our_to_ms(text[:10]) == _pandas_to_ms(text[:10])


@pytest.mark.parametrize("text", ["2024-13-01", "2024-02-30T00:00", "2024-01-01T25:00:00", "nonsense"])
def test_to_ms_rejects_what_pandas_rejects(text: str) -> None:
    with pytest.raises(InvalidParameterError, match=text):
        to_ms(text)


@given(st.integers(-(2**63) // 1_000_000, 2**63 // 1_000_000))
def test_format_ms_matches_pandas(ms: int) -> None:
    text = pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
    text += f".{ms % 1000:03d}" if ms % 1000 else ""
    assert format_ms(ms) == text + "Z"
