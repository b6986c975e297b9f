"""Loaders read every bundled real data file into Decimal model records."""

from __future__ import annotations

import itertools
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tradeguard.marketdata.errors import DataFileError
from tradeguard.marketdata.events import BookDelta, BookSnapshot
from tradeguard.marketdata.loaders import (
    default_data_dir,
    load_book_events,
    load_candles,
    load_quotes,
    load_trades,
    symbol_from_path,
)
from tradeguard.model.errors import TradeguardError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CANDLES = DATA / "candles"
BOOKS = DATA / "orderbook"

# Binance's trade files (data.binance.vision) are in microseconds from 2025-01-01 on
US_2025 = 1_735_689_600_000_000  # 2025-01-01 00:00 UTC in microseconds
MS_2025 = US_2025 // 1000

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"market data not found at {DATA}")


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso + "+00:00").timestamp() * 1000)


def test_btc_perp_csv_loads_all_rows_with_base_volume():
    candles = load_candles(CANDLES / "BTC-PERP_1m_20211231-20220201.csv")
    assert len(candles) == 45_031
    first, last = candles[0], candles[-1]
    assert first.symbol == "BTC/USD"
    assert first.interval_s == 60
    assert first.ts == _ms("2021-12-31 23:01")
    assert last.ts == _ms("2022-02-01 05:31")
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("46319.0"),
        Decimal("46385.0"),
        Decimal("46319.0"),
        Decimal("46377.0"),
    )
    # The file's volume is USD; base volume is USD / close, to 1e-8 BTC.
    assert first.volume == (Decimal("2300413.7295") / Decimal("46377.0")).quantize(Decimal("1e-8"))
    assert first.volume == Decimal("49.60246953")
    assert all(type(c.close) is Decimal and type(c.volume) is Decimal for c in candles)


def test_symbol_argument_overrides_the_file_name():
    candles = load_candles(CANDLES / "binance_ADABTC_1m_2021-11-27.csv", symbol="ADA/XBT")
    assert {c.symbol for c in candles} == {"ADA/XBT"}


def test_binance_kline_csv_without_header_loads_base_volume():
    candles = load_candles(CANDLES / "binance_ADABTC_1m_2021-11-27.csv")
    assert len(candles) == 10
    assert candles[0].symbol == "ADA/BTC"
    assert candles[0].interval_s == 60
    assert candles[0].ts == 1637971200000
    assert candles[-1].ts == 1637971740000
    assert candles[0].close == Decimal("0.00002854")
    assert candles[0].volume == Decimal("36304.20000000")


@pytest.mark.parametrize(
    ("name", "symbol", "rows"),
    [
        ("ETH_BTC-5m.feather", "ETH/BTC", 5760),
        ("ADA_BTC-5m.feather", "ADA/BTC", 5720),
        ("LTC_BTC-5m.feather", "LTC/BTC", 5760),
        ("XLM_BTC-5m.feather", "XLM/BTC", 5760),
        ("TRX_BTC-5m.feather", "TRX/BTC", 5754),
        ("ETC_BTC-5m.feather", "ETC/BTC", 5759),
        ("NXT_BTC-5m.feather", "NXT/BTC", 5760),
        ("XRP_ETH-5m.feather", "XRP/ETH", 706),
        ("XRP_ETH-1m.feather", "XRP/ETH", 2469),
    ],
)
def test_freqtrade_feather_candles_load(name: str, symbol: str, rows: int):
    candles = load_candles(CANDLES / name)
    assert len(candles) == rows
    assert candles[0].symbol == symbol
    assert candles[0].interval_s == (60 if "-1m" in name else 300)
    assert all(b.ts > a.ts for a, b in itertools.pairwise(candles))
    assert all(type(c.open) is Decimal for c in candles)


