"""A user's strategy file trading as a signal bot (`bot = true`): end to end on the paper node
(`tradeguard run`), its orders pass the bot's gate (one position, emergency stop, limits) and
each one sent is recorded as a bot trade with its signal."""

from __future__ import annotations

from pathlib import Path

from node_support import write_paper_toml, write_slice
from tradeguard.cli.main import main
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

# buys on every candle, whatever it holds: only the bot's gate holds it back
GREEDY = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Greedy(Strategy):
    def on_candle(self, candle):
        usd = Decimal(str(self.params.get("order_usd", "50")))
        amount = (usd / candle.close).quantize(Decimal("0.00001"))
        self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, amount,
                              OrderType.MARKET, signal={"why": "every candle",
                                                        "close": str(candle.close)}))
"""
STRATEGY = """
[[strategies]]
id = "greedy"
kind = "greedy.py:Greedy"
venue = "paper"
symbol = "BTC/USDT"
params = {{ order_usd = "{usd}" }}
{bot}
"""
BOT = """
[[bots]]
name = "greedy"
enabled = {enabled}
max_order_usd = "60"
max_position_usd = "100"
daily_loss_usd = "20"
symbols = ["BTC/USDT"]
"""


def _run(tmp_path: Path, data_dir: Path, capsys, *, usd="50", bot=True, enabled="true"):
    (tmp_path / "greedy.py").write_text(GREEDY)
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    cfg = write_paper_toml(
        tmp_path, data, strategies=STRATEGY.format(usd=usd, bot="bot = true" if bot else ""),
        extra=BOT.format(enabled=enabled) if bot else "",
    )  # fmt: skip
    code = main(["run", "--until-end", "--config", str(cfg)])
    said = capsys.readouterr()
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    storage = Storage(db)
    orders = [o for o in storage.load_orders() if o.strategy_id == "greedy"]
    denied = storage.load_events(kind_prefix="risk.denied", limit=1000)
    return code, said, orders, [e.data.get("code") for e in denied], BotRows(db)


def test_a_user_strategy_trading_as_a_bot_holds_one_position_and_records_its_trades(
    tmp_path: Path, data_dir: Path, capsys
):
    code, said, orders, denied, rows = _run(tmp_path, data_dir, capsys)
    assert code == 0, said.err
    assert len(orders) == 1, orders  # one entry: every later buy is a second position
    assert "BOT_ONE_POSITION" in denied and len(denied) >= 50, denied
    trades = rows.trades("greedy")
    assert len(trades) == 1 and trades[0]["status"] == "submitted", trades
    assert trades[0]["signal"]["why"] == "every candle"
    assert trades[0]["client_order_id"] == orders[0].client_order_id
    assert trades[0]["by"] == "strategy:greedy"


def test_without_bot_the_same_strategy_buys_on_every_candle(tmp_path: Path, data_dir: Path, capsys):
    code, said, orders, _, _ = _run(tmp_path, data_dir, capsys, bot=False)
    assert code == 0, said.err
    assert len(orders) > 5  # the risk engine's limits alone: what the bot's gate holds back above


def test_a_stopped_bot_strategy_sends_nothing_and_a_too_big_order_is_refused(
    tmp_path: Path, data_dir: Path, capsys
):
    code, said, orders, denied, _ = _run(tmp_path, data_dir, capsys, enabled="false")
    assert code == 0, said.err
    assert orders == [] and set(denied) == {"BOT_DISABLED"}, denied


def test_max_order_usd_holds_for_the_strategy(tmp_path: Path, data_dir: Path, capsys):
    code, said, orders, denied, _ = _run(tmp_path, data_dir, capsys, usd="80")
    assert code == 0, said.err
    assert orders == [] and set(denied) == {"BOT_MAX_ORDER"}, denied


def test_bot_true_without_a_registered_bot_stops_the_start(tmp_path: Path, data_dir: Path, capsys):
    (tmp_path / "greedy.py").write_text(GREEDY)
    data = write_slice(data_dir, tmp_path / "btc.csv", 60)
    cfg = write_paper_toml(tmp_path, data, strategies=STRATEGY.format(usd="50", bot="bot = true"))
    code = main(["run", "--until-end", "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "bot = true, but no bot named 'greedy' is registered" in err
    assert "Traceback" not in err


TWO = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class BuyOnce(Strategy):
    def on_candle(self, candle):
        if not self.params.get("done"):
            self.params["done"] = True
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.002"),
                                  OrderType.MARKET))


class Closer(Strategy):
    def on_candle(self, candle):
        if not self.params.get("done"):  # a small position of its own, then closes too big
            self.params["done"] = True
            side, amount, reduce_only = Side.BUY, Decimal("0.0003"), False
        else:
            side, amount, reduce_only = Side.SELL, Decimal("0.0005"), True
        self.emit(OrderIntent(self.id, self.venue, self.symbol, side, amount,
                              OrderType.MARKET, reduce_only=reduce_only))
"""
CLOSER = """
[[strategies]]
id = "holder"
kind = "two.py:BuyOnce"
venue = "paper"
symbol = "BTC/USDT"

[[strategies]]
id = "closer"
kind = "two.py:Closer"
venue = "paper"
symbol = "BTC/USDT"
bot = true
"""


