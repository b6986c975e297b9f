"""A pool pushed slowly, for longer than `twap_window_s`, becomes its own time-weighted
reference; with `reference_marks` configured the swap is also held to another venue's mark of
the same market (here the sandbox exchange's ETH/USDT, read with the real ccxt client), and
refused (`POOL_PRICE`) past `max_pool_deviation_pct` of it, or when that venue gives no mark.
Before, nothing but the pool's own past was looked at, and such a pool was traded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from dex_support import ChainThread, connected_venue, dex_order, running_chain
from test_ccxt_support import make_venue
from test_dex_pool_guard import _push
from tradeguard.clock import Clock
from tradeguard.config import Config
from tradeguard.model.enums import OrderStatus
from tradeguard.model.errors import DefinitiveVenueError
from tradeguard.model.price_guard import MarkGuard
from tradeguard.node.builder import _tie_dex_references
from tradeguard.venues.uniswap_v2.reference import venue_marks
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore


@pytest.fixture
def chain() -> Iterator[ChainThread]:
    yield from running_chain()


def _eth_book(ex, bid: str, ask: str) -> None:
    ex.set_book("ETHUSDT", bids=[(bid, "5")], asks=[(ask, "5")])


def _node(venues: dict[str, Any], guard: MarkGuard | None = None) -> SimpleNamespace:
    """What `_tie_dex_references` reads of a node: its venues, mark guard, clock and limits."""
    mark_guard = guard or MarkGuard(Decimal(30), Decimal(0))
    risk = SimpleNamespace(stale_data_s=60)
    return SimpleNamespace(
        venues=venues, data_venues={}, risk=SimpleNamespace(mark_guard=mark_guard),
        config=SimpleNamespace(risk=risk), clock=Clock(),
    )  # fmt: skip


@asynccontextmanager
async def _dex_and_cex(
    chain: ChainThread, ex, **kw: Any
) -> AsyncIterator[tuple[Any, Any, MemoryTxStore]]:
    """A DEX venue whose WETH/USD pool is held to venue cex's ETH/USDT mark, and that venue;
    both closed on leaving."""
    ex.add_market("ETHUSDT", "ETH", "USDT", "0.01", "0.0001", "0.0001", "5")
    cex = make_venue(ex, name="cex")
    store = MemoryTxStore()
    venue = await connected_venue(
        chain.deployment, store, reference_marks={"WETH/USD": ("cex", "ETH/USDT")}, **kw
    )
    try:
        yield venue, cex, store
    finally:
        await venue.close()
        await cex.close()


async def _refused(venue: Any, cid: str) -> str:
    """A 0.1 swap sent as `cid` is refused with POOL_PRICE: the refusal's text."""
    with pytest.raises(DefinitiveVenueError) as exc:
        await venue.submit(dex_order(cid, "0.1"))
    assert exc.value.code == "POOL_PRICE"
    return str(exc.value)


async def test_a_pool_that_became_its_own_reference_is_held_to_the_cex_mark(
    chain: ChainThread, ex
) -> None:
    async with _dex_and_cex(chain, ex, twap_window_s=10) as (venue, cex, store):
        _eth_book(ex, "1999", "2001")
        _tie_dex_references(_node({"dex": venue, "cex": cex}))
        _push(chain, 300)  # about -41 % ...
        chain.rpc("evm_mine", hex(300))  # ... held 30 windows: the pool's mean is about the push
        text = await _refused(venue, "slow-push")
        assert "WETH/USD pool's price 1184.25" in text, text
        assert "off the ETH/USDT mark of venue cex, 2000.000000 USDT" in text, text
        assert "venues.dex.reference_marks" in text and "max_pool_deviation_pct=5" in text
        assert store.rows == {}  # nothing journaled, nothing signed
        _eth_book(ex, "1180", "1190")  # the market moved there too: the pool is not pushed
        report = await venue.submit(dex_order("market-moved", "0.1"))
        assert report.status is OrderStatus.FILLED


async def test_a_reference_venue_that_gives_no_mark_refuses_the_swap(
    chain: ChainThread, ex
) -> None:
    cex = make_venue(ex, name="cex")  # lists BTC/USDT only
    store = MemoryTxStore()
    venue = await connected_venue(
        chain.deployment, store, reference_marks={"WETH/USD": ("cex", "ETH/USDT")}
    )
    venue.pool_guard.mark_of = venue_marks({"cex": cex})
    try:
        text = await _refused(venue, "no-mark")
        assert "no ETH/USDT mark from venue cex" in text, text
        assert "venues.dex.reference_marks" in text, text
        assert store.rows == {}
    finally:
        await venue.close()
        await cex.close()


async def test_a_stale_reference_mark_refuses_the_swap(chain: ChainThread, ex) -> None:
    """A ticker stamped three hours ago (its feed stopped) is no reference: the swap is refused,
    naming the mark's age and the risk engine's stale-data limit."""
    async with _dex_and_cex(chain, ex) as (venue, cex, store):
        _eth_book(ex, "1999", "2001")  # the pool's own price: only the mark's age is wrong
        ex.clock_offset_ms = -3 * 3600 * 1000  # the exchange stamps its ticker 3 h back
        _tie_dex_references(_node({"dex": venue, "cex": cex}))
        text = await _refused(venue, "stale-mark")
        assert "ETH/USDT mark of venue cex is 1080" in text and "s old" in text, text
        assert "risk.stale_data_s=60" in text, text
        assert store.rows == {}
        ex.clock_offset_ms = 0  # the feed is back
        report = await venue.submit(dex_order("fresh-mark", "0.1"))
        assert report.status is OrderStatus.FILLED