def test_feather_timestamps_and_values_are_exact():
    eth = load_candles(CANDLES / "ETH_BTC-5m.feather")
    assert eth[0].ts == _ms("2018-01-10 04:55")
    assert eth[-1].ts == _ms("2018-01-30 04:50")
    assert eth[0].close == Decimal("0.0994766")
    assert eth[0].volume == Decimal("1820.54447418")
    # Stored as the float 0.09946999000000001: the float noise is dropped.
    assert eth[1].open == Decimal("0.09946999")
    xrp = load_candles(CANDLES / "XRP_ETH-1m.feather")
    assert xrp[0].ts == _ms("2019-10-11 00:00")
    assert xrp[0].open == Decimal("0.00141342")


def test_freqtrade_trades_parquet_loads_with_aggressor_side():
    trades = load_trades(DATA / "trades" / "XRP_ETH-trades.parquet")
    assert len(trades) == 12_477
    first = trades[0]
    assert first.symbol == "XRP/ETH"
    assert (first.ts, first.trade_id, first.side) == (1570752011620, "13519807", "sell")
    assert first.price == Decimal("0.00141342")
    assert first.amount == Decimal("23")
    assert trades[-1].ts == 1570965568844


def test_binance_trades_parquet_maps_buyer_maker_to_sell():
    trades = load_trades(DATA / "trades" / "binance_BTCUSDT_trades.parquet")
    assert len(trades) == 2001
    first, second = trades[0], trades[1]
    assert first.symbol == "BTC/USDT"
    assert first.ts == 1610064000278
    assert (first.trade_id, first.price, first.amount) == (
        "553287559",
        Decimal("39432.48"),
        Decimal("0.000263"),
    )
    assert first.side == "sell"  # buyer_maker=True: the seller crossed the spread
    assert second.side == "buy"
    assert trades[-1].amount == Decimal("0.014596")


def test_quotes_parquet_loads():
    quotes = load_quotes(BOOKS / "binance_BTCUSDT_quotes.parquet")
    assert len(quotes) == 451
    q = quotes[0]
    assert (q.symbol, q.ts) == ("BTC/USDT", 1610064001076)
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == (
        Decimal("39432.99"),
        Decimal("0.0031"),
        Decimal("39433.62"),
        Decimal("0.066851"),
    )
    assert quotes[-1].ts == 1610064046674


def test_binance_depth_pair_loads_as_snapshot_then_delta_batch():
    events = load_book_events(
        [BOOKS / "binance_BTCUSDT_depth_snapshot.csv", BOOKS / "binance_BTCUSDT_depth_updates.csv"]
    )
    snap, delta = events
    assert isinstance(snap, BookSnapshot)
    assert (snap.symbol, snap.ts, snap.seq) == ("BTC/USDT", 1667346579146, 2098021528332)
    assert len(snap.bids) == 100 and snap.asks == ()
    assert snap.bids[0] == (Decimal("20377.00"), Decimal("1.770"))
    assert isinstance(delta, BookDelta)
    assert (delta.first_seq, delta.seq, delta.prev_seq) == (
        2098041693435,
        2098041696700,
        2098041693400,
    )
    assert (len(delta.bids), len(delta.asks)) == (23, 77)


def test_tardis_snapshots_load_25_levels_in_ms():
    events = load_book_events(BOOKS / "binance-futures_BTCUSDT_book_snapshot_25.csv")
    assert len(events) == 10
    first = events[0]
    assert isinstance(first, BookSnapshot)
    assert first.symbol == "BTC/USDT"
    assert first.ts == 1598918403696  # file holds microseconds
    assert events[-1].ts == 1598918404005
    assert (len(first.bids), len(first.asks)) == (25, 25)
    assert first.asks[0] == (Decimal("11657.08"), Decimal("1.714"))
    assert first.bids[0] == (Decimal("11657.07"), Decimal("10.896"))


