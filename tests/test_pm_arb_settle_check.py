"""The cross_venue strategy's settlement check: P&L booked, a mismatch alerted with its loss."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pm_arb_support import StubGateway
from tradeguard.alerts.rules import alert_for
from tradeguard.model.enums import LiquiditySide, Side
from tradeguard.model.events import EventKind
from tradeguard.model.fill import Fill
from tradeguard.model.money import ZERO
from tradeguard.strategies.base import create
from tradeguard.strategies.cross_venue.fees import FeeModel
from tradeguard.strategies.cross_venue.limits import OpenPair
from tradeguard.strategies.cross_venue.strategy import CrossVenueStrategy

MAP = Path(__file__).resolve().parents[1] / "examples" / "pm_map.toml"
PM_YES = "fed-above-4pct-dec:YES/PUSD"
K_NO = "KXFED-26DEC-T4.00:NO/USD"
D = Decimal


class Ctx:
    """A node context reduced to what the strategy reads: clock, gateways."""

    def __init__(self) -> None:
        self.gateways = {
            "polymarket": StubGateway("polymarket", FeeModel.default("polymarket")),
            "kalshi": StubGateway("kalshi", FeeModel.default("kalshi")),
        }

    def now_ms(self) -> int:
        return 1_780_000_000_000

    def position(self, strategy_id, venue, symbol):  # pragma: no cover - not read here
        raise AssertionError("not used")

    def free(self, venue, asset):  # pragma: no cover
        return ZERO

    def equity(self):  # pragma: no cover
        return ZERO

    def instrument(self, venue, symbol):
        return None

    def instruments(self, venue):
        return []

    def quote(self, symbol):
        return None

    def emit(self, intent) -> None:  # pragma: no cover
        raise AssertionError("the strategy trades through gateways only")

    def open_order_count(self, strategy_id, symbol) -> int:
        return 0

    def execution_gateway(self, strategy_id, venue):
        return self.gateways[venue]


def settle_fill(venue: str, symbol: str, price: str) -> Fill:
    return Fill(
        venue, symbol, "stl1", "stl1", "settle-stl1", Side.SELL, D(price), D(10), ZERO,
        "USD", LiquiditySide.MAKER, 1,
    )  # fmt: skip


def holding_strategy() -> tuple[CrossVenueStrategy, Ctx]:
    strat = create(
        "cross_venue", "pmarb", "polymarket", "", {"map": str(MAP), "kalshi_venue": "kalshi"}
    )
    assert isinstance(strat, CrossVenueStrategy)
    ctx = Ctx()
    strat.bind(ctx)
    strat.book.open.append(
        OpenPair("fed-dec-above-4", "fed-2026-12", 0, D(10), D("9.40"), 0,
                 ("polymarket", "kalshi"), (PM_YES, K_NO))
    )  # fmt: skip
    return strat, ctx


def test_pair_resolved_alike_books_its_pnl_and_raises_no_alert() -> None:
    strat, ctx = holding_strategy()
    strat.on_fill(settle_fill("polymarket", PM_YES, "1"))
    assert strat.check_settlements() == []  # one side resolved: not yet
    strat.on_fill(settle_fill("kalshi", K_NO, "0"))
    (event,) = strat.check_settlements()
    assert event.kind == EventKind.ARB_SETTLED and event.severity == "info"
    assert event.data["pnl"] == "0.60" and event.data["mismatch"] == ""
    assert strat.book.open == [] and strat.book.realised_today == D("0.60")
    assert alert_for(event) is None
    assert ctx.gateways["polymarket"].events == [event]


def test_mismatched_resolution_publishes_a_critical_alert_with_the_loss() -> None:
    strat, _ = holding_strategy()
    strat.on_fill(settle_fill("polymarket", PM_YES, "0"))  # Polymarket resolved NO
    strat.on_fill(settle_fill("kalshi", K_NO, "0"))  # Kalshi resolved YES: both legs lose
    (event,) = strat.check_settlements()
    assert event.severity == "critical"
    assert event.data["payout"] == "0" and event.data["mismatch_loss"] == "10"
    assert event.data["pnl"] == "-9.40"
    alert = alert_for(event)
    assert alert is not None and alert.severity == "critical"
    assert "polymarket resolved no, kalshi yes" in alert.text
    assert "loss 10 USD" in alert.text and "P&L -9.40 USD" in alert.text


def test_a_settlement_reports_what_it_realised_to_the_risk_engine_once_per_pair() -> None:
    strat, ctx = holding_strategy()
    strat.book.open.append(  # a second pair, booked by another record
        OpenPair("fed-dec-above-4", "fed-2026-12", 0, D(5), D("4.70"), 0,
                 ("polymarket", "kalshi"), (PM_YES, K_NO), record_id=7)
    )  # fmt: skip
    strat.on_fill(settle_fill("polymarket", PM_YES, "0"))
    strat.on_fill(settle_fill("kalshi", K_NO, "0"))  # both legs lose
    strat.check_settlements()
    told = ctx.gateways["polymarket"].settled
    assert [(symbols, pnl) for _key, symbols, pnl in told] == [
        ((PM_YES, K_NO), D("-9.40")),
        ((PM_YES, K_NO), D("-4.70")),
    ]
    assert len({key for key, _s, _p in told}) == 2  # each pair counted, neither twice
    assert strat.check_settlements() == [] and len(told) == 2


def test_ordinary_fills_say_nothing_about_resolution_and_state_survives_a_restart() -> None:
    strat, _ = holding_strategy()
    strat.on_fill(settle_fill("polymarket", PM_YES, "1").__class__(
        "polymarket", PM_YES, "c1", "v1", "t1", Side.BUY, D(1), D(1), ZERO, "PUSD",
        LiquiditySide.TAKER, 1,
    ))  # fmt: skip
    strat.on_fill(settle_fill("kalshi", K_NO, "0"))
    assert strat.watch.resolved == {K_NO: strat.watch.resolved[K_NO]}
    again, _ = holding_strategy()
    again.book.open.clear()
    again.restore(strat.state())
    assert again.book.open == strat.book.open
    assert again.watch.resolved == strat.watch.resolved


def test_a_leg_paid_out_at_settlement_is_no_longer_expected_on_its_venue() -> None:
    # The node's settlement fill pays the tokens out before the strategy's next settle check;
    # reconciliation must not then report them missing from the venue.
    strat, _ = holding_strategy()
    assert strat.held_assets() == {
        ("polymarket", "fed-above-4pct-dec:YES"): D(10),
        ("kalshi", "KXFED-26DEC-T4.00:NO"): D(10),
    }
    strat.on_fill(settle_fill("polymarket", PM_YES, "1"))
    assert strat.held_assets() == {("kalshi", "KXFED-26DEC-T4.00:NO"): D(10)}
    strat.on_fill(settle_fill("kalshi", K_NO, "0"))
    assert strat.held_assets() == {}


def test_a_lone_held_leg_is_released_with_its_pnl_when_its_market_resolves() -> None:
    strat, _ = holding_strategy()
    strat.book.open.clear()
    strat.book.open.append(
        OpenPair("fed-dec-above-4", "fed-2026-12", 0, D(10), D("4.17"), 0, ("kalshi",), (K_NO,))
    )
    assert strat.check_settlements() == []  # unresolved: still held
    strat.on_fill(settle_fill("kalshi", K_NO, "1"))  # Kalshi resolved NO: the leg pays 1
    (event,) = strat.check_settlements()
    assert event.data["pnl"] == "5.83" and event.data["payout"] == "10"
    assert "held leg" in event.data["message"]
    assert strat.book.open == [] and strat.book.realised_today == D("5.83")


class ListedCtx(Ctx):
    """Both venues list every outcome of the map; the node's clock reads `now`."""

    def __init__(self, now: int) -> None:
        super().__init__()
        self.now = now

    def now_ms(self) -> int:
        return self.now

    def instrument(self, venue, symbol):
        return object()


