"""A bot's close rates are read from storage once and then kept in memory: a gate check (its
`in_usd` of the closed trades) runs no SQL for them, a close's rate is there at once, and a
close whose commit rolls back takes its rate out of memory as out of the database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from test_bot_close_rates_reads import _node
from tradeguard.model.events import Event, EventKind
from tradeguard.node.bot_close_rates import RATES_KEY, in_usd


def _row(ts: int) -> dict[str, Any]:
    return {"strategy_id": "signals", "venue": "binance", "symbol": "ETH/BTC", "exit_ts": ts,
            "pnl": Decimal("-0.0005")}  # fmt: skip


def _close(node: Any, ts: int) -> None:
    node.bus.publish(Event(EventKind.POSITION_CLOSED, ts, {}, venue="binance",
                           symbol="ETH/BTC", strategy_id="signals"))  # fmt: skip


def _sql(node: Any, call: Any) -> list[str]:
    ran: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        ran.append(statement)

    event.listen(node.db.engine, "before_cursor_execute", seen)
    try:
        call()
    finally:
        event.remove(node.db.engine, "before_cursor_execute", seen)
    return ran


def test_a_gate_check_reads_the_rates_from_memory(tmp_path: Any) -> None:
    node = _node(tmp_path)
    with node.storage.transaction():
        _close(node, 1_000)
    assert in_usd(node, [_row(1_000)])[0]["usd_at"] == "close"
    ran = _sql(node, lambda: in_usd(node, [_row(1_000), _row(2_000)]))
    assert not [s for s in ran if "kv_state" in s], ran  # was: the kv row read every check
    with node.storage.transaction():
        _close(node, 2_000)  # written: in memory at once, and stored
    assert [r["usd_at"] for r in in_usd(node, [_row(1_000), _row(2_000)])] == ["close", "close"]
    assert node.storage.kv_get(RATES_KEY + "signals") == {
        "binance|ETH/BTC|1000": "60000", "binance|ETH/BTC|2000": "60000"}  # fmt: skip


def test_a_rolled_back_close_takes_its_rate_out_of_memory(tmp_path: Any) -> None:
    node = _node(tmp_path)
    with node.storage.transaction():
        _close(node, 1_000)
    assert in_usd(node, [_row(1_000)])[0]["usd_at"] == "close"
    with pytest.raises(RuntimeError), node.storage.transaction():
        _close(node, 2_000)
        raise RuntimeError("the fill's commit fails")
    assert node.storage.kv_get(RATES_KEY + "signals") == {"binance|ETH/BTC|1000": "60000"}
    # the rolled-back close's trade was never stored; its rate is not kept either
    assert [r["usd_at"] for r in in_usd(node, [_row(1_000), _row(2_000)])] == ["close", "now"]
    with node.storage.transaction():
        _close(node, 3_000)  # the next write starts from what the database holds
    assert node.storage.kv_get(RATES_KEY + "signals") == {
        "binance|ETH/BTC|1000": "60000", "binance|ETH/BTC|3000": "60000"}  # fmt: skip


def test_a_node_taking_the_database_over_reads_the_rates_its_predecessor_stored(
    tmp_path: Any,
) -> None:
    """The kept rates are one process's, and one process serves bots: the gate runs in the node,
    which holds the database's writer lock (a second node is refused, test_storage_writer_lock)
    with the API in its own process. The node that takes the database over (after a stop or a
    SIGKILL) keeps nothing of its predecessor's memory: it reads the rates as stored, so no
    stale copy decides a bot's limits."""
    first = _node(tmp_path)
    assert in_usd(first, [_row(1_000)])[0]["usd_at"] == "now"  # read (none yet) and kept
    with first.storage.transaction():
        _close(first, 1_000)
    first.db.dispose()  # the first node is gone

    second = _node(tmp_path)  # its storage: a new process's, or a node built again here
    assert [r["usd_at"] for r in in_usd(second, [_row(1_000)])] == ["close"]
    with second.storage.transaction():
        _close(second, 2_000)
    assert second.storage.kv_get(RATES_KEY + "signals") == {
        "binance|ETH/BTC|1000": "60000", "binance|ETH/BTC|2000": "60000"}  # fmt: skip
