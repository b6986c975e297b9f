"""`tradeguard record` captures a replaying sandbox's streams to files the loaders read back."""

from __future__ import annotations

import asyncio
import itertools
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from cli_support import run_cli
from fill_sink import FillSink
from live_support import btc_slice, replaying_sandbox
from tradeguard.cli.record import parse_duration
from tradeguard.clock import SimulatedClock
from tradeguard.marketdata.book import OrderBook
from tradeguard.marketdata.events import BookSnapshot
from tradeguard.marketdata.live.recorder import Recorder
from tradeguard.marketdata.loaders import load_book_events, load_candles, load_quotes, load_trades
from tradeguard.marketdata.replay import replay_sync
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.errors import ConfigError
from tradeguard.model.fill import Fill
from tradeguard.model.instrument import Instrument
from tradeguard.model.order import Order, OrderIntent
from tradeguard.venues.paper import PaperVenue

D = Decimal


async def test_record_writes_candles_trades_and_quotes_in_the_shared_layout(
    tmp_path: Path,
) -> None:
    data = btc_slice(tmp_path, 1200)  # minutes for 90 s: a slow start still finds it playing
    out = tmp_path / "rec"
    async with replaying_sandbox(data, speed=600, history=100) as ex:
        cfg = tmp_path / "rec.toml"
        cfg.write_text(
            'mode = "sandbox"\nstrategies = []\n[[venues]]\nname = "sbx"\nkind = "ccxt"\n'
            f'exchange = "binance"\nrest_url = "{ex.rest_url}"\nws_url = "{ex.ws_url}"\n'
            'symbols = ["BTC/USDT"]\n'
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tradeguard.cli", "record", "--config", str(cfg),
            "--duration", "6s", "--out", str(out), "--book-depth", "5", "--book-every", "0.5",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, stderr.decode()
        replay = ex.replays[0]
    assert "recorded" in stdout.decode()
    candles = load_candles(out / "candles" / "BTC_USDT-1m.feather")
    assert len(candles) >= 5
    for c in candles:  # the replayed bars, on the venue's shifted minutes
        bar = replay.bars[replay.history + (c.ts - replay.start_ms) // 60_000]
        assert (c.symbol, c.open, c.high, c.low, c.close) == (
            "BTC/USDT", bar.open, bar.high, bar.low, bar.close,
        )  # fmt: skip
    trades = load_trades(out / "trades" / "BTC_USDT-trades.parquet")
    by_minute = {c.ts: c for c in candles}
    covered = [t for t in trades if t.ts - t.ts % 60_000 in by_minute]
    assert len(covered) >= 8  # the sandbox prints four trades a bar
    for t in covered:  # every recorded trade lies inside its recorded minute's range
        bar = by_minute[t.ts - t.ts % 60_000]
        assert bar.low <= t.price <= bar.high
    assert len({t.trade_id for t in trades}) == len(trades)
    quotes = load_quotes(out / "orderbook" / "BTC_USDT-quotes.parquet")
    assert quotes and all(q.bid < q.ask for q in quotes)
    assert "book snapshots" in stdout.decode()
    books = load_book_events(out / "orderbook" / "BTC_USDT-book_snapshot_5.parquet")
    assert len(books) >= 3
    assert all(b.ts - a.ts >= 500 for a, b in itertools.pairwise(books)), "one per 0.5 s"
    for b in books:  # the house book around the replayed price, best first, 5 levels at most
        assert isinstance(b, BookSnapshot) and b.symbol == "BTC/USDT"
        assert 1 <= len(b.bids) <= 5 and 1 <= len(b.asks) <= 5
        assert b.bids[0][0] < b.asks[0][0]
        assert [p for p, _ in b.bids] == sorted((p for p, _ in b.bids), reverse=True)
    assert len({(b.bids[0], b.asks[0]) for b in books}) > 1, "the book moved with the replay"


async def test_a_recorded_book_replays_into_a_book_and_paper_fills(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, book_depth=3, book_every_s=1)
    book = OrderBook("BTC/USDT")
    steps = [(0, "100", "101"), (400, "99", "100"), (1_000, "98", "99"), (2_500, "97", "98")]
    for ts, bid, ask in steps:
        book.apply_snapshot(
            [(D(bid), D(1)), (D(bid) - 1, D(2))], [(D(ask), D("0.5")), (D(ask) + 1, D(2))], ts, ts
        )
        await recorder.on_book(book)
    (path,) = recorder.flush()
    assert path.name == "BTC_USDT-book_snapshot_3.parquet"
    events = load_book_events(path)
    assert [e.ts for e in events] == [0, 1_000, 2_500]  # 400 came under a second after 0
    assert events[1].bids == ((D(98), D(1)), (D(97), D(2)))
    assert events[1].asks[0] == (D(99), D("0.5"))
    clock = SimulatedClock(0)
    inst = Instrument("paper", "BTC/USDT", "BTC", "USDT", D("0.01"), D("0.001"))
    paper = PaperVenue("paper", {"BTC/USDT": inst}, {"USDT": D(1000)}, clock)
    fills: list[Fill] = []
    paper.set_listener(FillSink(fills))
    replayed = OrderBook("BTC/USDT")
    for event in replay_sync([events[:1]], clock):
        replayed.apply_snapshot(event.bids, event.asks, event.ts, 1)
        paper.on_book(replayed)
    order = Order.from_intent(
        OrderIntent("s", "paper", "BTC/USDT", Side.BUY, D("0.5"), OrderType.LIMIT,
                    price=D("98.5")),
        "c1", clock.now_ms(),
    )  # fmt: skip
    await paper.submit(order)
    for event in replay_sync([events[1:]], clock):
        replayed.apply_snapshot(event.bids, event.asks, event.ts, 2)
        paper.on_book(replayed)
    assert [(f.price, f.amount) for f in fills] == [(D("98.5"), D("0.5"))]
    assert fills[0].ts == 2_500  # the first recorded ask below 98.5, not the 99 before it


def test_record_duration_reads_units_and_names_a_bad_value() -> None:
    assert [parse_duration(t) for t in ("90s", "30m", "1h", "2d", "5")] == [
        90, 1800, 3600, 172_800, 5,
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=r"record --duration '1y': expected a time like"):
        parse_duration("1y")
    with pytest.raises(ConfigError, match="at most 7 days"):
        parse_duration("8d")


def test_a_bad_recorded_book_row_is_named_not_a_traceback(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tradeguard.marketdata.errors import DataFileError

    path = tmp_path / "BTC_USDT-book_snapshot_1.parquet"
    pq.write_table(
        pa.table(
            {
                "timestamp": [1, 2],
                "symbol": ["BTC/USDT"] * 2,
                "asks[0].price": [101.0, -5.0],
                "asks[0].amount": [1.0, 1.0],
                "bids[0].price": [100.0, 100.0],
                "bids[0].amount": [1.0, 1.0],
            }
        ),
        path,
    )
    with pytest.raises(DataFileError, match=r"row 2.*asks\[0\]\.price") as err:
        load_book_events(path)
    assert "-5" in str(err.value)


@pytest.mark.parametrize("out", ["", "rec.toml", "file/below"])
def test_an_out_that_is_no_folder_is_refused_before_recording(
    tmp_path: Path, out: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out rec.toml` (a file) recorded for a whole flush interval, then ended in "rec.toml/
    trades: Not a directory" (exit 1, the minute lost); `--out ''` wrote into the working
    folder. Both are bad arguments, said before anything connects."""
    (tmp_path / "file").write_text("x")
    cfg = tmp_path / "rec.toml"
    cfg.write_text(
        'mode = "sandbox"\nstrategies = []\n[[venues]]\nname = "sbx"\nkind = "ccxt"\n'
        'exchange = "binance"\nrest_url = "http://127.0.0.1:9"\nsymbols = ["BTC/USDT"]\n'
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    done = run_cli(capsys, "record", "--config", str(cfg), "--duration", "60s",
                   "--flush-every", "1", "--out", out)  # fmt: skip
    err = done.stderr.strip()
    assert done.returncode == 2, err
    assert err.startswith(f"tradeguard: record --out '{out}': "), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