def test_a_bot_strategys_close_cannot_sell_what_another_strategy_holds(
    tmp_path: Path, data_dir: Path, capsys
):
    (tmp_path / "two.py").write_text(TWO)
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    bot = BOT.format(enabled="true").replace('name = "greedy"', 'name = "closer"')
    cfg = write_paper_toml(tmp_path, data, strategies=CLOSER, extra=bot)
    code = main(["run", "--until-end", "--config", str(cfg)])
    assert code == 0, capsys.readouterr().err
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    orders = storage.load_orders()
    # the account holds 0.0023 BTC, the bot 0.0003 of it: a close of 0.0005 would sell holder's
    assert sorted((o.strategy_id, o.side.value) for o in orders) == [
        ("closer", "buy"), ("holder", "buy")], orders  # fmt: skip
    denied = {e.data.get("code") for e in storage.load_events(kind_prefix="risk.denied")}
    assert denied == {"BOT_NOT_REDUCING"}, denied


FLIP = TWO.replace('Decimal("0.0005"), True', 'Decimal("0.0005"), False')


def test_a_bot_strategys_sell_past_its_position_does_not_flip_it_past_the_gate(
    tmp_path: Path, data_dir: Path, capsys
):
    # a sell while the bot is long is a close, so it skips the entry checks: one bigger than the
    # position would open a short past every limit and the emergency stop
    assert FLIP != TWO
    (tmp_path / "two.py").write_text(FLIP)
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    bot = BOT.format(enabled="true").replace('name = "greedy"', 'name = "closer"')
    cfg = write_paper_toml(tmp_path, data, strategies=CLOSER, extra=bot)
    code = main(["run", "--until-end", "--config", str(cfg)])
    assert code == 0, capsys.readouterr().err
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    orders = storage.load_orders()
    assert sorted((o.strategy_id, o.side.value) for o in orders) == [
        ("closer", "buy"), ("holder", "buy")], orders  # fmt: skip
    denied = storage.load_events(kind_prefix="risk.denied")
    assert {e.data.get("code") for e in denied} == {"BOT_NOT_REDUCING"}, denied
    assert "would close its position of 0.0003 and open" in denied[0].data.get("reason", "")


RESTING = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class BuyOnce(Strategy):
    def on_candle(self, candle):
        if not self.params.get("done"):
            self.params["done"] = True
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.002"),
                                  OrderType.MARKET))


class Closer(Strategy):
    def on_candle(self, candle):
        n = self.params["n"] = self.params.get("n", 0) + 1
        if n == 1:  # a position of its own
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.0003"),
                                  OrderType.MARKET))
        elif n == 2:  # a close resting above the market
            price = (candle.close * Decimal("1.005")).quantize(Decimal("0.01"))
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.SELL, Decimal("0.0003"),
                                  OrderType.LIMIT, price))
        elif n == 3:  # a second close of the whole position while the first rests
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.SELL, Decimal("0.0003"),
                                  OrderType.MARKET))
"""


def test_a_bot_strategys_second_close_beside_a_resting_one_does_not_flip_it(
    tmp_path: Path, data_dir: Path, capsys
):
    (tmp_path / "two.py").write_text(RESTING)
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    bot = BOT.format(enabled="true").replace('name = "greedy"', 'name = "closer"')
    cfg = write_paper_toml(tmp_path, data, strategies=CLOSER, extra=bot)
    code = main(["run", "--until-end", "--config", str(cfg)])
    assert code == 0, capsys.readouterr().err
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    sells = [
        o for o in storage.load_orders() if o.strategy_id == "closer" and o.side.value == "sell"
    ]
    assert [o.type.value for o in sells] == ["limit"], sells  # the market sell would flip it
    denied = storage.load_events(kind_prefix="risk.denied")
    assert {e.data.get("code") for e in denied} == {"BOT_NOT_REDUCING"}, denied
