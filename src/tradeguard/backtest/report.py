"""The backtest report: one self-contained HTML file (inline CSS and SVG, nothing fetched).

Sections: the metrics, equity and drawdown, each pair's candles with entry and exit markers
(hover a marker for its reason), the monthly returns heatmap, per-pair and per-exit-reason
tables, and the trade table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from tradeguard.backtest.exports import drawdowns, utc_text, write_text
from tradeguard.backtest.metrics import TradeRecord, daily_closes
from tradeguard.backtest.svg import Marker, candle_chart, line_chart
from tradeguard.model.market import Candle
from tradeguard.model.money import fmt as money
from tradeguard.model.money import fmt_figure, quote_of

CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#111;background:#fff}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:right}th{background:#f3f4f6}td.l,th.l{text-align:left}
.tick{font-size:10px;fill:#555}svg text{font-size:11px}
.kpis{display:grid;grid-template-columns:repeat(6,auto);gap:6px 18px;max-width:1000px}
.kpi b{display:block;font-size:16px}.kpi span{color:#555;font-size:12px}
.heat td{min-width:54px}.pos{color:#166534}.neg{color:#991b1b}
.trades{max-height:480px;overflow:auto;display:inline-block}
"""

KPIS = (
    ("total_return_pct", "Total return %"), ("cagr_pct", "CAGR %"), ("sharpe", "Sharpe"),
    ("sortino", "Sortino"), ("calmar", "Calmar"), ("max_drawdown_pct", "Max drawdown %"),
    ("win_rate_pct", "Win rate %"), ("profit_factor", "Profit factor"),
    ("expectancy", "Expectancy"), ("exposure_pct", "Exposure %"), ("trades", "Trades"),
    ("fees", "Fees"),
)  # fmt: skip
# KPIs summing or averaging the trades' P&L or fees: each trade's in its pair's quote
TRADE_MONEY_KPIS = frozenset({"expectancy", "fees"})
# (key, header, scale): the win rate is stored as a share and shown in percent, as in the KPIs
GROUP_COLUMNS = (
    ("trades", "trades", 1), ("win_rate", "win rate %", 100), ("profit_factor", "profit factor", 1),
    ("expectancy", "expectancy", 1), ("net_pnl", "net pnl", 1), ("fees", "fees", 1),
)  # fmt: skip


GROUP_MONEY = frozenset({"expectancy", "net_pnl", "fees"})  # in the group's quote(s)


def quotes_of(symbols: Any) -> str:
    """Every quote a sum over `symbols` mixes, `BTC+USDT`; "" when none is known."""
    return "+".join(sorted({quote_of(s) for s in symbols} - {""}))


def _unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit and text != "-" else text


def fmt(value: Any) -> str:
    """Format a figure for a table, never in scientific notation: 4 decimals, none from a
    million up, 4 significant digits below 0.01 (-0.00009771); '-' for None."""
    if value is None:
        return "-"
    if isinstance(value, float | Decimal):
        d = value if isinstance(value, Decimal) else Decimal(repr(value))
        if not d.is_finite():
            return str(value)
        if d != 0 and abs(d) < Decimal("0.01"):
            return fmt_figure(d)
        return money(d, 4) if abs(d) < 1_000_000 else money(d, 0)
    return str(value)


def plain(value: Any) -> str:
    """A number as plain decimal digits, exactly as given (a Decimal's own digits, a float's
    shortest round-trip ones): 0.0000000534, never 5.34E-8."""
    d = value if isinstance(value, Decimal) else Decimal(repr(value))
    return f"{d:f}" if d.is_finite() else str(value)


def monthly_returns(curve: Sequence[tuple[int, float]], start: float) -> dict[str, float]:
    """Return each calendar month's return in percent (`2018-01` -> 3.2), month end on month end."""
    out: dict[str, float] = {}
    prev = start
    ends: dict[str, float] = {}
    for day, equity in daily_closes(curve):
        ends[datetime.fromtimestamp(day / 1000, UTC).strftime("%Y-%m")] = equity
    for month, equity in ends.items():
        out[month] = (equity / prev - 1) * 100 if prev else 0.0
        prev = equity
    return out


def open_note(metrics: dict[str, Any]) -> str:
    """Say that positions were still open at the end, and where their value is counted."""
    n = metrics.get("open_positions") or 0
    if not n:
        return ""
    return (
        f"{n} position(s) still open at the end, valued at the last close: counted in end "
        "equity and total return, not in the trades, per-pair or per-exit-reason P&L"
    )


