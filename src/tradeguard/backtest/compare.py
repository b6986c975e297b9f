"""Compare finished runs: their metrics side by side and their equity curves overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from tradeguard.backtest.exports import read_run
from tradeguard.backtest.report import CSS, fmt
from tradeguard.backtest.svg import line_chart

COMPARED = (
    "total_return_pct", "cagr_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct",
    "win_rate_pct", "profit_factor", "expectancy", "exposure_pct", "trades", "fees",
    "avg_duration_s", "median_duration_s",
)  # fmt: skip


def load_runs(run_dirs: Sequence[Path]) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """Return (name, metrics, equity rows) per run directory, names made unique."""
    out = []
    seen: dict[str, int] = {}
    for d in run_dirs:
        metrics, equity = read_run(d)
        name = d.resolve().name
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name} ({seen[name]})", metrics, equity))
    return out


def compare_table(runs: Sequence[tuple[str, dict[str, Any], Any]]) -> list[list[str]]:
    """Return rows of [metric, value per run] for the compared metrics."""
    return [[key, *(fmt(m.get(key)) for _, m, _ in runs)] for key in COMPARED]


def render_compare(runs: Sequence[tuple[str, dict[str, Any], list[dict[str, Any]]]]) -> str:
    """Return an HTML page: the metrics table and the overlaid equity curves (relative)."""
    curves = {}
    for name, _, equity in runs:
        start = equity[0]["equity"] if equity else 0
        curves[name] = [(r["ts"], r["equity"] / start * 100) for r in equity] if start else []
    head = "".join(f"<th>{escape(name)}</th>" for name, _, _ in runs)
    rows = "".join(
        f'<tr><td class="l">{row[0]}</td>' + "".join(f"<td>{v}</td>" for v in row[1:]) + "</tr>"
        for row in compare_table(runs)
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Backtest comparison'
        f"</title><style>{CSS}</style></head><body><h1>Backtest comparison</h1>"
        f'<table id="compare"><tr><th class="l">metric</th>{head}</tr>{rows}</table>'
        "<h2>Equity (start = 100)</h2>"
        f"{line_chart(curves, height=320, css_class='equity')}</body></html>"
    )
