"""Backup and restore of a large SQLite journal: seconds and peak memory of each command.

    .venv/bin/python benchmarks/backup.py [--mb 200] [--exe .venv/bin/tradeguard] [--label NAME]

A journal at the schema head is filled with audit events (incompressible payloads) until it
holds about `--mb` megabytes, in a temporary folder. `tradeguard backup` and then `tradeguard
restore` (into a new SQLite database) run as child processes; each is timed, and its peak
resident memory is read from the kernel's accounting of that child (`wait4`). The restored
database is checked to hold every event. Prints JSON.

`--exe` runs another build's `tradeguard` against the same journal, to compare versions.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tradeguard.storage import Database

PASSPHRASE = "benchmark backup passphrase"
EVENT_PAYLOAD_BYTES = 700  # as hex, two events fill a 4 KiB page: about 2 KB per event


def make_journal(path: Path, megabytes: int) -> int:
    """Create a tradeguard database at `path` of about `megabytes` MB; return its event count."""
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    rows = megabytes * 1_000_000 // 2048
    conn = sqlite3.connect(path)
    try:
        with conn:
            # The built-in paper venue's start balance, so the restore's ledger audit is clean.
            conn.execute(
                "INSERT INTO balances (venue, asset, free, locked, total, updated_ts) "
                "VALUES ('paper', 'USDT', '10000', '0', '10000', 1)"
            )
            conn.executemany(
                "INSERT INTO events (ts, kind, severity, venue, symbol, strategy_id, data) "
                "VALUES (?, 'fill', 'info', 'binance', 'BTC/USDT', 'grid', ?)",
                ((1_700_000_000_000 + i, _payload()) for i in range(rows)),
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return rows


def _payload() -> str:
    return json.dumps({"pad": os.urandom(EVENT_PAYLOAD_BYTES).hex()})


def timed(argv: list[str]) -> dict[str, Any]:
    """Run `argv` as a child; return its exit code, seconds and peak RSS in MiB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TG_")}
    env["TG_BACKUP_PASSPHRASE"] = PASSPHRASE
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.seek(0)
            output = log.read().decode(errors="replace").strip()
            raise SystemExit(f"{argv[1]} failed ({code}): {output}")
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def bench(exe: Path, megabytes: int, work: Path) -> dict[str, Any]:
    source, out, restored = work / "journal.db", work / "backups" / "tg.tgb", work / "restored.db"
    t0 = time.perf_counter()
    events = make_journal(source, megabytes)
    made_s = time.perf_counter() - t0
    backup = timed([str(exe), "backup", "--db", f"sqlite:///{source}", "--out", str(out)])
    restore = timed([str(exe), "restore", "--in", str(out), "--db", f"sqlite:///{restored}"])
    conn = sqlite3.connect(restored)
    try:
        back = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()
    if back != events:
        raise SystemExit(f"restored {back} events of {events}")
    return {
        "database_mb": round(source.stat().st_size / 1e6, 1),
        "events": events,
        "backup_file_mb": round(out.stat().st_size / 1e6, 1),
        "generate_s": round(made_s, 2),
        "backup": backup,
        "restore": restore,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="journal size to generate (MB)")
    parser.add_argument(
        "--exe",
        type=Path,
        default=Path(sys.executable).parent / "tradeguard",
        help="the tradeguard executable to measure",
    )
    parser.add_argument("--label", default="", help="a name for this run in the output")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tg-bench-backup-") as tmp:
        result = bench(args.exe, args.mb, Path(tmp))
    print(json.dumps({"benchmark": "backup", "label": args.label, **result}, indent=2))


if __name__ == "__main__":
    main()
