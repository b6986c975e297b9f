"""`[[bots]]` in the config: registered at start; on a registered bot the named fields win."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError
from tradeguard.node import TradingNode
from tradeguard.storage.bot_rows import BotRows

ALPHA = """
[[bots]]
name = "alpha"
enabled = true
max_order_usd = "50"
max_position_usd = "100"
daily_loss_usd = "20"
symbols = ["BTC/USDT"]
sizing = { kind = "linear", min_score = "0.5", max_score = "1", min_usd = "20", max_usd = "50" }
"""


def _stored(node: TradingNode) -> dict[str, tuple[bool, dict]]:
    return {b.name: (b.enabled, b.spec) for b in BotRows(node.db).bots()}


def _follows_bot_trades(node: TradingNode) -> bool:
    """Whether the node's bus calls the bot trades' follower (node.bot_trades) on order events."""
    return any(h.__module__ == "tradeguard.node.bot_trades" for _, h in node.bus._handlers)


def test_config_bots_are_registered_and_named_fields_win_on_restart(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    node = TradingNode(load_config(write_paper_toml(tmp_path, data, strategies="", extra=ALPHA)))
    try:
        enabled, spec = _stored(node)["alpha"]
        assert enabled is True and spec["symbols"] == ["BTC/USDT"]
        assert Decimal(spec["max_order_usd"]) == 50 and spec["sizing"]["kind"] == "linear"
        # an operator changes a field the config does not name, and one it names
        BotRows(node.db).save_bot("alpha", False, {**spec, "cooldown_s": 90,
                                                  "max_order_usd": "10"}, 1)  # fmt: skip
    finally:
        node.close()
    changed = ALPHA.replace('max_position_usd = "100"', 'max_position_usd = "80"').replace(
        "enabled = true\n", ""
    )
    node = TradingNode(load_config(write_paper_toml(tmp_path, data, strategies="", extra=changed)))
    try:
        enabled, spec = _stored(node)["alpha"]
        assert spec["cooldown_s"] == 90  # not named: the stored value stays
        assert Decimal(spec["max_order_usd"]) == 50  # named: the config wins
        assert Decimal(spec["max_position_usd"]) == 80
        assert enabled is False  # enabled not named: the stored state stays
    finally:
        node.close()


def test_a_bad_config_bot_is_refused_with_the_field_named(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    new = '\n[[bots]]\nname = "beta"\nmax_order_usd = "50"\n'
    with pytest.raises(ConfigError, match=r"\[\[bots\]\] entry: bot beta: max_position_usd is"):
        TradingNode(load_config(write_paper_toml(tmp_path, data, strategies="", extra=new)))
    bad_venue = ALPHA + 'venue = "nowhere"\n'
    with pytest.raises(ConfigError, match="bot 'alpha' uses venue 'nowhere'"):
        load_config(write_paper_toml(tmp_path, data, strategies="", extra=bad_venue))
    too_big = ALPHA.replace('daily_loss_usd = "20"', 'daily_loss_usd = "-1"')
    with pytest.raises(ConfigError, match="daily_loss_usd"):
        load_config(write_paper_toml(tmp_path, data, strategies="", extra=too_big))


def test_an_emergency_stopped_bot_stays_disabled_after_a_restart_until_enabled(tmp_path, data_dir):
    import asyncio

    from tradeguard.api.bot_desk import BotDesk

    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    toml = write_paper_toml(tmp_path, data, strategies="", extra=ALPHA)  # says enabled = true
    node = TradingNode(load_config(toml))
    try:
        assert _stored(node)["alpha"][0] is True
        asyncio.run(BotDesk.for_node(node).stop_bot("alpha", "api:ops", "drill"))
    finally:
        node.close()
    node = TradingNode(load_config(toml))
    try:
        assert _stored(node)["alpha"][0] is False  # the restart did not undo the stop
        BotDesk.for_node(node).set_enabled("alpha", True)  # an enable by hand ends it
    finally:
        node.close()
    node = TradingNode(load_config(toml))
    try:
        assert _stored(node)["alpha"][0] is True
    finally:
        node.close()


def test_a_bot_named_holdings_is_refused(tmp_path, data_dir):
    """A bot's orders are booked to its name; `holdings` owns the account's trades made by hand
    and moves balances only, so such a bot's buys opened no position and its exits never ran."""
    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    named = ALPHA.replace('name = "alpha"', 'name = "holdings"')
    with pytest.raises(ConfigError, match="bot name 'holdings' names the account's trades"):
        TradingNode(load_config(write_paper_toml(tmp_path, data, strategies="", extra=named)))


def test_a_backtest_node_builds_the_bots_exits_only_for_a_config_naming_bots(tmp_path, data_dir):
    # A backtest's fresh run database without [[bots]] can hold no exit plan: its node goes
    # without the exit manager (and the bots' modules), and without following bot trades on
    # each order event (it can have none); one naming bots has both, as paper does.
    from tradeguard.backtest.runner import BacktestNode

    data = write_slice(data_dir, tmp_path / "btc.csv", 10)
    for extra, folder in (("", "none"), (ALPHA, "alpha")):
        (tmp_path / folder).mkdir()
        path = write_paper_toml(
            tmp_path, data, strategies="", extra=extra, folder=tmp_path / folder,
            db_url=f"sqlite:///{tmp_path / folder / 'tg.db'}",
        )  # fmt: skip
        node = BacktestNode(load_config(path))
        try:
            if extra:
                assert node.bot_exits is not None
                assert node.bot_exits.on_price in node.price_listeners
                assert node.bot_exits.on_fill in node.orders.fill_listeners
                assert _stored(node)["alpha"][0] is True
                assert _follows_bot_trades(node)
            else:
                assert node.bot_exits is None and node.price_listeners == []
                assert not _follows_bot_trades(node)
        finally:
            node.close()
