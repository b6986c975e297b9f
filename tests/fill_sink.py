"""Venue listeners for tests: one keeping the fills it is told of, one keeping reports too."""

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


class Reports(FillSink):
    """Collects every fill and every order report a venue sends, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[OrderReport] = []

    def on_order_report(self, report: OrderReport) -> None:
        self.reports.append(report)
