"""An emitted intent is the order sent: a strategy holding it cannot change it on the way.

The node checks an intent when it is emitted (its strategy id against the emitting strategy's,
the signal's reserved keys, a pause) and sends it later, from its queue: a strategy changing
the intent in between would send what those checks never saw.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.cli.main import main
from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

# emits one buy under its own id, then moves it to the other strategy's id and grows it
SNEAKY = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class Sneaky(Strategy):
    done = False

    def on_candle(self, candle):
        if self.done:
            return
        self.done = True
        intent = OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.001"),
                             OrderType.MARKET)
        self.emit(intent)
        try:
            intent.strategy_id = "quiet"
            intent.amount = Decimal("0.002")
        except AttributeError as exc:
            self.refused = type(exc).__name__
            print("intent change refused:", type(exc).__name__)
"""
STRATEGIES = """
[[strategies]]
id = "sneaky"
kind = "sneaky.py:Sneaky"
venue = "paper"
symbol = "BTC/USDT"

[[strategies]]
id = "quiet"
kind = "ma_crossover"
venue = "paper"
symbol = "BTC/USDT"
params = { fast = 5, slow = 200, order_usd = "90" }  # 30 candles: never a signal
"""


def test_an_emitted_intent_cannot_be_moved_to_another_strategy_or_resized(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sneaky.py").write_text(SNEAKY)
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    cfg = write_paper_toml(tmp_path, data, strategies=STRATEGIES)
    code = main(["run", "--until-end", "--config", str(cfg)])
    said = capsys.readouterr()
    assert code == 0, said.err
    orders = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}")).load_orders()
    # before: one order of 0.002 journaled as strategy "quiet"'s, past the emit's checks
    assert [(o.strategy_id, o.amount) for o in orders] == [("sneaky", Decimal("0.001"))]
    assert "intent change refused: FrozenInstanceError" in said.out, said.out


def test_a_changed_intent_is_a_new_one() -> None:
    intent = OrderIntent("s", "paper", "BTC/USDT", Side.BUY, 1, OrderType.LIMIT, 2)
    # ints taken as Decimal (an int compares equal to its Decimal: the types are asked)
    assert [type(intent.amount), type(intent.price)] == [Decimal, Decimal]
    assert (intent.amount, intent.price) == (Decimal(1), Decimal(2))
    bigger = dataclasses.replace(intent, amount=3)  # through the same __init__
    assert type(bigger.amount) is Decimal
    assert (bigger.amount, intent.amount) == (Decimal("3"), Decimal(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        intent.price = Decimal("5")  # type: ignore[misc]


# emits one buy with a signal of its own, then changes that signal in place: a key the node
# reserves (`source`: the orders API's record of a close placed by hand), a nested value, and
# on the next candle (the order sent and journaled) the nested value again
SIGNAL_CHANGER = """
from decimal import Decimal

from tradeguard.model.enums import OrderType, Side
from tradeguard.model.order import OrderIntent
from tradeguard.strategies.base import Strategy


class SignalChanger(Strategy):
    intent = None

    def on_candle(self, candle):
        if self.intent is not None:
            self.change(lambda: self.intent.signal["meta"].update(n=3))
            return
        signal = {"why": "dip", "meta": {"n": 1}}
        self.intent = OrderIntent(self.id, self.venue, self.symbol, Side.BUY, Decimal("0.001"),
                                  OrderType.MARKET, signal=signal)
        self.emit(self.intent)
        self.change(lambda: self.intent.signal.__setitem__("source", "api:admin(1)"))
        signal["meta"]["n"] = 2  # the strategy's own dict stays its own

    def change(self, how):
        try:
            how()
        except TypeError as exc:
            print("signal change refused:", exc)
"""


def test_an_emitted_intents_signal_cannot_be_changed_on_the_way(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "changer.py").write_text(SIGNAL_CHANGER)
    data = write_slice(data_dir, tmp_path / "btc.csv", 30)
    strategies = STRATEGIES.replace('"sneaky"', '"changer"').replace(
        "sneaky.py:Sneaky", "changer.py:SignalChanger"
    )
    cfg = write_paper_toml(tmp_path, data, strategies=strategies)
    code = main(["run", "--until-end", "--config", str(cfg)])
    assert code == 0, capsys.readouterr().err
    orders = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}")).load_orders()
    # before: the order went out as {"why": "dip", "meta": {"n": 2}, "source": "api:admin(1)"}
    # (a key emit() refuses, taken for a close placed through the orders API)
    assert [(o.strategy_id, o.signal) for o in orders] == [
        ("changer", {"why": "dip", "meta": {"n": 1}})
    ]
    said = capsys.readouterr().out
    # the change after emit, and the nested one on each of the 29 candles after
    assert said.count("signal change refused: an emitted intent's signal cannot be changed") == 30


def test_an_emitted_signal_is_stored_and_copied_as_the_dict_it_was() -> None:
    import copy
    import json
    import pickle

    from tradeguard.model.sealed import sealed as _sealed

    given = {"why": "dip", "levels": [1, {"at": "2"}], "n": Decimal("1.5")}
    sealed = _sealed(given)
    assert sealed == given and json.dumps(sealed, default=str) == json.dumps(given, default=str)
    for again in (copy.deepcopy(sealed), pickle.loads(pickle.dumps(sealed)), dict(sealed)):
        assert again == given
        again["why"] = "changed"  # a copy is the copier's own
    with pytest.raises(TypeError, match="emitted intent's signal cannot be changed"):
        sealed["levels"][1]["at"] = "3"
    with pytest.raises(TypeError, match="emitted intent's signal cannot be changed"):
        sealed["levels"].append(2)
    assert sealed == given
