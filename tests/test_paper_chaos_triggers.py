"""Paper trigger orders under SIGKILL: two strategies rest stop-loss and take-profit orders that
fire at one candle's close and fill at the next open; replays killed at commits while a fired
order waits for its fill, and resumed, end with the ledger of one clean run."""

from __future__ import annotations

import json
from pathlib import Path

from node_support import write_slice
from tradeguard.chaos.paper import TRIGGER_STRATEGIES, PaperChaosSettings, run_paper_chaos


def test_kills_while_trigger_orders_have_fired_leave_the_clean_run_s_ledger(
    tmp_path: Path, data_dir: Path
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 3_000)
    # One round of kills, each at a commit of its run (runs resumed from the last one count their
    # own commits) where a fired order waits for its fill: "7b" dies before the commit holding
    # that fill, "4a" and "13a" just after a commit that left one fired, "6b" and "181b" before
    # a commit, one fired in the last (181b deep in the data, positions closed by the hundred).
    plan: list[float | str] = ["7b", "4a", "6b", "13a", "181b"]
    settings = PaperChaosSettings(
        workdir=tmp_path / "chaos",
        kills=len(plan),
        data_path=data,
        checkpoint_every=10_000_000,
        commit_interval_s=0,
        kill_plan=plan,
        strategies=TRIGGER_STRATEGIES,
    )

    result = run_paper_chaos(settings)

    summary = json.dumps(result.to_json(), indent=1, default=str)
    assert result.kills == len(plan) and result.clean, summary
    assert result.differences == [] and result.fills_before_creation == 0, summary
    # The point of the test: kills came while a fired order waited for its fill (two fired
    # together once made a resumed run fill them in the journal's order, not the order they
    # were placed in). The plan puts all five there; a change of what a commit holds may move
    # one or two off.
    assert result.kills_with_fired_triggers >= 3, summary
    assert result.orders > 300 and result.closed_positions > 150, summary