def test_bybit_zip_loads_snapshot_then_deltas():
    events = load_book_events(BOOKS / "bybit_XRPUSDT_ob500.data.zip")
    assert len(events) == 50
    assert isinstance(events[0], BookSnapshot)
    assert all(isinstance(e, BookDelta) for e in events[1:])
    snap = events[0]
    assert (snap.symbol, snap.ts, snap.seq) == ("XRP/USDT", 1733011200691, 20254869)
    assert (len(snap.bids), len(snap.asks)) == (500, 500)
    assert snap.bids[0] == (Decimal("1.9531"), Decimal("6203"))
    assert events[-1].seq == 20254918


def test_symbol_is_derived_from_file_names():
    assert symbol_from_path("BTC-PERP_1m_20211231-20220201.csv") == "BTC/USD"
    assert symbol_from_path("binance_ADABTC_1m_2021-11-27.csv") == "ADA/BTC"
    assert symbol_from_path("XRP_ETH-trades.parquet") == "XRP/ETH"
    assert symbol_from_path("bybit_XRPUSDT_ob500.data.zip") == "XRP/USDT"
    with pytest.raises(DataFileError, match="pass symbol="):
        symbol_from_path("candles.csv")


def test_missing_file_names_the_path_and_the_way_out(tmp_path: Path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataFileError) as info:
        load_candles(missing)
    assert isinstance(info.value, TradeguardError)
    assert str(missing) in str(info.value)
    assert "TG_DATA_DIR" in str(info.value)
    for loader in (load_trades, load_quotes, load_book_events):
        with pytest.raises(DataFileError, match="file not found"):
            loader(missing)


def test_bad_csv_row_names_file_row_column_and_value(tmp_path: Path):
    bad = tmp_path / "BTC-PERP_1m_bad.csv"
    bad.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2021-12-31 23:01:00.000000,46319.0,46385.0,46319.0,46377.0,2300413.7295\n"
        "2021-12-31 23:02:00.000000,46377.0,abc,46377.0,46411.0,1829623.1938\n"
    )
    with pytest.raises(DataFileError) as info:
        load_candles(bad)
    err = info.value
    assert (err.row, err.column, err.value) == (3, "high", "abc")
    assert str(bad) in str(err) and "row 3" in str(err) and "'abc'" in str(err)


def test_bad_timestamp_and_inconsistent_bar_are_reported(tmp_path: Path):
    bad = tmp_path / "BTC-PERP_1m_bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\nyesterday,1,2,1,1,5\n")
    with pytest.raises(DataFileError) as info:
        load_candles(bad)
    assert (info.value.row, info.value.column) == (2, "timestamp")
    bad.write_text("timestamp,open,high,low,close,volume\n2022-01-01 00:00:00,1,2,1,3,5\n")
    with pytest.raises(DataFileError, match=r"row 2.*close 3"):
        load_candles(bad)


def test_bad_kline_row_names_the_column(tmp_path: Path):
    bad = tmp_path / "binance_ADABTC_1m.csv"
    bad.write_text("1637971200000,0.1,0.2,0.1,0.1,-5,1637971259999,1,1,1,1,0\n")
    with pytest.raises(DataFileError) as info:
        load_candles(bad)
    assert (info.value.row, info.value.column, info.value.value) == (1, "volume", "-5")


def test_bad_parquet_record_names_row_and_column(tmp_path: Path):
    path = tmp_path / "XRP_ETH-trades.parquet"
    table = pa.table(
        {
            "timestamp": [MS_2025, MS_2025 + 1],
            "id": ["a", "b"],
            "type": ["None", "None"],
            "side": ["buy", "sell"],
            "price": [1.5, float("nan")],
            "amount": [1.0, 2.0],
            "cost": [1.5, 1.0],
        }
    )
    pq.write_table(table, path)
    with pytest.raises(DataFileError) as info:
        load_trades(path)
    assert (info.value.row, info.value.column) == (2, "price")


