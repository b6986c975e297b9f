"""Compare two backtest run directories: did a speed change change any result?

    .venv/bin/python benchmarks/compare_runs.py RUN_DIR_A RUN_DIR_B

Compares the run database (schema, pragmas, every row of every table), trades.csv/json,
equity.csv/json, metrics.json and report.html byte for byte, leaving out only what differs
between any two runs of the same code: the random client order id prefix (`tg` + 10
characters), wall-clock times (epoch ms after 2023; the data is older), durations and elapsed
seconds in event data, the run directory's path and name. Prints one JSON object; exits 1 when
anything differs.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

CLIENT_ID_PREFIX = re.compile(r"tg[0-9a-z]{10}-")
TIMINGS = re.compile(r"\"(duration_s|elapsed_s)\": [0-9.e-]+")
WALL_CLOCK_MS = 1_700_000_000_000
EXPORTS = ("trades.csv", "trades.json", "equity.csv", "equity.json")
PRAGMAS = ("user_version", "application_id", "page_size", "auto_vacuum", "encoding")


def _value(v: Any, run_dir: Path) -> Any:
    if isinstance(v, int) and v >= WALL_CLOCK_MS:
        return "<wall clock>"
    if isinstance(v, str):
        v = CLIENT_ID_PREFIX.sub("tg<run>-", v.replace(str(run_dir), "<run dir>"))
        return TIMINGS.sub(r'"\1": <timing>', v)
    return v


def database(run_dir: Path) -> dict[str, Any]:
    """Schema, pragmas and every table's rows (in rowid order) of a run's database."""
    conn = sqlite3.connect(f"file:{run_dir / 'backtest.db'}?mode=ro", uri=True)
    try:
        schema = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {
            t: [
                [_value(v, run_dir) for v in row]
                for row in conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid')
            ]
            for t in sorted(tables)
        }
        pragmas = {p: conn.execute(f"PRAGMA {p}").fetchall() for p in PRAGMAS}
        return {"schema": schema, "pragmas": pragmas, "rows": rows}
    finally:
        conn.close()


def compare(a: Path, b: Path) -> dict[str, Any]:
    """What differs between run directories `a` and `b` (an empty `differs`: nothing)."""
    differs: list[str] = []
    da, db = database(a), database(b)
    if da["schema"] != db["schema"]:
        differs.append("schema")
    if da["pragmas"] != db["pragmas"]:
        differs.append("pragmas")
    for table in sorted(set(da["rows"]) | set(db["rows"])):
        if da["rows"].get(table) != db["rows"].get(table):
            differs.append(f"table {table}")
    for name in EXPORTS:
        if (a / name).read_bytes() != (b / name).read_bytes():
            differs.append(name)
    ma, mb = (json.loads((d / "metrics.json").read_text(encoding="utf-8")) for d in (a, b))
    ma.pop("elapsed_s", None)
    mb.pop("elapsed_s", None)
    if ma != mb:
        differs.append("metrics.json")
    ha, hb = (
        (d / "report.html").read_bytes().replace(f"({d.name})".encode(), b"(<run>)") for d in (a, b)
    )
    if ha != hb:
        differs.append("report.html")
    if sorted(p.name for p in a.iterdir()) != sorted(p.name for p in b.iterdir()):
        differs.append("files")
    return {
        "tables": len(da["rows"]),
        "rows": sum(len(r) for r in da["rows"].values()),
        "differs": differs,
    }


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: compare_runs.py RUN_DIR_A RUN_DIR_B")
    out = compare(Path(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps(out, indent=2))
    sys.exit(1 if out["differs"] else 0)


if __name__ == "__main__":
    main()
