"""A close's USD rate is kept for bots only: a close of one of the node's own strategies (not a
bot) in a non-USD quote reads nothing of the bots table inside its fill's commit, while a bot
registered through the API still has its rate kept."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event

from tradeguard.bus import EventBus
from tradeguard.model.events import Event, EventKind
from tradeguard.node.bot_close_rates import RATES_KEY, record_close_rates
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


def _node(tmp_path: Any) -> Any:
    db = Database(f"sqlite:///{tmp_path / 'rates.db'}")
    db.migrate()
    BotRows(db).save_bot("signals", True, {"venue": "binance", "symbols": ["ETH/BTC"]}, 1)
    node = SimpleNamespace(
        bus=EventBus(), db=db, storage=Storage(db), bot_strategies=frozenset({"grid-bot"}),
        strategies=[SimpleNamespace(id="trend"), SimpleNamespace(id="grid-bot")],
        portfolio=SimpleNamespace(price_of=lambda quote, usd: Decimal("60000")),
    )  # fmt: skip
    record_close_rates(node)  # type: ignore[arg-type]
    return node


def _closed(node: Any, who: str, ts: int) -> list[str]:
    """Publish `who`'s close of ETH/BTC; the SQL it ran."""
    ran: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        ran.append(statement)

    event.listen(node.db.engine, "before_cursor_execute", seen)
    try:
        node.bus.publish(Event(EventKind.POSITION_CLOSED, ts, {}, venue="binance",
                               symbol="ETH/BTC", strategy_id=who))  # fmt: skip
    finally:
        event.remove(node.db.engine, "before_cursor_execute", seen)
    return ran


def test_a_close_of_the_nodes_own_strategy_reads_no_bot_rows(tmp_path: Any) -> None:
    node = _node(tmp_path)
    ran = _closed(node, "trend", 1_000)
    assert not [s for s in ran if "bots" in s], ran  # was: every bot read in the commit
    assert node.storage.kv_get(RATES_KEY + "trend") is None


def test_a_bots_close_keeps_its_rate(tmp_path: Any) -> None:
    node = _node(tmp_path)
    _closed(node, "signals", 1_000)  # registered through the API, not a strategy here
    _closed(node, "grid-bot", 2_000)  # a strategy trading as a bot
    assert node.storage.kv_get(RATES_KEY + "signals") == {"binance|ETH/BTC|1000": "60000"}
    assert node.storage.kv_get(RATES_KEY + "grid-bot") == {"binance|ETH/BTC|2000": "60000"}
    assert node.storage.kv_get(RATES_KEY + "stranger") is None
    _closed(node, "stranger", 3_000)  # neither: nothing kept
    assert node.storage.kv_get(RATES_KEY + "stranger") is None