@pytest.mark.parametrize(
    ("columns", "bad_column", "bad_value"),
    [
        ({"id": ["a", "b"], "side": ["buy", "hold"], "amount": [1.0, 2.0]}, "side", "hold"),
        (
            {"trade_id": [1, 2], "quantity": [1.0, 2.0], "buyer_maker": [True, None]},
            "buyer_maker",
            None,
        ),
    ],
)
def test_bad_trade_side_names_row_column_and_value(
    tmp_path: Path, columns: dict[str, list[object]], bad_column: str, bad_value: object
):
    path = tmp_path / "XRP_ETH-trades.parquet"
    times = [MS_2025, MS_2025 + 1]
    pq.write_table(pa.table({"timestamp": times, "price": [1.5, 1.6], **columns}), path)
    with pytest.raises(DataFileError) as info:
        load_trades(path)
    assert (info.value.row, info.value.column, info.value.value) == (2, bad_column, bad_value)


def test_bad_bybit_line_names_the_line(tmp_path: Path):
    path = tmp_path / "bybit_XRPUSDT_ob500.data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "x.data",
            '{"type":"snapshot","ts":1,"data":{"s":"XRPUSDT","b":[["1.0","5"]],"a":[],"u":1}}\n'
            '{"type":"delta","ts":2,"data":{"s":"XRPUSDT","b":[["oops","5"]],"a":[],"u":2}}\n',
        )
    with pytest.raises(DataFileError, match=r"row 2.*oops"):
        load_book_events(path)


def test_default_data_dir_honours_env_and_finds_shared_data(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("TG_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.setenv("TG_DATA_DIR", str(tmp_path / "absent"))
    with pytest.raises(DataFileError, match="TG_DATA_DIR"):
        default_data_dir()
    monkeypatch.delenv("TG_DATA_DIR")
    monkeypatch.chdir(tmp_path)  # not next to shared/: falls back to the repo root
    assert default_data_dir() == DATA.resolve()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"symbol,timestamp,first_update_id\n\xff\xfe,1,2\n", "not UTF-8 text"),
        (b"symbol,timestamp\x00,first_update_id\n", "binary data"),
        (b"", "file is empty"),
        (b"symbol,timestamp,first_update_id,last_update_id\nBTCUSDT,1,2", "no line end"),
    ],
    ids=["not-utf8", "binary", "empty", "cut-short"],
)
def test_a_book_csv_that_is_not_clean_text_is_one_error(tmp_path: Path, content, needle):
    path = tmp_path / "binance_BTCUSDT_depth.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=needle):
        load_book_events(path)


def test_trades_out_of_time_order_name_the_record(tmp_path: Path):
    path = tmp_path / "XRP_ETH-trades.parquet"
    table = pa.table(
        {
            "timestamp": [MS_2025 + t for t in (1, 5, 5, 3)],
            "id": ["a", "b", "c", "d"],
            "type": ["None"] * 4,
            "side": ["buy", "sell", "buy", "sell"],
            "price": [1.5, 1.5, 1.5, 1.5],
            "amount": [1.0, 2.0, 1.0, 1.0],
            "cost": [1.5, 3.0, 1.5, 1.5],
        }
    )
    pq.write_table(table, path)
    with pytest.raises(
        DataFileError, match=rf"row 4, column 'timestamp', value {MS_2025 + 3}: .*backwards"
    ):
        load_trades(path)
    pq.write_table(table.slice(0, 3), path)  # equal times (one match, several trades) are fine
    assert [t.ts - MS_2025 for t in load_trades(path)] == [1, 5, 5]


def _binance_trades(path: Path, times: list[int]) -> Path:
    n = len(times)
    table = pa.table({"timestamp": times, "trade_id": list(range(1, n + 1)),
                      "price": [94000.5] * n, "quantity": [0.01] * n,
                      "buyer_maker": [True] * n})  # fmt: skip
    pq.write_table(table, path)
    return path


def _quotes(path: Path, times: list[int]) -> Path:
    n = len(times)
    pq.write_table(pa.table({"timestamp": times, "bid": [1.0] * n, "bid_size": [1.0] * n,
                             "ask": [1.1] * n, "ask_size": [1.0] * n}), path)  # fmt: skip
    return path


