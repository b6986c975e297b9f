"""A run directory's files: trades and equity curve as CSV and JSON, the metrics as JSON.

```
RUN_DIR/metrics.json   every figure of `metrics.compute_metrics`
RUN_DIR/trades.csv     one round trip per row (trades.json: the same as a list)
RUN_DIR/equity.csv     ts (epoch ms), time (UTC), equity, drawdown_pct (equity.json: the same)
RUN_DIR/INCOMPLETE     present while the files are written: a run stopped there is no result
```

Each file is written whole or not at all (a temporary file renamed into place), metrics.json
last; `read_run` refuses a directory still marked INCOMPLETE.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradeguard.backtest.metrics import TradeRecord
from tradeguard.portfolio import analytics

TRADE_FIELDS = (
    "symbol", "strategy_id", "side", "entry_ts", "exit_ts", "entry_price", "exit_price",
    "amount", "pnl", "pnl_pct", "fees", "entry_reason", "exit_reason", "duration_s",
)  # fmt: skip


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Give an `OSError` met writing `path` that path: a full disk's ENOSPC (or a quota's
    EDQUOT) comes from `write` or `close`, with no file name of its own, and the command names
    the file it could not write."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def write_text(path: Path, text: str, newline: str | None = None) -> None:
    """`path.write_text(text)` in UTF-8, an error naming `path`; all of it or nothing: the text
    goes to a temporary file beside it, renamed to `path` once written (Ctrl-C or a full disk
    half-way leaves no half file under the real name)."""
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_text(text, encoding="utf-8", newline=newline)
        os.replace(part, path)
    except BaseException as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:  # named as the file, not the temp
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


INCOMPLETE = "INCOMPLETE"


def mark_incomplete(run_dir: Path) -> None:
    """Mark `run_dir` unfinished until `mark_complete`: its files are being written."""
    write_text(
        run_dir / INCOMPLETE,
        "This backtest stopped before all its files were written; its figures are no result.\n"
        "Run it again into a new directory.\n",
    )


def mark_complete(run_dir: Path) -> None:
    """Every file of the run is written: drop the mark."""
    with naming(run_dir / INCOMPLETE):
        (run_dir / INCOMPLETE).unlink(missing_ok=True)


_DAY_MS = 86_400_000
_DAY_TEXT: dict[int, str] = {}
_CLOCK_TEXT: dict[int, str] = {}  # minute of the day -> "HH:MM"


def utc_text(ms: int) -> str:
    """Format epoch ms as `YYYY-MM-DD HH:MM` UTC."""
    day, rest = divmod(int(ms), _DAY_MS)
    date = _DAY_TEXT.get(day)
    if date is None:  # one strftime per day: a curve has thousands of points a day shares
        date = _DAY_TEXT[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
    minutes = rest // 60_000
    clock = _CLOCK_TEXT.get(minutes)
    if clock is None:  # formatted once per minute of the day (288 of them for 5-minute bars)
        clock = _CLOCK_TEXT[minutes] = f"{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{date} {clock}"


def json_safe(value: Any) -> Any:
    """Replace infinities and NaN (not JSON) with strings, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf" if value < 0 else "nan"
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def json_text(value: Any, **kwargs: Any) -> str:
    """`json.dumps(json_safe(value))`, walking the value only when it holds a non-finite float."""
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(json_safe(value), **kwargs)


def drawdowns(curve: Sequence[tuple[int, float]]) -> list[float]:
    """Return each point's drawdown from the running peak, in percent."""
    return analytics.drawdowns([equity for _, equity in curve])


def equity_rows(curve: Sequence[tuple[int, float]]) -> list[dict[str, Any]]:
    """Return the curve as rows with the drawdown from the running peak, in percent."""
    return [
        {"ts": ts, "time": utc_text(ts), "equity": equity, "drawdown_pct": dd}
        for (ts, equity), dd in zip(curve, drawdowns(curve), strict=True)
    ]


def write_exports(
    run_dir: Path,
    metrics: dict[str, Any],
    trades: Sequence[TradeRecord],
    curve: Sequence[tuple[int, float]],
) -> list[Path]:
    """Write trades.csv/json, equity.csv/json and, last, metrics.json into `run_dir`; return
    them (metrics first)."""
    trade_rows = [t.to_json() for t in trades]
    written = _table(run_dir / "trades", TRADE_FIELDS, trade_rows)
    written += _equity_files(run_dir / "equity", curve)
    path = run_dir / "metrics.json"
    write_text(path, json_text(metrics, indent=2))
    return [path, *written]


def _equity_files(stem: Path, curve: Sequence[tuple[int, float]]) -> list[Path]:
    """equity.csv and equity.json, each value formatted once for both (the curve is long).

    The text is what `csv.writer` and `json.dumps(json_safe(equity_rows(curve)))` write.
    """
    csv_lines = ["ts,time,equity,drawdown_pct\r\n"]
    json_rows = []
    for (ts, equity), dd in zip(curve, drawdowns(curve), strict=True):
        t, e, d = utc_text(ts), repr(float(equity)), repr(float(dd))
        csv_lines.append(f"{ts},{t},{e},{d}\r\n")
        json_rows.append(
            f'{{"ts": {ts}, "time": "{t}", "equity": {_json_float(e)}, '
            f'"drawdown_pct": {_json_float(d)}}}'
        )
    csv_path, json_path = stem.with_suffix(".csv"), stem.with_suffix(".json")
    write_text(csv_path, "".join(csv_lines), newline="")
    write_text(json_path, "[" + ", ".join(json_rows) + "]")
    return [csv_path, json_path]


def _json_float(text: str) -> str:
    # json_safe's strings for the values JSON has no number for
    return f'"{text}"' if text in ("inf", "-inf", "nan") else text


def _table(stem: Path, fields: Sequence[str], rows: list[dict[str, Any]]) -> list[Path]:
    csv_path = stem.with_suffix(".csv")
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(fields)
    writer.writerows([[row.get(f, "") for f in fields] for row in rows])
    write_text(csv_path, text.getvalue(), newline="")
    json_path = stem.with_suffix(".json")
    write_text(json_path, json_text(rows))
    return [csv_path, json_path]


def read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return a finished run's metrics and equity rows, or raise naming the missing file."""
    from tradeguard.model.errors import ConfigError

    metrics_path = run_dir / "metrics.json"
    equity_path = run_dir / "equity.json"
    if (run_dir / INCOMPLETE).exists():
        raise ConfigError(
            f"{run_dir / INCOMPLETE}: the run was stopped before its files were all written; "
            "its figures are no result (run the backtest again into a new directory)"
        )
    for p in (metrics_path, equity_path):
        if not p.is_file():
            raise ConfigError(f"{run_dir}: no {p.name}; is it a finished backtest run directory?")
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    equity = json.loads(equity_path.read_text(encoding="utf-8"))
    return metrics, equity
