"""A count of outside money whose transaction fails moves nothing; tried again, it moves the
baselines once. Real ccxt against the sandbox on 127.0.0.1; a real SQLite database whose write
of the count a trigger fails, and a real PostgreSQL one whose commit a deferred trigger fails,
as a full disk or a lost connection would."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from running_support import running
from test_cash_flow_counting import _quote
from test_spot_short_clear_sandbox import _toml
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.node import TradingNode
from tradeguard.node.cash_flows import apply_cash_flows, flows_due
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange

D = Decimal

SQLITE_FAIL = (
    "CREATE TRIGGER fail_count BEFORE UPDATE OF counted_ts ON balance_adjustments "
    "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
)
PG_FAIL = (
    "CREATE FUNCTION fail_count() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'disk I/O error'; END $$",
    # deferred: it fires at COMMIT, so the count's commit itself fails
    "CREATE CONSTRAINT TRIGGER fail_count AFTER UPDATE ON balance_adjustments "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_count()",
)


def _sql(url: str, *statements: str) -> None:
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:  # fmt: skip
        for statement in statements:
            conn.execute(statement)


def _break(url: str) -> None:
    _sql(url, SQLITE_FAIL) if url.startswith("sqlite") else _sql(url, *PG_FAIL)


def _heal(url: str) -> None:
    suffix = "" if url.startswith("sqlite") else " ON balance_adjustments"
    _sql(url, "DROP TRIGGER fail_count" + suffix)


def figures(node: TradingNode) -> dict[str, D | None]:
    risk, run = node.risk, node.run_equity
    return {
        "day_start": risk.day_start_equity, "week_start": risk.week_start_equity,
        "peak": risk.peak_equity, "run_start": run.start, "run_peak": run.peak,
        "run_last": run.last, "summary_day_start": node._day_start_equity,
    }  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.usefixtures("vault_env")
async def test_a_count_whose_commit_fails_moves_the_baselines_once_when_retried(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    async with seeded_exchange() as ex:
        cfg, _ = _toml(tmp_path, ex)
        if backend == "postgresql":
            node_cfg = cfg.node.model_copy(
                update={"database_url": request.getfixturevalue("pg_url")}
            )
            cfg = cfg.model_copy(update={"node": node_cfg})
        url = cfg.node.database_url
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000)  # 100,000 USDT + 1 BTC: 150,000
            before = figures(node)
            assert before["day_start"] == D(150_000)
            _break(url)
            ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("USDT").free += D(15_000)
            await reconcile_all(node, "periodic")  # books the deposit found
            with pytest.raises(DBAPIError, match="disk I/O error"):
                apply_cash_flows(node)
            assert figures(node) == before  # was: every baseline 15,000 up, nothing committed
            assert flows_due(node)  # the next equity figure counts it again
            _heal(url)
            assert apply_cash_flows(node) == D(15_000)
            after = figures(node)
            moved = {k: after[k] - before[k] for k in before}  # type: ignore[operator]
            # was 30,000 each: the failed count's move, then the retry's
            assert set(moved.values()) == {D(15_000)}, moved
            assert not flows_due(node)
            assert apply_cash_flows(node) == 0
            await _quote(node, "BTC/USDT", 50_000)
            assert node.risk.peak_equity == D(165_000)
            assert node.figures().total_pnl == 0