async def test_a_held_bad_print_on_the_reference_venue_is_not_the_reference(
    chain: ChainThread, ex
) -> None:
    """The node's mark guard holds ETH/USDT's drop from 2000 to 1185 on cex as a suspect print;
    the DEX check is held to the last accepted mark (2000), not to the held print."""
    async with _dex_and_cex(chain, ex, twap_window_s=10) as (venue, cex, store):
        guard = MarkGuard(Decimal(30), Decimal(0))
        assert guard.take("cex", "ETH/USDT", Decimal(2000), 1)
        assert not guard.take("cex", "ETH/USDT", Decimal(1185), 2)  # held as a suspect
        _eth_book(ex, "1180", "1190")  # the bad print is what the ticker shows
        _tie_dex_references(_node({"dex": venue, "cex": cex}, guard))
        _push(chain, 300)  # the pool pushed to about 1184 ...
        chain.rpc("evm_mine", hex(300))  # ... for long enough to be its own mean
        text = await _refused(venue, "held-print")
        assert "off the ETH/USDT mark of venue cex, 2000.000000 USDT" in text, text
        assert "1185.000000 USDT held as a suspect print" in text, text
        assert "risk.max_mark_jump_pct" in text, text
        assert store.rows == {}


async def test_a_reference_quote_wider_than_the_limit_refuses_the_swap(
    chain: ChainThread, ex
) -> None:
    """A bid of 100 and an ask of 4000 have a mid (2050) near the pool (about 2000), but a
    spread of 190 % says nothing of the market's price: the swap is refused, naming both."""
    async with _dex_and_cex(chain, ex) as (venue, cex, store):
        _eth_book(ex, "100", "4000")
        _tie_dex_references(_node({"dex": venue, "cex": cex}))
        text = await _refused(venue, "wide-mark")
        assert "bid 100.000000 USDT, ask 4000.000000 USDT" in text, text
        assert "spread of 190.24 % is wider than" in text, text
        assert "max_pool_deviation_pct=5" in text, text
        assert store.rows == {}


def _config(marks: dict[str, str], *others: dict[str, Any]) -> Config:
    """A DEX venue with `marks` beside `others` (by default one ccxt venue, binance)."""
    dex = {
        "name": "dex", "kind": "uniswap_v2", "symbols": ["WETH/USD"],
        "dex": {"router": "0x" + "1" * 40, "factory": "0x" + "2" * 40, "reference_marks": marks},
    }  # fmt: skip
    venues = others or ({"name": "binance", "kind": "ccxt", "exchange": "binance"},)
    return Config.model_validate(
        {"mode": "sandbox", "venues": [dex, *venues], "strategies": [], "data": []}
    )


def _config_refused(words: str, marks: dict[str, str], *others: dict[str, Any]) -> None:
    """`_config(marks, *others)` is refused on reference_marks, the error saying `words`."""
    with pytest.raises(ValueError, match="reference_marks") as exc:
        _config(marks, *others)
    assert words in str(exc.value), str(exc.value)


def test_reference_marks_name_a_pool_of_the_venue_and_another_venue() -> None:
    settings = _config({"WETH/USD": "binance:ETH/USDT"}).venues[0].dex
    assert settings is not None and settings.reference_of() == {"WETH/USD": ("binance", "ETH/USDT")}
    refusals = {
        "WETH/USD=ETH/USDT": "give a pool symbol and the venue and symbol whose mark it is held",
        "WETH/USD=kraken:ETH/USD": "of venue 'kraken', which is not another configured venue; "
        "venues: ['binance']",
        "WETH/USD=dex:WETH/USD": "of venue 'dex', which is not another configured venue",
        "TKA/USD=binance:TKA/USDT": "names pool 'TKA/USD', which it does not trade",
    }
    for given, words in refusals.items():
        pool, where = given.split("=")
        _config_refused(words, {pool: where})


def test_reference_marks_name_a_venue_that_gives_marks_in_the_pools_quote() -> None:
    """A reference venue that never gives a mark (a paper venue, a prediction market), or whose
    market is quoted in another currency than the pool (ETH/BTC for a USD pool), refused every
    swap, each with POOL_PRICE at run time; the configuration was taken. A dollar stablecoin
    stands for another (USD pool, USDT market)."""
    feed = {"name": "binance", "kind": "ccxt", "exchange": "binance", "data_only": True}
    paper = {"name": "paper", "kind": "paper", "exchange": "binance", "data_venue": "binance"}
    kalshi = {"name": "kalshi", "kind": "kalshi"}
    ok = _config({"WETH/USD": "binance:ETH/USDC"}, feed, paper)
    assert ok.venues[0].dex is not None
    refusals = {
        "paper:ETH/USDT": "venue 'paper' is a paper venue, which gives no mark; name the venue "
        "whose data it fills on, 'binance'",
        "kalshi:ETH/USD": "venue 'kalshi' is a kalshi venue, which gives no mark",
        "binance:ETH/BTC": "'ETH/BTC' is quoted in BTC, the pool 'WETH/USD' in USD",
    }
    for where, words in refusals.items():
        _config_refused(words, {"WETH/USD": where}, feed, paper, kalshi)