def render_report(
    title: str,
    metrics: dict[str, Any],
    trades: Sequence[TradeRecord],
    curve: Sequence[tuple[int, float]],
    candles: dict[str, Sequence[Candle]],
) -> str:
    """Return the whole report as one HTML document."""
    dd = drawdowns(curve)
    start = float(metrics.get("start_equity") or (curve[0][1] if curve else 0))
    pairs = metrics.get("per_pair", {})
    mixed = quotes_of(pairs)  # the trades' sums over every pair
    valued = metrics.get("valuation_asset") or ""
    parts = [
        f"<h1>{escape(title)}</h1>",
        _kpis(metrics, mixed),
        f"<h2>Equity{f' ({escape(valued)})' if valued else ''}</h2>",
        line_chart({"equity": curve}, css_class="equity"),
        "<h2>Drawdown %</h2>",
        line_chart(
            {"drawdown %": [(ts, -d) for (ts, _), d in zip(curve, dd, strict=True)]},
            height=160,
            css_class="drawdown",
            fill=True,
        ),
        "<h2>Monthly returns %</h2>",
        _heatmap(monthly_returns(curve, start)),
        "<h2>Per pair</h2>",
        _group_table("pair", pairs, quote_of),
        "<h2>Per exit reason</h2>",
        _group_table("exit reason", metrics.get("per_exit_reason", {}), lambda _: mixed),
    ]
    if open_note(metrics):
        parts.insert(2, f'<p class="open-positions">{escape(open_note(metrics))}</p>')
    for symbol, series in candles.items():
        mine = [t for t in trades if t.symbol == symbol]
        markers = [Marker(t.entry_ts, float(t.entry_price), "entry", t.entry_reason) for t in mine]
        markers += [Marker(t.exit_ts, float(t.exit_price), "exit", t.exit_reason) for t in mine]
        parts.append(f'<h2 class="pair">{escape(symbol)} ({len(mine)} trades)</h2>')
        parts.append(candle_chart(series, markers))
    parts.append(f"<h2>Trades ({len(trades)})</h2>")
    parts.append(_trade_table(trades))
    conventions = escape(str(metrics.get("conventions", "")))
    parts.append(f"<p>Ratios: {conventions}. Times are UTC.</p>")
    body = "\n".join(parts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>"
    )


def write_report(run_dir: Path, title: str, **kwargs: Any) -> Path:
    """Write `report.html` into `run_dir` and return its path."""
    path = run_dir / "report.html"
    write_text(path, render_report(title, **kwargs))
    return path


def _kpis(metrics: dict[str, Any], mixed: str) -> str:
    unit = f" ({escape(mixed)})" if mixed else ""
    cells = [
        f'<div class="kpi" data-key="{k}"><b>{fmt(metrics.get(k))}</b>'
        f"<span>{label}{unit if k in TRADE_MONEY_KPIS else ''}</span></div>"
        for k, label in KPIS
    ]
    return f'<div class="kpis">{"".join(cells)}</div>'


def _heatmap(months: dict[str, float]) -> str:
    years = sorted({m[:4] for m in months})
    head = "".join(f"<th>{m:02d}</th>" for m in range(1, 13))
    rows = []
    for year in years:
        cells = []
        for m in range(1, 13):
            value = months.get(f"{year}-{m:02d}")
            if value is None:
                cells.append("<td></td>")
                continue
            alpha = min(1.0, abs(value) / 10) * 0.8 + 0.1
            rgb = "22,163,74" if value >= 0 else "220,38,38"
            cells.append(f'<td style="background:rgba({rgb},{alpha:.2f})">{value:.2f}</td>')
        rows.append(f'<tr><th class="l">{year}</th>{"".join(cells)}</tr>')
    return f'<table class="heat"><tr><th></th>{head}</tr>{"".join(rows)}</table>'


def _group_table(
    name: str, groups: dict[str, dict[str, Any]], unit_of: Callable[[str], str]
) -> str:
    """One row per group; its P&L, expectancy and fees in `unit_of(group)`."""
    head = "".join(f"<th>{h}</th>" for _, h, _ in GROUP_COLUMNS)
    rows = []
    for k, v in groups.items():
        unit = escape(unit_of(k))
        cells = (
            _unit(fmt(_scaled(v.get(c), n)), unit if c in GROUP_MONEY else "")
            for c, _, n in GROUP_COLUMNS
        )
        rows.append(
            f'<tr><td class="l">{escape(k)}</td>{"".join(f"<td>{c}</td>" for c in cells)}</tr>'
        )
    return f'<table><tr><th class="l">{name}</th>{head}</tr>{"".join(rows)}</table>'


def _scaled(value: Any, scale: int) -> Any:
    return value * scale if scale != 1 and isinstance(value, int | float) else value


def _trade_table(trades: Sequence[TradeRecord]) -> str:
    cols = ("pair", "entry (UTC)", "exit (UTC)", "entry", "exit", "P&L", "P&L %", "fees",
            "entry reason", "exit reason")  # fmt: skip
    head = "".join(f"<th>{c}</th>" for c in cols)
    rows = []
    for t in trades:
        cls = "pos" if t.pnl > 0 else "neg"
        quote = escape(quote_of(t.symbol))  # the pair's: its P&L's and fees' currency
        rows.append(
            f'<tr class="{cls}"><td class="l">{escape(t.symbol)}</td><td>{utc_text(t.entry_ts)}'
            f"</td><td>{utc_text(t.exit_ts)}</td><td>{plain(t.entry_price)}</td>"
            f"<td>{plain(t.exit_price)}</td>"
            f"<td>{_unit(f'{t.pnl:.8f}', quote)}</td><td>{t.pnl_pct:.3f}</td>"
            f"<td>{_unit(f'{t.fees:.8f}', quote)}</td>"
            f'<td class="l">{escape(t.entry_reason)}</td><td class="l">{escape(t.exit_reason)}'
            "</td></tr>"
        )
    return f'<div class="trades"><table id="trades"><tr>{head}</tr>{"".join(rows)}</table></div>'
