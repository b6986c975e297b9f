from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tradeguard.model.enums import LiquiditySide, OrderStatus, Side
from tradeguard.model.events import Event
from tradeguard.model.fill import Fill
from tradeguard.model.frozen import quick_init
from tradeguard.model.reports import OrderReport


def test_quick_init_keeps_defaults_factories_and_frozenness() -> None:
    a, b = Event("order.filled", 5), Event(kind="fill", ts=6, severity="critical")
    assert (a.data, a.venue, a.severity) == ({}, "", "info")
    assert a.data is not Event("x", 1).data  # a fresh dict each time, as default_factory gives
    assert (b.kind, b.ts, b.severity) == ("fill", 6, "critical")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.kind = "other"  # type: ignore[misc]
    assert dataclasses.replace(a, ts=9) == Event("order.filled", 9)
    with pytest.raises(TypeError):
        Event("only kind")  # type: ignore[call-arg]


def test_quick_init_builds_the_same_fill_and_report_as_keywords() -> None:
    fill = Fill("paper", "ETH/BTC", "c1", "v1", "t1", Side.BUY, Decimal("0.05"),
                Decimal("2"), Decimal("0.0001"), "BTC", LiquiditySide.TAKER, 7)  # fmt: skip
    assert (
        fill.fee_quote is None
        and fill.base == "ETH"
        and hash(fill) == hash(dataclasses.replace(fill))
    )
    report = OrderReport("paper", "ETH/BTC", "c1", "v1", OrderStatus.FILLED, filled=Decimal("2"))
    assert (report.avg_price, report.price, report.ts) == (Decimal(0), None, 0)


def test_quick_init_refuses_a_class_it_cannot_speed_up() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        x: int

    with pytest.raises(TypeError, match="not a frozen slotted dataclass"):
        quick_init(Mutable)


def test_quick_init_calls_post_init_last_and_the_object_stays_frozen() -> None:
    @quick_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int
        y: int = 0

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError(f"x={self.x} is below 0")
            object.__setattr__(self, "y", self.y or self.x * 2)

    assert (Checked(3).y, Checked(3, 1).y) == (6, 1)
    with pytest.raises(ValueError, match="x=-1"):
        Checked(-1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Checked(1).x = 2  # type: ignore[misc]
