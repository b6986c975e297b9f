"""A `bot = true` strategy's orders off its plain intent path still pass the bot's gate: the
re-send of an entry that timed out, a sell limit priced below the market, and the execution
gateway (refused at start: a multi-leg strategy books no positions for the bot's checks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.cli.main import main
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

PATIENT = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database
from tradeguard.strategies.base import Strategy


class Patient(Strategy):
    def on_candle(self, candle):
        n = self.params["n"] = self.params.get("n", 0) + 1
        if n == 1:  # a buy resting under the market: it times out unfilled
            price = (candle.close * Decimal("0.985")).quantize(Decimal("0.01"))
            amount = (Decimal("40") / candle.close).quantize(Decimal("0.00001"))
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, amount,
                                  OrderType.LIMIT, price, signal={"why": "dip"}))
        elif n == 2 and self.params.get("disable"):  # as `tradeguard bot disable` beside it
            rows = BotRows(Database(self.params["disable"]))
            row = next(b for b in rows.bots() if b.name == self.id)
            rows.save_bot(self.id, False, row.spec, 0)


class LowSell(Strategy):
    def on_candle(self, candle):
        if not self.params.get("done"):  # a short worth 60.5 USD at the market, priced 1.5% under
            self.params["done"] = True
            amount = (Decimal("60.5") / candle.close).quantize(Decimal("0.00001"))
            price = (candle.close * Decimal("0.985")).quantize(Decimal("0.01"))
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.SELL, amount,
                                  OrderType.LIMIT, price))


class Legs(Strategy):
    def bind(self, ctx):
        super().bind(ctx)
        self.gateway = ctx.execution_gateway(self.id, self.venue)

    def on_candle(self, candle):
        pass


class ReadsFirst(Strategy):  # reads the venue's markets and its position, then asks
    def bind(self, ctx):
        super().bind(ctx)
        self.listed = {i.symbol: i for i in ctx.instruments(self.venue)}
        self.mine = ctx.instrument(self.venue, self.symbol)
        self.held = ctx.position(self.id, self.venue, self.symbol).quantity
        self.gateway = ctx.execution_gateway(self.id, self.venue)

    def on_candle(self, candle):
        pass


class AsksAtStart(Strategy):  # binds as any strategy; asks once it starts, as triangular reads
    def on_start(self):
        self.listed = {i.symbol: i for i in self.ctx.instruments(self.venue)}
        self.gateway = self.ctx.execution_gateway(self.id, self.venue)

    def on_candle(self, candle):
        pass
"""
STRATEGY = """
[[strategies]]
id = "patient"
kind = "patient.py:{kind}"
venue = "paper"
symbol = "BTC/USDT"
order_timeout_s = 90
replace_on_timeout = true
bot = true
params = {{ disable = "{disable}" }}

[[bots]]
name = "patient"
enabled = true
max_order_usd = "60"
max_position_usd = "100"
daily_loss_usd = "20"
symbols = ["BTC/USDT"]
{extra}
"""


def _config(tmp_path: Path, data_dir: Path, kind: str, pg: str = "", extra: str = "") -> Path:
    (tmp_path / "patient.py").write_text(PATIENT)
    data = write_slice(data_dir, tmp_path / "btc.csv", 20)
    url = pg or f"sqlite:///{tmp_path / 'tg.db'}"
    # PostgreSQL when the strategy disables its bot: a second writer waits on SQLite's lock
    strategies = STRATEGY.format(kind=kind, disable=pg, extra=extra)
    return write_paper_toml(tmp_path, data, db_url=url, strategies=strategies)


