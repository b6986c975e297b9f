"""The event bus: handlers by kind prefix, in subscription order, whatever was published before."""

from __future__ import annotations

from tradeguard.bus import EventBus
from tradeguard.model.events import Event


def test_handlers_subscribed_after_a_kind_was_published_receive_it_next_time() -> None:
    bus = EventBus()
    seen: list[tuple[str, str]] = []
    everything = lambda e: seen.append(("all", e.kind))  # noqa: E731
    orders = lambda e: seen.append(("order", e.kind))  # noqa: E731
    bus.subscribe(everything)
    bus.publish(Event("order.filled", 1))
    bus.publish(Event("fill", 1))
    bus.subscribe(orders, "order.")
    bus.publish(Event("order.filled", 2))
    bus.publish(Event("fill", 2))
    bus.unsubscribe(everything)
    bus.publish(Event("order.filled", 3))
    assert seen == [
        ("all", "order.filled"),
        ("all", "fill"),
        ("all", "order.filled"),
        ("order", "order.filled"),
        ("all", "fill"),
        ("order", "order.filled"),
    ]


def test_a_failing_handler_does_not_stop_the_next_one() -> None:
    bus = EventBus()
    seen: list[int] = []

    def failing(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(failing, "risk.")
    bus.subscribe(lambda e: seen.append(e.ts), "risk.")
    bus.publish(Event("risk.approved", 7))
    bus.publish(Event("risk.approved", 8))
    assert seen == [7, 8]
