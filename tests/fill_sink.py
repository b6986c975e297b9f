"""A venue listener for tests that keeps the fills it is told of and ignores the rest."""

from __future__ import annotations

from tradeguard.model.fill import Fill
from tradeguard.model.reports import OrderReport


class FillSink:
    """Collects every fill a venue reports, in order; reports and balances are dropped.

    Pass a list to append into a list the test already holds."""

    def __init__(self, fills: list[Fill] | None = None) -> None:
        self.fills: list[Fill] = [] if fills is None else fills

    def on_order_report(self, report: OrderReport) -> None:
        pass

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_balances(self, venue: str, balances: object) -> None:
        pass