def test_trade_and_quote_files_in_microseconds_load_as_ms(tmp_path: Path):
    # the unit is the first row's, as for klines: a µs file read as ms lands in year 56,970
    times = [US_2025, US_2025 + 1_500, US_2025 + 2_000_999]
    trades = load_trades(_binance_trades(tmp_path / "BTCUSDT-trades.parquet", times), "BTC/USDT")
    assert [t.ts for t in trades] == [MS_2025, MS_2025 + 1, MS_2025 + 2_000]
    quotes = load_quotes(_quotes(tmp_path / "BTC_USDT-quotes.parquet", times))
    assert [q.ts for q in quotes] == [MS_2025, MS_2025 + 1, MS_2025 + 2_000]
    ms = load_trades(_binance_trades(tmp_path / "ms.parquet", [MS_2025, MS_2025 + 1]), "BTC/USDT")
    assert [t.ts for t in ms] == [MS_2025, MS_2025 + 1]


@pytest.mark.parametrize(
    ("times", "row", "hint"),
    [
        ([MS_2025, US_2025 + 1_000], 2, "reads as microseconds, and row 1's trade time as ms"),
        ([US_2025, MS_2025 + 1], 2, "reads as milliseconds, and row 1's trade time as µs"),
        ([MS_2025 // 1000], 1, "it reads as seconds"),
        ([US_2025 * 1000], 1, "it reads as nanoseconds"),
        ([5], 1, ""),
    ],
    ids=["us-after-ms", "ms-after-us", "seconds", "nanoseconds", "epoch-start"],
)
def test_a_trade_time_out_of_range_names_file_row_value_and_limit(
    tmp_path: Path, times: list[int], row: int, hint: str
):
    path = _binance_trades(tmp_path / "BTCUSDT-trades.parquet", times)
    with pytest.raises(DataFileError) as info:
        load_trades(path, "BTC/USDT")
    err = info.value
    assert (err.row, err.column, err.value) == (row, "timestamp", times[row - 1])
    text = str(err)
    assert str(path) in text and "out of range" in text and "2100-01-01" in text, text
    assert "2009-01-01" in text and hint in text, text
    with pytest.raises(DataFileError, match=r"quote time .* out of range"):
        load_quotes(_quotes(tmp_path / "BTC_USDT-quotes.parquet", times))


def test_a_data_dir_in_the_home_of_no_user_is_a_config_error(monkeypatch, tmp_path, capsys):
    """`TG_DATA_DIR=~nosuchuser/x` named nobody's home: the backtest died in a traceback."""
    from cli_support import run_cli

    cfg = tmp_path / "bt.toml"
    cfg.write_text('mode = "backtest"\n[[data]]\npath = "candles/ETH_BTC-5m.feather"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TG_DATA_DIR", "~nosuchuser4711/x")
    done = run_cli(capsys, "backtest", "--config", str(cfg))
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "$TG_DATA_DIR" in line and "'~nosuchuser4711/x'" in line, line
    assert "nosuchuser4711" in line.split("'~nosuchuser4711/x'", 1)[1], line


def test_a_data_path_in_the_home_of_no_user_is_a_config_error(monkeypatch, tmp_path, capsys):
    """`[[data]] path = "~nosuchuser/x"` as `$TG_DATA_DIR` alike: a traceback and exit 1 from
    the loader's Path.expanduser before, now exit 2 naming the field, the value and the user."""
    from cli_support import run_cli

    cfg = tmp_path / "bt.toml"
    cfg.write_text('mode = "backtest"\n[[data]]\npath = "~nosuchuser4711/x.feather"\n')
    monkeypatch.chdir(tmp_path)
    for command in (["backtest", "--config", str(cfg)], ["config", "check", str(cfg)]):
        done = run_cli(capsys, *command)
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr
        line = done.stderr.strip()
        assert "path" in line and "'~nosuchuser4711/x.feather'" in line, line
        assert "~nosuchuser4711: no such user's home folder" in line, line
