"""Alerts held for a commit belong to the thread whose transaction holds them.

The order path runs on more than one thread (the event loop, a venue's stream thread), each
with its own transaction. An alert raised inside one thread's transaction is sent when that
transaction commits and dropped when it rolls back, whatever another thread commits or rolls
back meanwhile: a rollback elsewhere must not drop it (the work it reports is committed), and
a commit elsewhere must not send it before its own work is durable.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from test_alerts_manager import RecordingChannel
from test_metrics_rollback_threads import _Gate
from tradeguard.alerts.config import AlertsConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.alerts.rules import Alert
from tradeguard.node.builder import wire_alerts
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage


def _alert(title: str) -> Alert:
    return Alert("kill_switch", title, "", "critical", title)


@pytest.mark.parametrize("first", ["rollback", "commit"])
def test_a_rollback_on_one_thread_and_a_commit_on_another_send_each_its_own(
    tmp_path: Path, first: str
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    storage = Storage(db)
    manager = AlertManager(AlertsConfig(enabled=True), [RecordingChannel()])
    wire_alerts(manager, storage)
    gate = _Gate()
    failed: list[BaseException] = []

    def failing_work() -> None:  # its alert raised, then its commit fails
        try:
            with storage.transaction():
                manager.enqueue(_alert("rolled back"))
                gate.go(0)
                gate.wait(1)
                raise OSError("disk full")
        except OSError:
            gate.go(2)
        except BaseException as exc:  # reported to the test thread
            failed.append(exc)
            gate.go(2)

    try:
        other = threading.Thread(target=failing_work)
        other.start()
        gate.wait(0)
        with storage.transaction():  # this thread's work, committed
            manager.enqueue(_alert("committed"))
            if first == "rollback":
                gate.go(1)
                gate.wait(2)  # the other thread's commit failed while this one is open
        if first == "commit":
            gate.go(1)  # committed while the other thread's transaction is open
            gate.wait(2)
        other.join(5)
        assert not failed, failed

        queued = [q.get_nowait().title for q in manager._queues for _ in range(q.qsize())]
        assert queued == ["committed"]
    finally:
        db.dispose()


def test_an_alert_raised_after_a_units_last_write_is_sent_when_the_unit_ends(
    tmp_path: Path,
) -> None:
    """A unit of work (a replay's, on a thread of its own) ends with nothing written since its
    last commit: the alert raised meanwhile goes with its end, not held by a thread that ends."""
    db = Database(f"sqlite:///{tmp_path / 'tg.db'}")
    db.migrate()
    storage = Storage(db)
    manager = AlertManager(AlertsConfig(enabled=True), [RecordingChannel()])
    wire_alerts(manager, storage)
    failed: list[BaseException] = []

    def replay() -> None:
        try:
            with storage.holding_connection(), storage.unit_of_work():
                storage.kv_set("replay.cursor", 1)
                storage.commit_unit()
                manager.enqueue(_alert("after the last write"))
        except BaseException as exc:  # reported to the test thread
            failed.append(exc)

    try:
        thread = threading.Thread(target=replay)
        thread.start()
        thread.join(5)
        assert not failed, failed
        queued = [q.get_nowait().title for q in manager._queues for _ in range(q.qsize())]
        assert queued == ["after the last write"]
    finally:
        db.dispose()
