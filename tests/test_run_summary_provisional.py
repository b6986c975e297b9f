"""A run that stops while it holds what no price values (a leg held alone when the run stopped,
its market no longer quoted) printed an end equity counting that holding at zero as if it were
the run's result. The summary now says the end equity is provisional, and why."""

from __future__ import annotations

import json
from decimal import Decimal

from rich.console import Console

from node_support import paper_config, write_slice
from tradeguard.cli.pm_arb_run import provisional_line
from tradeguard.cli.run import print_summary
from tradeguard.model.balance import Balance
from tradeguard.node import build_node

LEG = "KXFED-26DEC-T4.00:NO"  # a lone leg's outcome token: no market of the node quotes it


def _printed(summary, node) -> str:
    console = Console(record=True, width=200)
    print_summary(console, summary, node)
    return console.export_text()


async def test_an_end_equity_counting_an_unpriced_holding_is_said_provisional(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False, tmp=tmp_path)
    node = build_node(cfg)
    try:
        await node.start()
        await node.run()
        clean = node.summary()
        node.portfolio.set_balances("paper", [Balance("paper", LEG, Decimal(20), Decimal(0))])
        held = node.summary()
        text, plain_text = _printed(held, node), _printed(clean, node)
    finally:
        await node.stop()
        node.close()
    assert clean.equity_provisional == "" and "provisional" not in plain_text
    assert held.end_equity == clean.end_equity  # the 20 tokens count nothing: no price
    assert LEG in held.equity_provisional and "counted at 0" in held.equity_provisional
    assert json.loads(json.dumps(held.to_json()))["equity_provisional"] == held.equity_provisional
    row = next(line for line in text.splitlines() if "Equity start" in line)
    assert "(provisional)" in row, text
    assert "End equity provisional" in text and LEG in text, text
    assert provisional_line(clean) == ""  # pm arb run prints nothing more for a real figure
    line = provisional_line(held)
    assert line.startswith(f"End equity {held.end_equity} is provisional: ") and LEG in line
