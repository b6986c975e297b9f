"""A DEX swap held unbooked is told: the node publishes `dex.swap_held` once per swap (the
`swap_held` alert says why) and its health check names the held swaps (details only to a
viewer asking `verbose`), the venue degraded until they are booked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tradeguard.alerts.config import AlertRules
from tradeguard.alerts.rules import alert_for
from tradeguard.bus import EventBus
from tradeguard.clock import SimulatedClock
from tradeguard.model.events import Event
from tradeguard.node.builder import _tie_dex_references
from tradeguard.node.health import _venues
from tradeguard.venues.uniswap_v2.held import SWAP_HELD, HeldSwaps

T0 = 1_700_000_000_000
WHY = "receipt of 0xab not booked: the wallet's balances around block 18 were not answered"


def _node(held: HeldSwaps) -> Any:
    venue = SimpleNamespace(held=held, user_stream=None)
    risk = SimpleNamespace(venue_breakers={})
    return SimpleNamespace(venues={"dex": venue}, bus=EventBus(), clock=SimulatedClock(T0),
                           risk=risk)  # fmt: skip


def test_a_held_swap_is_published_once_and_raises_its_alert() -> None:
    held = HeldSwaps("dex", lambda: T0)
    node = _node(held)
    told: list[Event] = []
    node.bus.subscribe(told.append)
    _tie_dex_references(node)
    held.hold("tg-1", "WETH/USD", "0xab", WHY)
    held.hold("tg-1", "WETH/USD", "0xab", WHY)  # asked again: told once
    (event,) = told
    assert (event.kind, event.venue, event.symbol) == (SWAP_HELD, "dex", "WETH/USD")
    assert event.data["tx_hash"] == "0xab" and event.data["reason"] == WHY
    alert = alert_for(event)
    assert alert is not None and alert.rule == "swap_held" and alert.severity == "warning"
    assert "tg-1" in alert.text and "0xab" in alert.text and WHY in alert.text
    assert alert.dedupe_key == "swap_held:dex:0xab"
    assert AlertRules().enabled("swap_held")


def test_the_health_check_names_held_swaps_until_they_are_booked() -> None:
    held = HeldSwaps("dex", lambda: T0)
    node = _node(held)
    assert _venues(node, False, T0)["status"] == "ok"
    held.hold("tg-1", "WETH/USD", "0xab", WHY)
    check = _venues(node, False, T0)
    assert check["status"] == "degraded"
    assert check["venues"]["dex"]["held_swaps"] == 1 and "held" not in check["venues"]["dex"]
    (shown,) = _venues(node, True, T0)["venues"]["dex"]["held"]
    assert shown == {"client_order_id": "tg-1", "symbol": "WETH/USD", "tx_hash": "0xab",
                     "reason": WHY, "since_ms": T0}  # fmt: skip
    held.release("tg-1")
    check = _venues(node, False, T0)
    assert check["status"] == "ok" and "held_swaps" not in check["venues"]["dex"]
