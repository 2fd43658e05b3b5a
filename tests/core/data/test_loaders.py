"""load_candles / load_binance_kline_archive: every layout and time encoding, real files in place."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeready_core.data import (
    BINANCE_KLINE_COLUMNS,
    Candles,
    infer_from_filename,
    load_binance_kline_archive,
    load_candles,
    load_candles_with_report,
)
from tradeready_core.errors import DataFormatError, DataValidationError, InvalidParameterError

HOUR_MS = 3_600_000
JAN_2024 = 1_704_067_200_000
JAN_2025 = 1_735_689_600_000  # 2025-01-01T00:00:00Z: Binance spot files switch to microseconds

Rows = list[tuple[int, float, float, float, float, float]]
MakeRows = Callable[..., Rows]


def iso(ms: int, fmt: str = "%Y-%m-%dT%H:%M:%SZ", tz: str = "UTC") -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").tz_convert(tz).strftime(fmt)


def plain_csv(rows: Rows, time_text: Callable[[int], str], header: str = "open_time") -> str:
    lines = [f"{header},open,high,low,close,volume"]
    lines += [f"{time_text(t)},{o},{h},{lo},{c},{v}" for t, o, h, lo, c, v in rows]
    return "\n".join(lines) + "\n"


def binance_lines(rows: Rows, *, unit: str = "ms", step: int = HOUR_MS) -> list[str]:
    """Binance kline CSV lines (12 columns); ``unit="auto"`` uses µs from 2025-01-01 on, like the dumps."""
    out = []
    for t, o, h, lo, c, v in rows:
        micro = unit == "us" or (unit == "auto" and t >= JAN_2025)
        scale = 1000 if micro else 1
        open_t, close_t = t * scale, (t + step) * scale - 1
        out.append(f"{open_t},{o:.8f},{h:.8f},{lo:.8f},{c:.8f},{v:.8f},{close_t},{v * c:.8f},42,{v / 2:.8f},0,0")
    return out


def assert_matches(candles: Candles, rows: Rows) -> None:
    table = np.array(rows, dtype=np.float64)
    np.testing.assert_array_equal(candles.open_time, table[:, 0].astype(np.int64))
    for k, name in enumerate(("open", "high", "low", "close", "volume"), start=1):
        np.testing.assert_allclose(getattr(candles, name), table[:, k], rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------- real files in place


@pytest.mark.parametrize(
    ("name", "rows", "first", "last"),
    [
        ("BTCUSDT-1h.csv", 44_080, "2021-04-04T20:00:00Z", "2026-04-15T23:00:00Z"),
        ("ETHUSDT-1h.csv", 44_080, "2021-04-04T20:00:00Z", "2026-04-15T23:00:00Z"),
        ("SOLUSDT-1h.csv", 49_750, "2020-08-11T06:00:00Z", "2026-04-15T23:00:00Z"),
        ("BTCUSDT-1m.csv", 50_000, "2025-01-01T03:00:00Z", "2025-02-04T20:19:00Z"),
        ("ETHUSDT-1m.csv", 50_000, "2025-01-01T03:00:00Z", "2025-02-04T20:19:00Z"),
    ],
)
def test_real_files_load_with_inferred_symbol_and_timeframe(
    market_dir: Path, name: str, rows: int, first: str, last: str
) -> None:
    candles = load_candles(market_dir / name)
    symbol, timeframe = name.removesuffix(".csv").split("-")
    assert (candles.symbol, candles.timeframe, candles.source) == (symbol, timeframe, "file")
    assert len(candles) == rows
    assert candles.open_time[0] == pd.Timestamp(first).value // 1_000_000
    assert candles.open_time[-1] == pd.Timestamp(last).value // 1_000_000


def test_real_file_first_row_values(btc_1h: Candles) -> None:
    # 2021-04-04T20:00:00Z,57953.86,58051.25,57826.16,58025.11,1240.209016 (README example)
    assert btc_1h.open[0] == 57953.86
    assert btc_1h.high[0] == 58051.25
    assert btc_1h.low[0] == 57826.16
    assert btc_1h.close[0] == 58025.11
    assert btc_1h.volume[0] == 1240.209016


def test_real_zero_volume_halt_bar_is_kept(btc_1h: Candles) -> None:
    halt = btc_1h.slice("2023-03-24T12:00Z", "2023-03-24T13:00Z")
    assert len(halt) == 1
    assert halt.volume[0] == 0.0
    assert halt.open[0] == halt.high[0] == halt.low[0] == halt.close[0]


# -------------------------------------------------------------------------- plain OHLCV encodings


@pytest.mark.parametrize(
    ("header", "encode"),
    [
        ("open_time", lambda ms: iso(ms)),
        ("timestamp", lambda ms: iso(ms, "%Y-%m-%d %H:%M:%S")),
        ("Date", lambda ms: iso(ms, "%Y-%m-%d %H:%M:%S+00:00")),
        ("datetime", lambda ms: iso(ms, "%Y-%m-%d %H:%M:%S%z", "Asia/Tokyo")),
        ("TIME", lambda ms: iso(ms, "%Y-%m-%dT%H:%M:%S.000-05:00", "Etc/GMT+5")),
        ("timestamp", lambda ms: str(ms // 1000)),
        ("timestamp", lambda ms: f"{ms // 1000}.0"),
        ("Open_Time", lambda ms: str(ms)),
        ("open time", lambda ms: str(ms * 1000)),
        ("timestamp", lambda ms: str(ms * 1_000_000)),
    ],
    ids=["iso-z", "naive", "offset-0", "offset+9", "offset-5-frac", "s", "s-float", "ms", "us", "ns"],
)
def test_plain_csv_time_encodings(
    tmp_path: Path, make_rows: MakeRows, header: str, encode: Callable[[int], str]
) -> None:
    rows = make_rows(30)
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text(plain_csv(rows, encode, header=header))
    candles = load_candles(path)
    assert (candles.symbol, candles.timeframe, candles.source) == ("BTCUSDT", "1h", "file")
    assert_matches(candles, rows)


def test_naive_times_are_read_in_the_given_timezone(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(10)
    path = tmp_path / "prices.csv"
    path.write_text(plain_csv(rows, lambda ms: iso(ms, "%Y-%m-%d %H:%M:%S", "Europe/Berlin")))
    candles = load_candles(path, symbol="BTCUSDT", tz="Europe/Berlin")
    assert_matches(candles, rows)
    # read as UTC the same text is one hour late (Berlin is UTC+1 in January)
    shifted = load_candles(path, symbol="BTCUSDT")
    assert shifted.open_time[0] == rows[0][0] + HOUR_MS


def test_unknown_timezone_is_rejected(tmp_path: Path, make_rows: MakeRows) -> None:
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text(plain_csv(make_rows(5), iso))
    with pytest.raises(InvalidParameterError, match="Mars/Olympus"):
        load_candles(path, tz="Mars/Olympus")


def test_newest_first_file_is_sorted(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(20)
    path = tmp_path / "BTCUSDT-1h.csv"
    text = plain_csv(rows, iso).splitlines()
    path.write_text("\n".join([text[0], *reversed(text[1:])]) + "\n")
    candles, report = load_candles_with_report(path)
    assert_matches(candles, rows)
    assert report.ok
    assert report.issues == ()


def test_semicolon_bom_and_blank_lines(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(6)
    lines = plain_csv(rows, iso).replace(",", ";").splitlines()
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_bytes(("\ufeff\n" + "\n".join([*lines[:3], "", *lines[3:]]) + "\n\n").encode())
    candles = load_candles(path)
    assert_matches(candles, rows)


def test_cryptodatadownload_layout(tmp_path: Path, make_rows: MakeRows) -> None:
    """Banner line, newest-first, seconds (float) and ms mixed, 'Volume BTC'/'Volume USDT', symbol column."""
    rows = make_rows(24)
    lines = ["https://www.CryptoDataDownload.com", "unix,date,symbol,open,high,low,close,Volume USDT,Volume BTC"]
    body = []
    for i, (t, o, h, lo, c, v) in enumerate(rows):
        unix = f"{t // 1000}.0" if i < 12 else str(t)
        body.append(f"{unix},{iso(t, '%Y-%m-%d %I-%p')},BTC/USDT,{o},{h},{lo},{c},{v * c},{v}")
    path = tmp_path / "cdd_export.csv"
    path.write_text("\n".join(lines + body[::-1]) + "\n")
    candles = load_candles(path)
    assert (candles.symbol, candles.timeframe) == ("BTCUSDT", "1h")
    assert_matches(candles, rows)


def test_close_time_only_export_is_converted_to_open_time(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(12)
    text = plain_csv(rows, lambda ms: iso(ms + HOUR_MS - 1, "%Y-%m-%d %H:%M:%S.%f+00:00"), header="close_datetime")
    path = tmp_path / "ETHUSDT_1h.csv"
    path.write_text(text)
    candles = load_candles(path)
    assert candles.symbol == "ETHUSDT"
    assert_matches(candles, rows)


def test_parquet_and_dataframe(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(25)
    frame = pd.DataFrame(rows, columns=["timestamp", "Open", "High", "Low", "Close", "Volume"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    path = tmp_path / "SOLUSDT-1h.parquet"
    frame.to_parquet(path)
    from_parquet = load_candles(path)
    assert (from_parquet.symbol, from_parquet.timeframe) == ("SOLUSDT", "1h")
    assert_matches(from_parquet, rows)
    from_frame = load_candles(frame, symbol="SOLUSDT")
    assert from_frame == from_parquet
    indexed = frame.set_index("timestamp")
    assert load_candles(indexed, symbol="SOLUSDT") == from_parquet


def test_dataframe_with_naive_datetimes_uses_tz(make_rows: MakeRows) -> None:
    rows = make_rows(8)
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    frame["date"] = pd.to_datetime(frame["date"], unit="ms") + pd.Timedelta(hours=2)  # naive, in UTC+2
    candles = load_candles(frame, symbol="X", tz="Etc/GMT-2")
    assert_matches(candles, rows)


def test_frame_round_trip(btc_1h: Candles) -> None:
    part = btc_1h.slice("2022-01-01", "2022-02-01")
    assert load_candles(part.to_frame(), symbol="BTCUSDT") == part


# ---------------------------------------------------------------------------------- Binance klines


@pytest.mark.parametrize("unit", ["ms", "us"])
def test_binance_headerless_csv(tmp_path: Path, make_rows: MakeRows, unit: str) -> None:
    rows = make_rows(48)
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text("\n".join(binance_lines(rows, unit=unit)) + "\n")
    candles = load_candles(path)
    assert (candles.symbol, candles.timeframe, candles.source) == ("BTCUSDT", "1h", "binance")
    assert_matches(candles, rows)


def test_binance_csv_with_header_row(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(10)
    path = tmp_path / "ETHUSDT-1h-2023-10-27.csv"
    path.write_text("\n".join([",".join(BINANCE_KLINE_COLUMNS), *binance_lines(rows)]) + "\n")
    candles = load_candles(path)
    assert (candles.symbol, candles.source) == ("ETHUSDT", "binance")
    assert_matches(candles, rows)


def test_binance_history_spanning_2024_to_2025_mixes_ms_and_us(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(48, start=JAN_2025 - 24 * HOUR_MS)
    lines = binance_lines(rows, unit="auto")
    assert len(lines[0].split(",")[0]) == 13 and len(lines[-1].split(",")[0]) == 16
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text("\n".join(lines) + "\n")
    candles, report = load_candles_with_report(path)
    assert_matches(candles, rows)
    assert report.gaps == ()


def zip_bytes(member: str, lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, "\n".join(lines) + "\n")
    return buffer.getvalue()


def test_binance_zip_with_microseconds(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(72, start=JAN_2025)
    data = zip_bytes("BTCUSDT-1h-2025-01.csv", binance_lines(rows, unit="us"))
    path = tmp_path / "BTCUSDT-1h-2025-01.zip"
    path.write_bytes(data)
    candles = load_candles(path)
    assert (candles.symbol, candles.timeframe, candles.source) == ("BTCUSDT", "1h", "binance")
    assert_matches(candles, rows)
    assert load_binance_kline_archive(data) == candles
    assert load_binance_kline_archive(path) == candles


def test_binance_archive_rows_are_line_numbers_of_the_inner_csv(make_rows: MakeRows) -> None:
    rows = make_rows(10)
    lines = binance_lines(rows)
    fields = lines[6].split(",")
    fields[2], fields[3] = fields[3], fields[2]  # high < low on line 7
    lines[6] = ",".join(fields)
    with pytest.raises(DataValidationError, match=r"row 7: high .* < low") as info:
        load_binance_kline_archive(zip_bytes("SOLUSDT-1h-2024-02.csv", lines))
    assert [i.row for i in info.value.issues if i.kind == "high_below_low"] == [7]


def test_binance_archive_rejects_other_layouts(make_rows: MakeRows) -> None:
    data = zip_bytes("BTCUSDT-1h-2024-01.csv", plain_csv(make_rows(5), iso).splitlines())
    with pytest.raises(DataFormatError, match="12 columns; got 6"):
        load_binance_kline_archive(data)
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "1\n")
        archive.writestr("b.csv", "1\n")
    with pytest.raises(DataFormatError, match=r"exactly one \.csv file; got \['a.csv', 'b.csv'\]"):
        load_binance_kline_archive(two.getvalue())
    with pytest.raises(DataFormatError, match="not a valid ZIP"):
        load_binance_kline_archive(b"PK\x03\x04 not really a zip")


# ------------------------------------------------------------------------ symbol/timeframe inference


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BTCUSDT-1h-2024-01.zip", ("BTCUSDT", "1h")),
        ("BTCUSDT-1m-2023-10-27.csv", ("BTCUSDT", "1m")),
        ("BTCUSDT-1h.csv", ("BTCUSDT", "1h")),
        ("ETH_USDT_1h.csv", ("ETHUSDT", "1h")),
        ("Binance_BTCUSDT_1d.csv", ("BTCUSDT", "1d")),
        ("/some/dir/solusdt-15m.parquet", ("SOLUSDT", "15m")),
        ("BNBUSDT-1mo-2024-01.zip", ("BNBUSDT", "1mo")),
        ("prices.csv", (None, None)),
    ],
)
def test_infer_from_filename(name: str, expected: tuple[str | None, str | None]) -> None:
    assert infer_from_filename(name) == expected


def test_timeframe_inferred_from_spacing_when_the_name_has_none(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(12, step=15 * 60_000)
    path = tmp_path / "prices.csv"
    path.write_text(plain_csv(rows, iso))
    candles = load_candles(path, symbol="BTCUSDT")
    assert candles.timeframe == "15m"


def test_timeframe_that_cannot_be_inferred_is_an_error(tmp_path: Path, make_rows: MakeRows) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(plain_csv(make_rows(12, step=2 * HOUR_MS), iso))
    with pytest.raises(InvalidParameterError, match=r"median spacing of open times is 7200000 ms"):
        load_candles(path, symbol="BTCUSDT")
    one = tmp_path / "one.csv"
    one.write_text(plain_csv(make_rows(1), iso))
    with pytest.raises(InvalidParameterError, match="fewer than 2 distinct times; pass timeframe="):
        load_candles(one, symbol="BTCUSDT")
    assert load_candles(one, symbol="BTCUSDT", timeframe="1h").timeframe == "1h"


def test_timeframe_contradicting_the_data_is_an_error(tmp_path: Path, make_rows: MakeRows) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"  # the name says 1m, the data is hourly
    path.write_text(plain_csv(make_rows(12), iso))
    with pytest.raises(DataFormatError, match=r"timeframe is '1m' \(from the file name\) but .* is 1h"):
        load_candles(path)
    assert load_candles(path, timeframe="1h").timeframe == "1h"


def test_unsupported_timeframe_in_name(tmp_path: Path, make_rows: MakeRows) -> None:
    path = tmp_path / "BTCUSDT-3m-2024-01.csv"
    path.write_text("\n".join(binance_lines(make_rows(5, step=180_000), step=180_000)) + "\n")
    with pytest.raises(InvalidParameterError, match=r"must be one of .*; got '3m'"):
        load_candles(path)


def test_symbol_required_when_it_cannot_be_inferred(tmp_path: Path, make_rows: MakeRows) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(plain_csv(make_rows(5), iso))
    with pytest.raises(InvalidParameterError, match="cannot infer the symbol"):
        load_candles(path)
    frame = pd.DataFrame(make_rows(5), columns=["timestamp", "open", "high", "low", "close", "volume"])
    frame["ticker"] = ["BTCUSDT"] * 4 + ["ETHUSDT"]
    with pytest.raises(DataFormatError, match=r"several symbols \['BTCUSDT', 'ETHUSDT'\]"):
        load_candles(frame)


# --------------------------------------------------------------------------------- format errors


def test_format_errors_name_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text("when,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n")
    with pytest.raises(DataFormatError, match="no header with a time column"):
        load_candles(path)
    path.write_text("timestamp,open,high,low,close\n2024-01-01,1,1,1,1\n")
    with pytest.raises(DataFormatError, match=r"missing column 'volume'; got columns"):
        load_candles(path)
    path.write_text("1704067200000,1,1,1\n")
    with pytest.raises(DataFormatError, match="at least 6 columns"):
        load_candles(path)
    path.write_text("timestamp,open,high,low,close,volume\n")
    with pytest.raises(Exception, match="no candle rows"):
        load_candles(path)
    with pytest.raises(DataFormatError, match="no such candle file"):
        load_candles(tmp_path / "missing.csv")
    with pytest.raises(InvalidParameterError, match="got int"):
        load_candles(42)  # type: ignore[arg-type]


def test_unparseable_times_are_reported_with_rows(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(6)
    lines = plain_csv(rows, iso).splitlines()
    lines[3] = "03/01/2024 02:00," + lines[3].split(",", 1)[1]  # line 4: not ISO-8601
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataValidationError, match=r"row 4: time '03/01/2024 02:00' is not a valid time") as info:
        load_candles(path)
    assert [i.row for i in info.value.issues] == [4]


def test_epoch_values_too_small_for_any_unit_are_invalid(tmp_path: Path, make_rows: MakeRows) -> None:
    rows = make_rows(6)
    path = tmp_path / "BTCUSDT-1h.csv"
    path.write_text(plain_csv(rows, lambda ms: "17" if ms == rows[4][0] else str(ms)))
    with pytest.raises(DataValidationError, match=r"row 6: time 17 is not a valid time") as info:
        load_candles(path)
    assert [(i.kind, i.row) for i in info.value.issues] == [("invalid_time", 6)]
