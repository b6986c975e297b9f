"""A kill whose store the database refuses still halts and cancels, and says so.

The kill switch stores HALTED and its request before cancelling, so that a kill cut short is
finished at the next start. A database that refuses that write (full) must not leave the kill
half done: trading halted in memory while every open order rests on the venue, the API's answer
an error and the event stream silent about the halt. SQLite refuses the risk state's write
through a trigger; everything else is written.
"""

from __future__ import annotations

import sqlite3

from test_api_support import bearer, build_app, client, replayed_node, resting_buy
from tradeguard.model.enums import TradingState
from tradeguard.model.events import EventKind
from tradeguard.node import RISK_STATE_KEY

REFUSE = (
    "CREATE TRIGGER refuse BEFORE UPDATE ON kv_state WHEN NEW.key = 'risk.state' "
    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
)


async def test_a_kill_whose_halt_the_database_refuses_still_cancels_and_tells_it(
    tmp_path, data_dir
):
    node = await replayed_node(tmp_path, data_dir)
    try:
        cids = [await resting_buy(node) for _ in range(2)]
        stream = node.bus.queue()  # what the API's websocket sends
        app, tokens = build_app(node)
        with sqlite3.connect(tmp_path / "tg.db") as db:
            db.execute(REFUSE)
        async with client(app) as http:
            r = await http.post(
                "/api/v1/kill", json={"reason": "disk"}, headers=bearer(tokens.trader)
            )
        assert r.status_code == 200, r.text
        assert r.json()["trading_state"] == "HALTED"
        # the venue cancelled every order; the journal could not record it (its writes carry
        # the halt's): reported as failed, and the venue's next report of each moves it
        assert await node.venues["paper"].fetch_open_orders() == []
        report = r.json()["report"]
        assert sorted(report["cancelled"] + [f["id"] for f in report["failed"]]) == sorted(cids)
        for failed in report["failed"]:  # the driver's words in one line, no statement
            assert "\n" not in failed["reason"] and "[SQL" not in failed["reason"], failed
        told = []
        while not stream.empty():
            told.append(stream.get_nowait())
        changed = [e for e in told if e.kind == EventKind.STATE_CHANGED]
        assert len(changed) == 1, [e.kind for e in told]
        assert changed[0].data["to"] == "HALTED" and changed[0].data["stored"] is False
        assert "NOT STORED" in changed[0].data["reason"]
        stages = [e.data["stage"] for e in told if e.kind == EventKind.KILL]
        assert stages == ["triggered", "done"], stages
        assert node.risk.state is TradingState.HALTED
        assert (node.storage.kv_get(RISK_STATE_KEY) or {}).get("state") != "HALTED"
        with sqlite3.connect(tmp_path / "tg.db") as db:
            db.execute("DROP TRIGGER refuse")
        node.risk.flush()  # the halt and the kill are stored with the next save
        stored = node.storage.kv_get(RISK_STATE_KEY)
        assert stored["state"] == "HALTED" and stored["last_kill"]["reason"] == "disk"
    finally:
        node.close()
