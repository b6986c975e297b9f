"""What a fill's transaction tells the outside (the API's event stream) leaves only once the
database kept it: a commit refused announces nothing, and the venue's repeat of the fill, booked
then, announces each event once, in the order the audit log keeps them.

Real databases refuse the commit: SQLite through a trigger on the audit log's write of the
fill (the last write before the commit), PostgreSQL through a deferred trigger that fires at
COMMIT itself.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from test_alerts_manager import RecordingChannel
from tradeguard.alerts.config import AlertsConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.bus import EventQueue
from tradeguard.config import Config, default_config
from tradeguard.model.enums import OrderType, Side, TradingState
from tradeguard.model.events import EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.market import Quote
from tradeguard.model.order import OrderIntent
from tradeguard.node import TradingNode
from tradeguard.node.builder import wire_alerts

D = Decimal
SYMBOL = "BTC/USDT"
SQLITE_REFUSE = (
    "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = 'fill' "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
)
PG_REFUSE = (
    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'could not write to file: No space left on device'; END $$",
    # deferred: it fires at COMMIT, so the fill's commit itself is refused
    "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON fills "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()",
)


def _sql(url: str, *statements: str) -> None:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:  # fmt: skip
        for statement in statements:
            conn.execute(statement)


FILL_KINDS = [
    EventKind.BREAKER_TRIPPED,
    EventKind.STATE_CHANGED,
    EventKind.FILL,
    EventKind.ORDER_FILLED,
    EventKind.POSITION_CLOSED,
]  # what booking the losing sell tells, in this order


def _node(tmp_path: Path, url: str) -> TradingNode:
    doc = default_config()
    doc.setdefault("node", {}).update(database_url=url, kill_sentinel=str(tmp_path / "kill"))
    doc.setdefault("risk", {}).update(max_consecutive_losses=1)  # one loss trips the breaker
    return TradingNode(Config.model_validate(doc))


def _quote(node: TradingNode, bid: int) -> None:
    q = Quote(SYMBOL, node.clock.now_ms(), D(bid), D(5), D(bid + 10), D(5))
    node.market.on_quote(q)
    node.venues["paper"].on_quote(q)  # type: ignore[attr-defined]


def _market(side: Side) -> OrderIntent:
    return OrderIntent("ma_cross", "paper", SYMBOL, side, D("0.001"), OrderType.MARKET)


class _Told:
    """The paper venue's listener: hands everything to the order manager, keeping its fills."""

    def __init__(self, orders: Any) -> None:
        self.orders = orders
        self.fills: list[Fill] = []

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        self.orders.on_fill(fill)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.orders, name)


def _audit(node: TradingNode) -> list[str]:
    """The kinds the audit log keeps, oldest first."""
    return [e.kind for e in reversed(node.storage.load_events(limit=1000))]


def _outbox(alerts: AlertManager) -> list[str]:
    """The rules of the alerts the outbox keeps to send, oldest first."""
    assert alerts.outbox is not None
    return [alert.rule for _, alert in alerts.outbox.pending(["stub"])]


def _sending(alerts: AlertManager) -> list[str]:
    """The rules of the alerts queued for the channel (the manager is not started: all)."""
    return [alert.rule for alert in alerts._queues[0]._queue]  # type: ignore[attr-defined]


def _drain(queue: EventQueue) -> list[str]:
    kinds = []
    while not queue.empty():
        kinds.append(queue.get_nowait().kind)
    return kinds


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_fill_whose_commit_is_refused_announces_its_events_once_after_the_retry(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'tg.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    node = _node(tmp_path, url)
    try:
        stream = node.bus.queue()  # what the API's websocket sends
        alerts = AlertManager(AlertsConfig(), [RecordingChannel()])
        wire_alerts(alerts, node.storage)  # as a node with an alert channel configured has
        node.bus.subscribe(alerts.on_event)
        venue = node.venues["paper"]
        told = _Told(node.orders)
        venue.set_listener(told)
        _quote(node, 50000)
        await node.orders.submit(_market(Side.BUY))
        assert EventKind.POSITION_OPENED in _drain(stream)
        node.flush_audit()
        audited, outbox = len(_audit(node)), len(_outbox(alerts))
        _sql(url, *(SQLITE_REFUSE if backend == "sqlite" else PG_REFUSE))
        _quote(node, 40000)
        sell = await node.orders.submit(_market(Side.SELL))  # a loss: trips the breaker
        assert sell.order is not None and len(told.fills) == 2  # the venue filled it
        kept_fills = {f.trade_id for f in node.storage.load_fills()}
        assert told.fills[-1].trade_id not in kept_fills and len(kept_fills) == 1  # not kept

        heard = _drain(stream)

        # the order was sent, and its outcome is unknown to the journal: nothing of the fill
        assert heard == [
            EventKind.RISK_APPROVED, EventKind.ORDER_SUBMITTED, EventKind.VENUE_ERROR,
            EventKind.ORDER_UNKNOWN,
        ], heard  # fmt: skip
        assert node.risk.state is TradingState.ACTIVE  # the trip went with the rollback
        assert "breaker_tripped" not in _outbox(alerts)[outbox:]  # neither stored
        assert "breaker_tripped" not in _sending(alerts)  # nor handed to the channel
        _sql(url, "DROP TRIGGER refuse" + ("" if backend == "sqlite" else " ON fills"))
        node.orders.on_fill(told.fills[-1])  # the venue tells it again: booked now
        node.flush_audit()

        again = _drain(stream)
        kept = _audit(node)[audited:]
        assert again == FILL_KINDS, again  # each once, in order
        assert [k for k in kept if k in FILL_KINDS] == FILL_KINDS, kept
        assert node.risk.state is TradingState.REDUCING
        stored = _outbox(alerts)[outbox:]  # kept with the fill's commit, to send once
        assert stored.count("breaker_tripped") == 1 and stored.count("position_closed") == 1
        sending = _sending(alerts)
        assert sending.count("breaker_tripped") == 1 and sending.count("position_closed") == 1
    finally:
        node.close()
