"""A run directory's files: trades and equity curve as CSV and JSON, the metrics as JSON.

```
RUN_DIR/metrics.json   every figure of `metrics.compute_metrics`
RUN_DIR/trades.csv     one round trip per row (trades.json: the same as a list)
RUN_DIR/equity.csv     ts (epoch ms), time (UTC), equity, drawdown_pct (equity.json: the same)
```
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradeguard.backtest.metrics import TradeRecord

TRADE_FIELDS = (
    "symbol", "strategy_id", "side", "entry_ts", "exit_ts", "entry_price", "exit_price",
    "amount", "pnl", "pnl_pct", "fees", "entry_reason", "exit_reason", "duration_s",
)  # fmt: skip


def utc_text(ms: int) -> str:
    """Format epoch ms as `YYYY-MM-DD HH:MM` UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def json_safe(value: Any) -> Any:
    """Replace infinities and NaN (not JSON) with strings, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf" if value < 0 else "nan"
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def equity_rows(curve: Sequence[tuple[int, float]]) -> list[dict[str, Any]]:
    """Return the curve as rows with the drawdown from the running peak, in percent."""
    rows = []
    peak = -math.inf
    for ts, equity in curve:
        peak = max(peak, equity)
        dd = (peak - equity) / peak * 100 if peak > 0 else 0.0
        rows.append({"ts": ts, "time": utc_text(ts), "equity": equity, "drawdown_pct": dd})
    return rows


def write_exports(
    run_dir: Path,
    metrics: dict[str, Any],
    trades: Sequence[TradeRecord],
    curve: Sequence[tuple[int, float]],
) -> list[Path]:
    """Write metrics.json, trades.csv/json and equity.csv/json into `run_dir`; return them."""
    written = []
    path = run_dir / "metrics.json"
    path.write_text(json.dumps(json_safe(metrics), indent=2), encoding="utf-8")
    written.append(path)
    trade_rows = [t.to_json() for t in trades]
    written += _table(run_dir / "trades", TRADE_FIELDS, trade_rows)
    eq_rows = equity_rows(curve)
    written += _table(run_dir / "equity", ("ts", "time", "equity", "drawdown_pct"), eq_rows)
    return written


def _table(stem: Path, fields: Sequence[str], rows: list[dict[str, Any]]) -> list[Path]:
    csv_path = stem.with_suffix(".csv")
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(json_safe(rows)), encoding="utf-8")
    return [csv_path, json_path]


def read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return a finished run's metrics and equity rows, or raise naming the missing file."""
    from tradeguard.model.errors import ConfigError

    metrics_path = run_dir / "metrics.json"
    equity_path = run_dir / "equity.json"
    for p in (metrics_path, equity_path):
        if not p.is_file():
            raise ConfigError(f"{run_dir}: no {p.name}; is it a finished backtest run directory?")
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    equity = json.loads(equity_path.read_text(encoding="utf-8"))
    return metrics, equity
