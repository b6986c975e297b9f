"""One balance view across an exchange, a DEX wallet and a prediction market: API and CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.cli import main
from tradeguard.model.balance import Balance
from tradeguard.portfolio.combined import Holding, combine, holdings_from_rows
from tradeguard.portfolio.portfolio import Portfolio
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal


def test_assets_sum_across_venues_and_each_venue_keeps_its_part() -> None:
    view = combine(
        [
            Holding("binance", "USDT", D("900"), D("900")),
            Holding("binance", "BTC", D("0.5"), D("30000")),
            Holding("dex", "USDT", D("100"), D("100")),
            Holding("dex", "ETH", D("2"), D("6000")),
            Holding("polymarket", "USDC", D("250"), D("250")),
            Holding("polymarket", "YES-XYZ", D("40"), None),
        ],
        "USDT",
    )
    doc = view.to_json()
    usdt = next(a for a in doc["assets"] if a["asset"] == "USDT")
    assert usdt == {"asset": "USDT", "total": "1000", "value": "1000",
                    "venues": {"binance": "900", "dex": "100"}}  # fmt: skip
    assert doc["venues"] == {"binance": "30900", "dex": "6100", "polymarket": "250"}
    assert doc["total_value"] == "37250"
    assert doc["unpriced"] == ["YES-XYZ"]
    unpriced = next(a for a in doc["assets"] if a["asset"] == "YES-XYZ")
    assert unpriced["value"] is None and unpriced["venues"] == {"polymarket": "40"}
    assert [a["asset"] for a in doc["assets"]][:2] == ["BTC", "ETH"]  # largest value first


def test_the_gas_asset_is_valued_at_its_wrapped_token() -> None:
    p = Portfolio("USD")
    p.set_balances("dex", [Balance("dex", "ETH", D("3")), Balance("dex", "WETH", D("1"))])
    p.mark("WETH/USD", D("2000"))
    from tradeguard.portfolio.combined import holdings_of

    view = combine(holdings_of(p), "USD")
    assert view.assets["ETH"].value == D("6000") and view.assets["WETH"].value == D("2000")
    assert view.total_value == D("8000")
    stored = holdings_from_rows(
        [{"venue": "dex", "asset": "WETH", "total": D("1"), "usd_value": D("2000")},
         {"venue": "dex", "asset": "ETH", "total": D("3"), "usd_value": None}]
    )  # fmt: skip
    assert combine(stored, "USD").total_value == D("8000")


async def test_api_combined_balances_show_the_dex_wallet_beside_the_exchange(
    tmp_path: Path, data_dir: Path
) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=60)
    node.portfolio.set_balances("dex", [Balance("dex", "USDT", D("500")),
                                        Balance("dex", "WETH", D("2"))])  # fmt: skip
    node.portfolio.mark("WETH/USDT", D("2500"))
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get("/api/v1/balances/combined", headers=bearer(tokens.viewer))
        anonymous = await http.get("/api/v1/balances/combined")
    assert r.status_code == 200 and anonymous.status_code == 401
    doc = r.json()
    usdt = next(a for a in doc["assets"] if a["asset"] == "USDT")
    paper_usdt = {b.asset: b.total for b in node.portfolio.book("paper").all()}["USDT"]
    assert D(usdt["total"]) == paper_usdt + 500
    assert set(usdt["venues"]) == {"paper", "dex"} and D(usdt["venues"]["dex"]) == 500
    assert D(doc["venues"]["dex"]) == D("5500")
    assert D(doc["total_value"]) == sum(D(v) for v in doc["venues"].values())
    assert doc["valuation_asset"] == node.portfolio.valuation_asset
    node.close()


def test_cli_balances_combined_reads_the_stored_balances(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'node.db'}"
    db = Database(url)
    db.migrate()
    storage = Storage(db)
    with storage.transaction():
        storage.upsert_balances("binance", [Balance("binance", "USDT", D("900"))], ts=1,
                                usd_values={"USDT": D("900")})  # fmt: skip
        storage.upsert_balances("dex", [Balance("dex", "USDT", D("100")),
                                         Balance("dex", "WETH", D("1")),
                                         Balance("dex", "ETH", D("0.5"))], ts=1,
                                usd_values={"USDT": D("100"), "WETH": D("2000")})  # fmt: skip
    db.engine.dispose()
    capsys.readouterr()
    assert main(["balances", "--combined", "--db", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {v: D(q) for v, q in doc["venues"].items()} == {"binance": 900, "dex": 3100}
    assert D(doc["total_value"]) == 4000
    assert main(["balances", "--combined", "--db", url]) == 0
    table = capsys.readouterr().out
    assert "binance" in table and "dex" in table and "4,000.00" in table


class _Wallet:
    """A venue that reports fixed balances."""

    def __init__(self, name: str, balances: dict[str, str]) -> None:
        self.name = name
        self.balances = [Balance(name, a, D(q)) for a, q in balances.items()]

    async def fetch_balances(self) -> list[Balance]:
        return self.balances


async def test_cli_combined_values_each_exchange_at_its_own_prices_and_names_a_borrowed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tradeguard.bus import EventBus
    from tradeguard.clock import SimulatedClock
    from tradeguard.execution.balance_sync import BalanceSync

    url = f"sqlite:///{tmp_path / 'node.db'}"
    db = Database(url)
    db.migrate()
    storage = Storage(db)
    portfolio = Portfolio("USDT")
    portfolio.mark("BTC/USDT", D("50000"), "binance")
    portfolio.mark("BTC/USDT", D("50100"), "kraken")  # the latest of any venue
    venues = {
        "binance": _Wallet("binance", {"BTC": "1", "USDT": "10"}),
        "kraken": _Wallet("kraken", {"BTC": "1"}),
        "okx": _Wallet("okx", {"BTC": "2"}),  # no prices of its own
    }
    sync = BalanceSync(venues, portfolio, storage, EventBus(), SimulatedClock(1_000))  # type: ignore[arg-type]
    with storage.transaction():
        await sync.sync_once()
    db.engine.dispose()
    capsys.readouterr()
    assert main(["balances", "--combined", "--db", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {v: D(q) for v, q in doc["venues"].items()} == {
        "binance": D("50010"), "kraken": D("50100"), "okx": D("100200"),
    }  # fmt: skip
    assert doc["priced_elsewhere"] == {"okx": ["BTC"]}
    assert main(["balances", "--combined", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "okx: BTC valued at another venue's price (okx has none)" in out
    assert "binance: BTC" not in out and "kraken: BTC" not in out


def test_api_combined_view_values_each_venue_at_its_own_marks() -> None:
    from tradeguard.portfolio.combined import holdings_of

    p = Portfolio("USDT")
    for venue in ("binance", "kraken", "okx"):
        p.set_balances(venue, [Balance(venue, "BTC", D("1"))])
    p.mark("BTC/USDT", D("50000"), "binance")
    p.mark("BTC/USDT", D("50100"), "kraken")
    view = combine(holdings_of(p), "USDT")
    assert view.venue_values == {"binance": D("50000"), "kraken": D("50100"), "okx": D("50100")}
    assert view.priced_elsewhere == {"okx": ["BTC"]}
    assert view.assets["BTC"].value == D("150200")
