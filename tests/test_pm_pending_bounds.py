"""Polymarket reconciliation finishes after a long stop: the page cap of its listings is a
venue setting (`max_pages`), a pending trade whose read by id the CLOB refuses neither halts
every reconciliation nor stays stored past its week, the pending trades kept past the cap are
the newest by trade time, and the reads by id run a few at a time, each id once."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from pm_merge_support import buy, demo_clob, pm_config, running
from test_pm_node_crash import POLY_YES
from test_pm_whole_second_catch_up import _checkpoint_at
from tradeguard.config import Config, load_config
from tradeguard.execution.pending_trades import PENDING_KEY
from tradeguard.model.enums import TradingState
from tradeguard.model.errors import ConfigError
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from tradeguard.venues.polymarket.pending import PENDING_KEEP_MS

DAY_MS = 86_400_000


def _with_max_pages(cfg: Config, pages: int) -> Config:
    venue = cfg.venues[0].model_copy(update={"max_pages": pages})
    return cfg.model_copy(update={"venues": [venue]})


def _store_pending(cfg: Config, ids: dict[str, int]) -> None:
    db = Database(cfg.node.database_url)
    try:
        Storage(db).kv_set(PENDING_KEY, {"polymarket": ids})
    finally:
        db.dispose()


async def test_a_listing_past_the_page_cap_finishes_once_the_venues_max_pages_is_raised(
    tmp_path, monkeypatch
) -> None:
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        markets = len(server.markets)
        async with running(cfg) as node:
            started = node.clock.now_ms()
            for _ in range(markets + 1):  # one trade more than a page holds
                await buy(node, POLY_YES, Decimal(5))
        server.page_size = markets  # every market on one page, the trades on two
        _checkpoint_at(cfg, started)  # the last reconciliation before the trades
        async with running(_with_max_pages(cfg, 1)) as node:
            report = node.storage.kv_get("reconcile.report")
            assert not report["ok"] and node.risk.state is TradingState.HALTED
            assert "max_pages=1" in report["reason"], report["reason"]
            assert "max_pages setting" in report["reason"], report["reason"]
        async with running(_with_max_pages(cfg, 2)) as node:
            report = node.storage.kv_get("reconcile.report")
            assert report["ok"], report
            assert node.risk.state is not TradingState.HALTED
            assert node.venues["polymarket"].max_pages == 2


def test_max_pages_out_of_range_is_a_config_error_naming_it(tmp_path) -> None:
    path = tmp_path / "tg.toml"
    path.write_text(
        '[[venues]]\nname = "pm"\nkind = "polymarket"\nrest_url = "http://127.0.0.1:9"\n'
        "max_pages = 0\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    assert "max_pages" in str(err.value) and "greater than or equal to 1" in str(err.value)


async def test_a_refused_pending_id_is_kept_without_halting_and_let_go_after_its_week(
    tmp_path, monkeypatch, caplog
) -> None:
    """The CLOB refuses a read by an id it does not take (HTTP 400): the start warns of it,
    keeps it and trades on; one matched more than a week ago is let go unread, named."""
    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            now = node.clock.now_ms()
        recent, old = "bad id!", "old bad id!"
        _store_pending(cfg, {recent: now - 3_600_000, old: now - PENDING_KEEP_MS - DAY_MS})
        with caplog.at_level(logging.WARNING):
            async with running(cfg) as node:
                report = node.storage.kv_get("reconcile.report")
                assert report["ok"], report
                assert node.risk.state is not TradingState.HALTED
                assert node.storage.kv_get(PENDING_KEY) == {"polymarket": {recent: now - 3_600_000}}
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(repr(recent) in m and "HTTP 400" in m for m in said), said
        assert any(repr(old) in m and "let go unread" in m for m in said), said


def test_past_the_cap_the_oldest_pending_trade_goes_not_the_first_added() -> None:
    from tradeguard.model.enums import LiquiditySide, Side
    from tradeguard.model.fill import Fill
    from tradeguard.venues.polymarket.pending import PENDING_KEPT, follow_pending

    def fill(ts: int) -> list[Fill]:
        return [Fill("polymarket", POLY_YES, "", "0xh", "t", Side.BUY, Decimal("0.5"),
                     Decimal(1), Decimal(0), "PUSD", LiquiditySide.TAKER, ts)]  # fmt: skip

    now = 10 * PENDING_KEEP_MS
    pending: dict[str, int] = {}
    for n in range(PENDING_KEPT - 1):  # recent trades first
        follow_pending(pending, {"id": f"t{n}", "status": "MATCHED"}, fill(now - n), now)
    # then an older one (a listing of older trades read later), then a new one
    follow_pending(pending, {"id": "older", "status": "MATCHED"}, fill(now - DAY_MS), now)
    follow_pending(pending, {"id": "new", "status": "MATCHED"}, fill(now), now)
    assert len(pending) == PENDING_KEPT
    assert "older" not in pending and "t0" in pending and "new" in pending


async def test_reads_by_id_run_a_few_at_a_time_each_id_once(tmp_path, monkeypatch) -> None:
    from tradeguard.execution.pending_trades import FOLLOW_CONCURRENCY
    from tradeguard.venues.polymarket.venue import PolymarketVenue

    inflight, most = 0, 0
    page = PolymarketVenue._trades_page

    async def counted(self: PolymarketVenue, query: dict[str, str]) -> Any:
        nonlocal inflight, most
        by_id = "id" in query
        inflight += by_id
        most = max(most, inflight)
        try:
            return await page(self, query)
        finally:
            inflight -= by_id

    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            started = node.clock.now_ms()
        ids = {f"gone-{n}": started - 3_600_000 - n for n in range(12)}
        _store_pending(cfg, ids)
        server.faults.latency_ms_by_endpoint["/data/trades"] = 20
        monkeypatch.setattr(PolymarketVenue, "_trades_page", counted)
        before = len(server.requests)
        async with running(cfg) as node:
            assert node.storage.kv_get("reconcile.report")["ok"]
            assert node.storage.kv_get(PENDING_KEY) == {"polymarket": {}}
        read = [r["query"]["id"] for r in list(server.requests)[before:] if r["query"].get("id")]
        assert sorted(read) == sorted(ids)  # each id once, none other
        assert 1 < most <= FOLLOW_CONCURRENCY, most  # a few at a time, never all at once


async def test_a_refused_pending_id_is_warned_of_once_not_at_every_reconciliation(
    tmp_path, monkeypatch, caplog
) -> None:
    """A refused id is read again at every reconciliation (once a minute by default) for a
    week: its warning is said once, not ten thousand times a week for each such id."""
    from tradeguard.execution.reconcile import reconcile_and_gate

    async with demo_clob() as (server, keys):
        cfg = pm_config(tmp_path, monkeypatch, server, keys)
        async with running(cfg) as node:
            now = node.clock.now_ms()
        refused = "bad id!"
        _store_pending(cfg, {refused: now - 3_600_000})
        with caplog.at_level(logging.WARNING):
            async with running(cfg) as node:
                before = len(server.requests)
                for _ in range(2):
                    assert (await reconcile_and_gate(node)).ok
                read = [r for r in list(server.requests)[before:] if r["query"].get("id")]
                assert len(read) == 2  # still read again at each reconciliation
                assert refused in node.venues["polymarket"].pending_trades
        said = [
            r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and repr(refused) in r.getMessage()
        ]  # fmt: skip
        assert len(said) == 1, said


def test_a_pending_trade_matched_in_the_future_is_let_go_a_week_after_it_was_seen() -> None:
    """A row whose match time is years ahead (a CLOB's clock or a hostile row) is followed
    from when it was seen: let go a week later, not kept (nor stored) for ever, never the
    newest trade the cap keeps over every real one."""
    from tradeguard.model.enums import LiquiditySide, Side
    from tradeguard.model.fill import Fill
    from tradeguard.venues.polymarket.pending import follow_pending

    def fill(ts: int) -> list[Fill]:
        return [Fill("polymarket", POLY_YES, "", "0xh", "t", Side.BUY, Decimal("0.5"),
                     Decimal(1), Decimal(0), "PUSD", LiquiditySide.TAKER, ts)]  # fmt: skip

    now = 10 * PENDING_KEEP_MS
    pending: dict[str, int] = {}
    follow_pending(pending, {"id": "ahead", "status": "MATCHED"}, fill(now + 5000 * DAY_MS), now)
    assert pending == {"ahead": now}
    later = now + PENDING_KEEP_MS + DAY_MS
    follow_pending(pending, {"id": "new", "status": "MATCHED"}, fill(later), later)
    assert pending == {"new": later}
