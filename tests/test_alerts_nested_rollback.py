"""An alert raised inside a nested `transaction()` that an error leaves is dropped with the
block's work, even when its caller catches the error and the open transaction commits: the
work it reports never became durable (an API request refused halfway while a replay waits)."""

from __future__ import annotations

from pathlib import Path

from test_alerts_manager import RecordingChannel
from tradeguard.alerts.config import AlertsConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.alerts.rules import Alert, alert_for
from tradeguard.model.events import Event, EventKind
from tradeguard.node.builder import wire_alerts
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


def _alert(title: str) -> Alert:
    return Alert("kill_switch", title, "", "critical", title)


def _closed(ts: int, pct: str) -> Event:
    return Event(EventKind.POSITION_CLOSED, ts, {"pnl": "0", "pnl_pct": pct}, "paper", "BTC/USDT")


def test_an_alert_of_a_refused_nested_block_is_not_sent_with_the_outer_commit(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    storage = Storage(db)
    manager = AlertManager(AlertsConfig(enabled=True), [RecordingChannel()])
    wire_alerts(manager, storage)
    try:
        with storage.transaction():
            storage.kv_set("outer", 1)
            manager.enqueue(_alert("outer work"))
            manager.on_event(_closed(1, "1.5"))
            try:
                with storage.transaction():
                    storage.kv_set("refused", 2)
                    manager.enqueue(_alert("refused work"))
                    manager.on_event(_closed(2, "-3"))
                    raise ValueError("refused halfway")
            except ValueError:
                pass
        assert storage.kv_get("refused") is None
        queued = [q.get_nowait().title for q in manager._queues for _ in range(q.qsize())]
        closed = alert_for(_closed(1, "1.5"))
        assert closed is not None
        assert queued == ["outer work", closed.title]  # nothing of the refused block
        # the performance watch counts the committed trade only
        assert [t for _, t in manager.performance._trades] == [1.5]
    finally:
        db.dispose()
