"""An event a record or settlement kept in its outbox is announced at the next start unless the
audit log holds that very event: another event of the same kind, time and strategy (two pairs
settled within one millisecond) does not stand in for it (SQLite and PostgreSQL)."""

from __future__ import annotations

from tradeguard.execution.outbox import OUTBOX_KEY, announce_outbox, event_json
from tradeguard.model.events import Event, EventKind
from tradeguard.storage import Storage

pytest_plugins = ["storage_fixtures"]

TS = 1_780_000_000_000


def _settled(pair_id: str, pnl: str) -> Event:
    data = {"pair_id": pair_id, "path": f"{pair_id} d1", "pnl": pnl, "message": f"{pair_id} P&L"}
    return Event(EventKind.ARB_SETTLED, TS, data, "kalshi", f"{pair_id}:YES/USD", "pmarb", "info")


def test_an_other_pairs_settlement_in_the_same_ms_does_not_hide_the_kept_one(
    store: Storage,
) -> None:
    store.append_events([_settled("fed", "1.5")])  # published and audited before
    kept = _settled("cpi", "-2")  # committed with its settlement, killed before the bus
    store.kv_set(OUTBOX_KEY.format("pmarb"), [event_json(kept)])
    told: list[Event] = []
    assert announce_outbox(store, "pmarb", told.append) == 1
    [event] = told
    assert event.data["pair_id"] == "cpi" and event.data["pnl"] == "-2", event
    assert store.kv_get(OUTBOX_KEY.format("pmarb")) is None


def test_the_kept_event_the_audit_log_holds_is_not_announced_again(store: Storage) -> None:
    kept = _settled("cpi", "-2")
    store.append_events([kept])  # published and audited; the kill came before the removal
    store.kv_set(OUTBOX_KEY.format("pmarb"), [event_json(kept)])
    told: list[Event] = []
    assert announce_outbox(store, "pmarb", told.append) == 0
    assert told == [] and store.kv_get(OUTBOX_KEY.format("pmarb")) is None
