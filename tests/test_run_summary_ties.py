"""The run summary's equity and total P&L tie as printed: the end equity less the start equity,
as read on the screen, is the total P&L printed under them. An account counted in BTC (1.23
BTC, a P&L of 0.0001212 BTC) printed `1.23 → 1.23` over a P&L of `0.0001212`."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from rich.console import Console

from node_support import paper_config, write_slice
from tradeguard.cli.run import print_summary
from tradeguard.node import build_node


def _row(text: str, label: str) -> str:
    line = next(line for line in text.splitlines() if label in line)
    return line.split(label, 1)[1].strip(" │|")


async def test_the_printed_equity_and_total_pnl_tie(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 50)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False, tmp=tmp_path)
    node = build_node(cfg)
    try:
        await node.start()
        await node.run()
        ran = node.summary()
        for start, end in [
            (Decimal("1.23456789"), Decimal("1.23468912")),  # a BTC account, a small gain
            (Decimal("0.5"), Decimal("0.49990001")),  # below 1, a small loss
            (Decimal("10000.00"), Decimal("10012.3456")),  # USD: cents
            (Decimal("1.00000004"), Decimal("1.00000004")),  # nothing made
        ]:
            s = dataclasses.replace(ran, start_equity=start, end_equity=end)
            console = Console(record=True, width=200)
            print_summary(console, s, node)
            text = console.export_text()
            first, _, last = _row(text, "Equity start → end").removesuffix(" USDT").partition(" → ")
            pnl = _row(text, "Total P&L").removesuffix(" USDT")
            printed = Decimal(last.replace(",", "")) - Decimal(first.replace(",", ""))
            assert printed == Decimal(pnl.replace(",", "")), (start, end, first, last, pnl)
            # and it is the run's P&L: to 4 significant digits below 1, to the cent above
            close = abs(end - start) / 1000 if abs(end - start) < 1 else Decimal("0.005")
            assert abs(Decimal(pnl.replace(",", "")) - (end - start)) <= close, (start, end, pnl)
    finally:
        await node.stop()
        node.close()
