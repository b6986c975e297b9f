"""A user strategy's amount as Python gives it: an int is exact, a float is refused by name."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from cli_support import run_cli
from node_support import write_paper_toml, write_slice
from test_risk_support import Rig, buy
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent

# Emits on its 3rd candle a float amount, then on its 5th an int amount (with an int limit
# price a little below the market, so the order rests).
EMITTER = """
from decimal import Decimal
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Emitter(Strategy):
    def __init__(self, strategy_id, venue, symbol, params):
        super().__init__(strategy_id, venue, symbol, params)
        self.n = 0

    def on_candle(self, candle):
        self.n += 1
        amount = {3: 0.001, 5: 1}.get(self.n)
        if amount is not None:
            self.emit(OrderIntent(self.id, self.venue, self.symbol, Side.BUY, amount,
                                  OrderType.LIMIT, price=int(candle.close) - 100,
                                  signal={"n": self.n}))
"""


def test_an_int_amount_or_price_is_taken_as_the_exact_decimal() -> None:
    intent = OrderIntent("s", "paper", "BTC/USDT", Side.BUY, 2, OrderType.LIMIT, price=100,
                         stop_loss=90, take_profit=120, trigger_price=None)  # fmt: skip
    assert (intent.amount, intent.price) == (Decimal(2), Decimal(100))
    assert type(intent.amount) is Decimal and type(intent.price) is Decimal
    assert type(intent.stop_loss) is Decimal and type(intent.take_profit) is Decimal
    d = Rig().check(replace(buy("1"), amount=1))
    assert d.approved, d.reason


def test_a_bool_amount_is_not_read_as_one() -> None:
    d = Rig().check(replace(buy("1"), amount=True))
    assert (d.approved, d.code) == (False, "INVALID_AMOUNT")
    assert "amount True (bool)" in d.reason


def test_a_float_amount_or_price_is_refused_saying_to_pass_a_decimal() -> None:
    d = Rig().check(replace(buy("1"), amount=0.1))
    assert (d.approved, d.code) == (False, "INVALID_AMOUNT")
    assert "amount 0.1 (float) on BTC/USDT" in d.reason
    assert 'Decimal("0.1")' in d.reason and "not exact" in d.reason, d.reason
    d = Rig().check(replace(buy("1"), stop_loss=90.5))
    assert (d.approved, d.code) == (False, "INVALID_PRICE")
    assert "stop_loss 90.5 (float)" in d.reason and 'Decimal("90.5")' in d.reason, d.reason


def test_a_strategy_file_emitting_a_float_then_an_int_amount(
    tmp_path: Path, data_dir: Path, capsys, monkeypatch
):
    work = tmp_path / "project"
    (work / "strategies").mkdir(parents=True)
    (work / "strategies" / "emitter.py").write_text(EMITTER)
    data = write_slice(data_dir, tmp_path / "btc.csv", 20)
    mine = """
[[strategies]]
id = "mine"
kind = "strategies/emitter.py:Emitter"
venue = "paper"
symbol = "BTC/USDT"
"""
    # one whole BTC is above the built-in order ceiling: the test accepts that risk
    risk = """
[risk]
max_order_notional_usd = "100000"
max_order_notional_pct = "100"
ceiling_override_ack = "I accept losses beyond the built-in ceilings"
"""
    cfg = write_paper_toml(tmp_path, data, strategies=mine + risk, folder=work)
    cfg.write_text(cfg.read_text().replace('USDT = "10000"', 'USDT = "1000000"'))
    monkeypatch.chdir(tmp_path)  # the strategy file is found beside the config
    run = run_cli(capsys, "run", "--until-end", "--config", str(cfg))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    out = run_cli(capsys, "orders", "--json", "--config", str(cfg))
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)
    rows = rows["orders"] if isinstance(rows, dict) else rows
    mine_rows = [o for o in rows if o["strategy_id"] == "mine"]
    assert len(mine_rows) == 1, mine_rows
    assert Decimal(mine_rows[0]["amount"]) == 1
    assert mine_rows[0]["signal"]["n"] == 5
    # the run's summary says why the float was denied, whole, on one line
    said = [line for line in run.stdout.splitlines() if "INVALID_AMOUNT" in line]
    assert said == [
        "  INVALID_AMOUNT ×1: order rejected: amount 0.001 (float) on BTC/USDT: a float is not "
        'exact: pass Decimal("0.001"), made from a string'
    ], run.stdout[-3000:]


async def test_over_http_an_int_amount_is_exact_and_a_float_is_named(tmp_path, data_dir):
    from test_api_support import bearer, build_app, client, replayed_node

    node = await replayed_node(tmp_path, data_dir, rows=60)
    app, tokens = build_app(node)
    buy = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "type": "market"}
    async with client(app) as http:
        auth = bearer(tokens.trader)
        as_int = await http.post("/api/v1/risk/validate", json={**buy, "amount": 1}, headers=auth)
        as_float = await http.post(
            "/api/v1/risk/validate", json={**buy, "amount": 0.001}, headers=auth
        )
    node.close()
    # the JSON integer 1 is read as exactly 1 BTC: the risk engine judges its size, not its type
    assert as_int.status_code == 200, as_int.text
    assert as_int.json()["code"] == "MAX_ORDER_NOTIONAL", as_int.json()
    assert as_float.status_code == 422
    err = as_float.json()["errors"][0]
    assert (err["field"], err["value"]) == ("amount", "0.001")
    assert 'must be a decimal string such as "0.015"' in err["message"], err
    assert "send numbers as strings" in err["message"], err
