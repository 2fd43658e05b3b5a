"""validate_candles and the loader's validation: every problem kind with its source row number."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeready_core.data import (
    ISSUE_KINDS,
    Candles,
    ValidationReport,
    load_candles,
    load_candles_with_report,
    validate_candles,
)
from tradeready_core.errors import DataValidationError, InvalidParameterError

HOUR_MS = 3_600_000
JAN_2024 = 1_704_067_200_000

Rows = list[tuple[int, float, float, float, float, float]]
MakeRows = Callable[..., Rows]


def write_csv(path: Path, rows: list[tuple[object, ...]]) -> Path:
    lines = ["open_time,open,high,low,close,volume"] + [",".join(str(x) for x in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def kinds_rows(issues: object) -> list[tuple[str, int]]:
    return [(i.kind, i.row) for i in issues]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- each hard error, its row


@pytest.mark.parametrize(
    ("kind", "edit", "message"),
    [
        ("high_below_low", lambda r: (r[0], r[1], r[3] - 1, r[3], r[4], r[5]), r"high .* < low"),
        ("open_outside_range", lambda r: (r[0], r[2] + 5, r[2], r[3], r[4], r[5]), r"open .* outside \[low, high\]"),
        ("close_outside_range", lambda r: (r[0], r[1], r[2], r[3], r[3] - 5, r[5]), r"close .* outside"),
        ("non_positive_price", lambda r: (r[0], 0.0, r[2], r[3], r[4], r[5]), r"price\(s\) must be > 0; got open=0.0"),
        ("negative_volume", lambda r: (r[0], r[1], r[2], r[3], r[4], -1.5), r"volume must be >= 0; got -1.5"),
        (
            "non_finite",
            lambda r: (r[0], r[1], r[2], r[3], "", r[5]),
            r"missing or non-numeric value\(s\): close missing",
        ),
        (
            "non_finite",
            lambda r: (r[0], r[1], "abc", r[3], r[4], r[5]),
            r"missing or non-numeric value\(s\): high='abc'",
        ),
        ("off_grid", lambda r: (r[0] + 60_000, *r[1:]), r"open time 2024-01-01T06:01:00Z is not on the 1h grid"),
    ],
)
def test_each_error_is_reported_with_its_line_number(
    tmp_path: Path,
    make_rows: MakeRows,
    kind: str,
    edit: Callable[[tuple[object, ...]], tuple[object, ...]],
    message: str,
) -> None:
    rows: list[tuple[object, ...]] = list(make_rows(10))
    rows[6] = edit(rows[6])  # data row 7 = line 8 of the file (line 1 is the header)
    path = write_csv(tmp_path / "BTCUSDT-1h.csv", rows)
    with pytest.raises(DataValidationError, match="row 8: " + message) as info:
        load_candles(path)
    assert (kind, 8) in kinds_rows(info.value.issues)
    assert all(i.severity == "error" for i in info.value.issues)
    assert "BTCUSDT-1h.csv: " in str(info.value)


def test_duplicates_point_at_the_first_occurrence(tmp_path: Path, make_rows: MakeRows) -> None:
    rows: list[tuple[object, ...]] = list(make_rows(8))
    rows.insert(5, rows[2])  # identical copy of data row 3 (line 4) on line 7
    changed = list(rows[4])
    changed[4] = float(changed[4]) + 0.01  # type: ignore[arg-type]
    rows.insert(7, tuple(changed))  # conflicting copy of line 6 on line 9
    path = write_csv(tmp_path / "BTCUSDT-1h.csv", rows)
    with pytest.raises(DataValidationError) as info:
        load_candles(path, timeframe="1h")
    dups = [(i.row, i.message) for i in info.value.issues if i.kind == "duplicate_time"]
    assert [r for r, _ in dups] == [7, 9]
    assert "identical to row 4" in dups[0][1]
    assert "conflicting with row 6" in dups[1][1]


def test_unsorted_rows_are_errors(tmp_path: Path, make_rows: MakeRows) -> None:
    rows: list[tuple[object, ...]] = list(make_rows(10))
    rows[3], rows[4] = rows[4], rows[3]  # lines 5 and 6 swapped
    path = write_csv(tmp_path / "BTCUSDT-1h.csv", rows)
    with pytest.raises(DataValidationError, match=r"row 6: open time 2024-01-01T03:00:00Z is earlier than") as info:
        load_candles(path)
    assert kinds_rows(info.value.issues) == [("unsorted_time", 6)]


def test_message_lists_the_first_five_and_the_count(tmp_path: Path, make_rows: MakeRows) -> None:
    rows: list[tuple[object, ...]] = list(make_rows(20))
    for k in range(0, 16, 2):  # 8 rows with negative volume: lines 2, 4, ..., 16
        rows[k] = (*rows[k][:5], -1.0)
    path = write_csv(tmp_path / "BTCUSDT-1h.csv", rows)
    with pytest.raises(DataValidationError) as info:
        load_candles(path)
    text = str(info.value)
    assert "8 validation error(s) in 20 rows" in text
    assert "row 2: " in text and "row 10: " in text and "row 12: " not in text
    assert text.endswith("... and 3 more")
    assert [i.row for i in info.value.issues] == [2, 4, 6, 8, 10, 12, 14, 16]


def test_newest_first_file_keeps_source_rows(tmp_path: Path, make_rows: MakeRows) -> None:
    rows: list[tuple[object, ...]] = list(make_rows(10))[::-1]
    rows[1] = (*rows[1][:5], -3.0)  # line 3 of the newest-first file
    path = write_csv(tmp_path / "BTCUSDT-1h.csv", rows)
    with pytest.raises(DataValidationError, match="row 3: volume must be >= 0"):
        load_candles(path)


# ------------------------------------------------------------------------------- gaps and spikes


def test_gap_report_on_real_btc_1h(market_dir: Path) -> None:
    candles, report = load_candles_with_report(market_dir / "BTCUSDT-1h.csv")
    assert report.ok and report.errors == ()
    assert [(g.first_missing, g.missing_bars) for g in report.gaps] == [
        ("2021-04-20T02:00:00Z", 2),
        ("2021-04-25T05:00:00Z", 3),
        ("2021-08-13T02:00:00Z", 4),
        ("2021-09-29T07:00:00Z", 2),
        ("2023-03-24T13:00:00Z", 1),
    ]
    assert report.missing_bars == 12
    assert len(candles) == 44_080  # nothing filled
    # the row of a gap is the line of the first candle after it
    gap = report.gaps[-1]
    line = (market_dir / "BTCUSDT-1h.csv").read_text().splitlines()[gap.row - 1]
    assert line.startswith("2023-03-24T14:00:00Z,")
    assert [w.kind for w in report.warnings] == ["gap"] * 5
    assert "5 gap(s) (12 missing bars)" in report.summary()


def test_gaps_on_real_sol_1h(market_dir: Path) -> None:
    _, report = load_candles_with_report(market_dir / "SOLUSDT-1h.csv")
    assert (len(report.gaps), report.missing_bars) == (10, 20)
    assert report.of_kind("spike") == ()


def test_strict_turns_gaps_into_errors(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(10)
    del rows[4:7]  # 3 missing bars from 04:00; the next candle is data row 5 = line 6
    path = write_csv(tmp_path / "BTCUSDT-1h.csv", list(rows))
    candles, report = load_candles_with_report(path)
    assert len(candles) == 7
    assert [(g.first_missing, g.missing_bars, g.row) for g in report.gaps] == [("2024-01-01T04:00:00Z", 3, 6)]
    assert report.ok and kinds_rows(report.warnings) == [("gap", 6)]
    with pytest.raises(DataValidationError, match=r"row 6: 3 missing bar\(s\) from 2024-01-01T04:00:00Z"):
        load_candles(path, strict=True)


def test_extreme_single_bar_move_is_flagged_not_rejected(tmp_path: Path, make_rows: MakeRows) -> None:
    rows: list[tuple[object, ...]] = list(make_rows(10))
    # like the CryptoDataDownload BTCUSDT first row: open/high 16199.91 against a close of 4308.83
    t = rows[0][0]
    rows[0] = (t, 376.0, 376.0, 99.0, 100.0, 5.0)
    path = write_csv(tmp_path / "BTCUSDT-1h.csv", rows)
    _, report = load_candles_with_report(path)
    assert report.ok
    assert kinds_rows(report.warnings) == [("spike", 2)]
    assert "extreme single-bar move" in report.warnings[0].message
    _, loose = load_candles_with_report(path, spike_threshold=2.0)
    assert loose.warnings == ()
    with pytest.raises(DataValidationError, match="row 2: extreme single-bar move"):
        load_candles(path, strict=True)


def test_real_files_have_no_spikes(market_dir: Path) -> None:
    for name in ("ETHUSDT-1h.csv", "ETHUSDT-1m.csv"):
        _, report = load_candles_with_report(market_dir / name)
        assert report.of_kind("spike") == (), name


# ------------------------------------------------------------------- validate_candles directly


def test_validate_frame_with_row_column() -> None:
    frame = pd.DataFrame(
        {
            "open_time": [JAN_2024, JAN_2024 + 2 * HOUR_MS, JAN_2024 + HOUR_MS],
            "open": [1.0, 1.0, 1.0],
            "high": [2.0, 2.0, 0.5],
            "low": [0.5, 0.5, 1.0],
            "close": [1.5, 1.5, 1.0],
            "volume": [1.0, 1.0, 1.0],
            "row": [101, 102, 103],
        }
    )
    report = validate_candles(frame, timeframe="1h")
    assert isinstance(report, ValidationReport)
    assert kinds_rows(report.errors) == [("unsorted_time", 103), ("high_below_low", 103)]
    assert not report.ok
    with pytest.raises(DataValidationError, match="row 103: "):
        report.raise_for_errors()


def test_validate_candles_object_uses_positions(btc_1h: Candles) -> None:
    report = validate_candles(btc_1h)
    assert report.ok and report.missing_bars == 12
    assert report.gaps[0].row == 367  # 1-based position of 2021-04-20T04:00Z in the array
    assert report.label == "BTCUSDT 1h"


def test_validate_argument_errors(btc_1h: Candles) -> None:
    frame = btc_1h.to_frame()
    with pytest.raises(InvalidParameterError, match="timeframe is required"):
        validate_candles(frame)
    with pytest.raises(InvalidParameterError, match=r"one of .*; got '2h'"):
        validate_candles(frame, timeframe="2h")
    with pytest.raises(InvalidParameterError, match="spike_threshold must be > 0"):
        validate_candles(btc_1h, spike_threshold=0)
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        validate_candles(btc_1h).of_kind("oops")  # type: ignore[arg-type]
    assert "gap" in ISSUE_KINDS


# ----------------------------------------------------------------------------------- properties


@st.composite
def clean_series(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n = draw(st.integers(2, 40))
    steps = draw(st.lists(st.integers(1, 3), min_size=n - 1, max_size=n - 1))
    times = JAN_2024 + HOUR_MS * np.concatenate([[0], np.cumsum(steps)])
    price = np.array(draw(st.lists(st.floats(1.0, 1e5), min_size=n, max_size=n)))
    close = price * np.array(draw(st.lists(st.floats(0.9, 1.1), min_size=n, max_size=n)))
    high = np.maximum(price, close) * 1.01
    low = np.minimum(price, close) * 0.99
    volume = np.array(draw(st.lists(st.floats(0.0, 1e6), min_size=n, max_size=n)))
    return {"open_time": times, "open": price, "high": high, "low": low, "close": close, "volume": volume}


@settings(max_examples=60, deadline=None)
@given(series=clean_series(), data=st.data())
def test_one_corruption_is_found_at_its_row(series: dict[str, np.ndarray], data: st.DataObject) -> None:
    frame = pd.DataFrame(series)
    clean = validate_candles(frame, timeframe="1h", spike_threshold=10.0)
    assert clean.ok
    assert clean.missing_bars == int((np.diff(series["open_time"]) // HOUR_MS - 1).sum())
    i = data.draw(st.integers(0, len(frame) - 1))
    column, value, kind = data.draw(
        st.sampled_from(
            [
                ("volume", -1.0, "negative_volume"),
                ("low", -5.0, "non_positive_price"),
                ("close", float("nan"), "non_finite"),
                ("high", 0.5, "high_below_low"),
            ]
        )
    )
    broken = frame.copy()
    broken.loc[i, column] = value if column != "high" else broken.loc[i, "low"] * value
    report = validate_candles(broken, timeframe="1h", spike_threshold=10.0)
    assert (kind, i + 1) in kinds_rows(report.errors)
    assert {e.row for e in report.errors} == {i + 1}
