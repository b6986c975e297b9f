"""Inline SVG charts for reports: lines, candles with trade markers. No script, no network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Any

from tradeguard.marketdata.arrow_candles import columns_of
from tradeguard.model.market import Candle
from tradeguard.model.money import plain_significant

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4d7c0f")


@dataclass(frozen=True, slots=True)
class Marker:
    """A trade event on a candle chart: an entry (up triangle) or an exit (down triangle)."""

    ts: int
    price: float
    kind: str  # "entry" | "exit"
    label: str


class _Scale:
    def __init__(self, lo: float, hi: float, out_lo: float, out_hi: float) -> None:
        if hi <= lo:
            hi = lo + 1.0
        self.lo, self.k, self.out_lo = lo, (out_hi - out_lo) / (hi - lo), out_lo

    def __call__(self, v: float) -> float:
        return self.out_lo + (v - self.lo) * self.k


def thin(points: Sequence[tuple[int, float]], limit: int = 1500) -> list[tuple[int, float]]:
    """Keep at most about `limit` points, always the first and last."""
    if len(points) <= limit:
        return list(points)
    step = len(points) / limit
    out = [points[int(i * step)] for i in range(limit)]
    out.append(points[-1])
    return out


def line_chart(
    series: Mapping[str, Sequence[tuple[int, float]]],
    width: int = 1000,
    height: int = 260,
    css_class: str = "line",
    fill: bool = False,
) -> str:
    """Return an SVG with one polyline per named series on shared axes, plus a legend."""
    pts = {name: thin(s) for name, s in series.items() if s}
    if not pts:
        return f'<svg class="{css_class}" width="{width}" height="{height}"></svg>'
    xs = [t for s in pts.values() for t, _ in s]
    ys = [v for s in pts.values() for _, v in s]
    fx = _Scale(min(xs), max(xs), 50, width - 10)
    fy = _Scale(min(ys), max(ys), height - 25, 10)
    parts = [_axes(fy, min(ys), max(ys), width, height)]
    for i, (name, s) in enumerate(pts.items()):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{fx(t):.1f},{fy(v):.1f}" for t, v in s)
        if fill:
            base = fy(max(ys)) if min(ys) >= 0 else fy(0)
            parts.append(
                f'<polygon points="{fx(s[0][0]):.1f},{base:.1f} {coords} '
                f'{fx(s[-1][0]):.1f},{base:.1f}" fill="{color}" fill-opacity="0.2"/>'
            )
        parts.append(
            f'<polyline class="series" data-name="{escape(name)}" points="{coords}" '
            f'fill="none" stroke="{color}" stroke-width="1.5"/>'
        )
        parts.append(
            f'<text x="{60 + 160 * i}" y="{height - 5}" fill="{color}">{escape(name)}</text>'
        )
    return _svg(css_class, width, height, parts)


def candle_chart(
    candles: Sequence[Candle], markers: Sequence[Marker], width: int = 1000, height: int = 300
) -> str:
    """Return an SVG of candles (grouped to fit the width) with entry and exit markers."""
    bars = _group(candles, max(1, width // 4))
    if not bars:
        return f'<svg class="candles" width="{width}" height="{height}"></svg>'
    lo = min(b[3] for b in bars)
    hi = max(b[2] for b in bars)
    fx = _Scale(bars[0][0], bars[-1][0], 55, width - 15)
    fy = _Scale(lo, hi, height - 20, 12)
    slot = max(1.0, (width - 70) / len(bars) * 0.7)
    parts = [_axes(fy, lo, hi, width, height)]
    for ts, o, h, low, c in bars:
        x = fx(ts)
        color = "#16a34a" if c >= o else "#dc2626"
        top, bottom = fy(max(o, c)), fy(min(o, c))
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{fy(h):.1f}" y2="{fy(low):.1f}" '
            f'stroke="{color}"/><rect x="{x - slot / 2:.1f}" y="{top:.1f}" width="{slot:.1f}" '
            f'height="{max(0.8, bottom - top):.1f}" fill="{color}"/>'
        )
    for m in markers:
        x, y = fx(m.ts), fy(m.price)
        if m.kind == "entry":
            shape, color = f"M{x:.1f},{y + 2:.1f} l-6,10 h12 z", "#1d4ed8"
        else:
            shape, color = f"M{x:.1f},{y - 2:.1f} l-6,-10 h12 z", "#f59e0b"
        parts.append(
            f'<path class="marker {m.kind}" data-reason="{escape(m.label)}" d="{shape}" '
            f'fill="{color}" stroke="#111" stroke-width="0.5"><title>{escape(m.label)}</title>'
            "</path>"
        )
    return _svg("candles", width, height, parts)


def _group(candles: Sequence[Candle], limit: int) -> list[tuple[int, float, float, float, float]]:
    """Merge consecutive candles so at most `limit` bars remain: (ts, open, high, low, close)."""
    if not candles:
        return []
    per = -(-len(candles) // limit)
    columns = columns_of(candles)  # loaded candles carry their float columns
    if columns is not None:
        return _group_columns(columns, len(candles), per)
    out = []
    for i in range(0, len(candles), per):
        chunk = candles[i : i + per]
        out.append((
            chunk[0].ts, float(chunk[0].open), float(max(c.high for c in chunk)),
            float(min(c.low for c in chunk)), float(chunk[-1].close),
        ))  # fmt: skip
    return out


def _group_columns(
    columns: Mapping[str, Any], n: int, per: int
) -> list[tuple[int, float, float, float, float]]:
    """`_group` over float columns: the same bars (a float's order is its Decimal's)."""
    import numpy as np

    starts = np.arange(0, n, per)
    ends = np.minimum(starts + per, n) - 1
    return list(
        zip(
            columns["ts"][starts].tolist(),
            columns["open"][starts].tolist(),
            np.maximum.reduceat(columns["high"], starts).tolist(),
            np.minimum.reduceat(columns["low"], starts).tolist(),
            columns["close"][ends].tolist(),
            strict=True,
        )
    )


def _axes(fy: _Scale, lo: float, hi: float, width: int, height: int) -> str:
    ticks = []
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        y = fy(v)
        ticks.append(
            f'<line x1="50" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="2" y="{y + 4:.1f}" class="tick">{tick_text(v)}</text>'
        )
    return "".join(ticks)


def tick_text(v: float) -> str:
    """An axis label: six significant digits in plain decimals (0.0000534, 1234570)."""
    return plain_significant(Decimal(repr(v)), 6)


def _svg(css_class: str, width: int, height: int, parts: list[str]) -> str:
    return (
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'
    )