def test_a_pair_past_its_resolution_time_is_not_entered_but_its_held_legs_settle() -> None:
    strat, _ = holding_strategy()
    resolves = strat.market_map.pairs["fed-dec-above-4"].polymarket.resolves_at_ms
    before = ListedCtx(resolves - 1)
    strat.bind(before)
    strat.on_start()
    assert strat.scanner is not None and PM_YES in strat.scanner.symbols("polymarket")
    strat.on_stop()
    late, _ = holding_strategy()
    late.bind(ListedCtx(resolves))  # the node's clock, not today's date
    late.on_start()  # held legs keep the strategy up although no pair may be entered
    assert late.scanner is not None and late.scanner.symbols("polymarket") == []
    late.on_fill(settle_fill("polymarket", PM_YES, "1"))
    late.on_fill(settle_fill("kalshi", K_NO, "0"))
    (event,) = late.check_settlements()
    assert event.data["pnl"] == "0.60" and late.book.open == []


def test_the_run_reports_each_settlement_a_mismatch_named() -> None:
    import io

    from tradeguard.cli.pm_arb_run import print_settlements

    strat, _ = holding_strategy()
    strat.on_fill(settle_fill("polymarket", PM_YES, "0"))
    strat.on_fill(settle_fill("kalshi", K_NO, "0"))
    strat.check_settlements()
    out = io.StringIO()
    print_settlements(strat.settled, out)
    [line] = out.getvalue().splitlines()
    assert line.startswith("fed-dec-above-4 d0 settled: MISMATCH pair fed-dec-above-4: "), line
    assert "polymarket resolved no, kalshi yes" in line and line.endswith("P&L -9.40 USD"), line