def _run(
    tmp_path: Path, data_dir: Path, capsys, kind: str = "Patient", pg: str = "", extra: str = ""
):
    cfg = _config(tmp_path, data_dir, kind, pg, extra)
    url = pg or f"sqlite:///{tmp_path / 'tg.db'}"
    code = main(["run", "--until-end", "--config", str(cfg)])
    said = capsys.readouterr()
    db = Database(url)
    storage = Storage(db)
    orders = [o for o in storage.load_orders() if o.strategy_id == "patient"]
    denied = storage.load_events(kind_prefix="risk.denied", limit=1000)
    return code, said, orders, [e.data.get("code") for e in denied], BotRows(db)


def test_a_timed_out_entry_re_sent_is_recorded_as_a_bot_trade(tmp_path, data_dir, capsys):
    code, said, orders, _, rows = _run(tmp_path, data_dir, capsys)
    assert code == 0, said.err
    resent = [o for o in orders if "replaces" in o.signal]
    assert resent and len(orders) == len(resent) + 1, orders
    trades = rows.trades("patient", limit=500)
    assert sorted(t["client_order_id"] for t in trades) == sorted(
        o.client_order_id for o in orders
    ), trades
    assert all(t["by"] == "strategy:patient" for t in trades)


def test_a_timed_out_entry_is_re_sent_within_a_cooldown_its_first_send_started(
    tmp_path, data_dir, capsys
):
    # the re-send carries on the signal its first send was approved for; a cooldown longer than
    # the order timeout refused every re-send, so the signal never traded
    code, said, orders, denied, rows = _run(tmp_path, data_dir, capsys, extra="cooldown_s = 600")
    assert code == 0, said.err
    assert "BOT_COOLDOWN" not in denied, denied
    resent = [o for o in orders if "replaces" in o.signal]
    assert resent and len(orders) == len(resent) + 1, orders
    ids = {o.client_order_id for o in orders}
    assert all(o.signal["replaces"] in ids - {o.client_order_id} for o in resent), orders
    assert len(rows.trades("patient", limit=500)) == len(orders)


def test_a_disabled_bots_timed_out_entry_is_not_re_sent(tmp_path, data_dir, capsys, pg_url):
    code, said, orders, denied, rows = _run(tmp_path, data_dir, capsys, pg=pg_url)
    assert code == 0, said.err
    assert len(orders) == 1 and "replaces" not in orders[0].signal, orders
    assert "BOT_DISABLED" in denied, denied
    assert [t["client_order_id"] for t in rows.trades("patient")] == [orders[0].client_order_id]


def test_a_sell_limit_under_the_market_is_sized_at_the_market(tmp_path, data_dir, capsys):
    # at its limit price 59.6 USD passes max_order_usd = 60; it fills at the market, 60.5 USD
    code, said, orders, denied, _ = _run(tmp_path, data_dir, capsys, kind="LowSell")
    assert code == 0, said.err
    assert orders == [] and set(denied) == {"BOT_MAX_ORDER"}, denied


def test_a_bot_strategy_asking_for_an_execution_gateway_stops_the_start(tmp_path, data_dir, capsys):
    code, said, orders, _, _ = _run(tmp_path, data_dir, capsys, kind="Legs")
    assert code == 2, said.err
    assert "strategies[patient]: bot = true" in said.err and "execution gateway" in said.err
    assert "Traceback" not in said.err
    assert orders == []


@pytest.mark.parametrize("kind", ["Legs", "ReadsFirst", "AsksAtStart"])
def test_config_check_refuses_a_bot_strategy_asking_for_an_execution_gateway(
    tmp_path, data_dir, capsys, kind
):
    cfg = _config(tmp_path, data_dir, kind)
    code = main(["config", "check", str(cfg)])
    said = capsys.readouterr()
    assert code == 2, said.out
    (tmp_path / "run").mkdir()
    run_code, ran = _run(tmp_path / "run", data_dir, capsys, kind=kind)[:2]
    started = ran.err
    assert run_code == 2 and "Traceback" not in started, started
    refusal = "strategies[patient]: bot = true, but it asks for an execution gateway"
    assert refusal in " ".join(said.err.split()) and refusal in " ".join(started.split())
    assert "Traceback" not in said.err
