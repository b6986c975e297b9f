"""SIGKILL the trading node at random moments on a faulty sandbox; nothing is lost or doubled."""

from __future__ import annotations

import json
from pathlib import Path

from tradeguard.chaos.exchange import ChaosSettings, run_chaos


async def test_twenty_kills_leave_no_duplicate_missing_fill_balance_gap_or_unknown_order(
    tmp_path: Path,
) -> None:
    settings = ChaosSettings(
        workdir=tmp_path, kills=20, seed=11, min_run_s=0.2, max_run_s=1.0, startup_kill_pct=25
    )

    result = await run_chaos(settings)

    summary = json.dumps(result.to_json(), indent=1, default=str)
    assert result.kills == 20
    assert result.duplicates == 0, summary
    assert result.missing_fills == 0, summary
    assert result.balance_mismatches == 0, summary
    assert result.unknown_orders == 0, summary
    assert result.final_reconcile_ok, summary
    assert result.sandbox_orders > 0 and result.sandbox_trades > 0, summary  # it did trade
