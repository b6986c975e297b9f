"""`tradeguard transfer --amount` takes what an asset can move: no more decimal places than the
finest asset (18, a wei). An amount of a billion places (1e-99999999999) passed the check,
reached the venue, and its refusal tried to write the amount out in full: a MemoryError, not the
one-line error; one finer than the arithmetic's 28 digits was taken as equal to the venue's
difference and recorded as moved while the ledger booked another figure."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cash_flow_support import _cli
from test_spot_short_clear_sandbox import _start, _toml
from tradeguard.cli.main import build_parser
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

D = Decimal


@pytest.mark.usefixtures("vault_env")
async def test_an_amount_finer_than_any_asset_is_refused_in_one_line_and_books_nothing(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        assert await _start(cfg) == ("ACTIVE", "", "")  # the ledger opens at 1 BTC
        acc = ex.engine.accounts[ex.account_id(ALICE_KEY)]
        acc.bal("BTC").free += D("0.5")  # deposited while no node runs
        base = ["transfer", "--config", str(path), "--venue", "binance", "--asset", "BTC"]
        for amount in ("1e-99999999999", "0.50000000000000000000000000001"):
            code, out, err = await _cli(*base, "--amount", amount, "--reason", "x")
            assert code == 2, (code, out, err[-2000:])
            last = err.strip().splitlines()[-1]  # argparse's usage, then the one error line
            assert f"argument --amount: '{amount}'" in last, err[-2000:]
            assert "at most 18 decimal places" in last and "Traceback" not in err, err[-2000:]
        db = Database(cfg.node.database_url)
        try:
            st = Storage(db)
            assert st.load_balance_adjustments("binance") == []
            assert not [e for e in st.load_events() if e.kind == "ledger.transfer_recorded"]
        finally:
            db.dispose()


def test_an_amount_to_the_wei_is_taken_exactly() -> None:
    amount = "123456789012.123456789012345678"  # 30 digits, 18 places
    argv = ["transfer", "--venue", "v", "--asset", "ETH", "--amount", amount, "--reason", "x"]
    assert build_parser("transfer").parse_args(argv).amount == D(amount)


def test_the_amount_check_holds_under_the_context_ccxt_leaves_behind() -> None:
    """ccxt's precision helpers set Underflow as a trap on the calling thread's context; the
    command's check of a billion places must still refuse in one line, not raise Underflow."""
    import argparse
    import decimal

    from tradeguard.cli.transfer import _amount_arg

    with decimal.localcontext() as ctx:
        ctx.traps[decimal.Underflow] = True
        ctx.rounding = decimal.ROUND_HALF_UP
        with pytest.raises(argparse.ArgumentTypeError, match="at most 18 decimal places"):
            _amount_arg("1e-99999999999")
