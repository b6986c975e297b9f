"""What `tradeguard kill` prints about a kill, on a terminal: names and ids that come from venues
(a market's symbol, an order placed by hand) are shown as their escapes, never acted on. The
report is a real `KillReport` of a position on a market whose symbol carries control sequences;
it is printed by the command's own console in a process of its own under a pty."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pty_support import run_in_pty
from tradeguard.risk.kill import KillReport, KillRequest

HOSTILE = "EVL\x1b[2J\x1b]0;OWNED\x07"  # clears the screen, retitles the terminal
SHOWN = r"EVL\x1b[2J\x1b]0;OWNED\x07"
PRINTER = """
import json, sys
from tradeguard.cli.control import print_kill_report
from tradeguard.cli.main import LazyConsole
print_kill_report(LazyConsole(), json.loads(sys.stdin.readline()))
"""


def _report() -> dict:
    report = KillReport(KillRequest("incident \x1b[5m", "ops", True, 1_700_000_000_000))
    report.cancelled.append(f"x-{HOSTILE}-1")
    report.closing.append({"position": f"binance:{HOSTILE}/USDT", "strategy": "manual",
                           "working": [f"tg-{HOSTILE}"], "amount": "1.99"})  # fmt: skip
    report.failed.append((f"tg-{HOSTILE}", "still accepted after cancel"))
    return report.to_json()


def test_kill_output_on_a_terminal_shows_venue_names_escaped(tmp_path: Path) -> None:
    code, screen = run_in_pty(
        [sys.executable, "-c", PRINTER], cwd=tmp_path, columns=200, timeout_s=60,
        stdin_text=json.dumps(_report()) + "\n",
    )  # fmt: skip
    assert code == 0, screen
    for raw in ("\x1b[2J", "\x1b]0;", "\x07", "\x1b[5m"):
        assert raw not in screen, (raw, screen)
    text = screen.replace("\r", "")
    assert f"binance:{SHOWN}/USDT: 1.99 left to the close already working (tg-{SHOWN})" in text
    assert f"cancelled x-{SHOWN}-1" in text, text
    assert f"tg-{SHOWN}: still accepted after cancel" in text, text
    assert r"incident \x1b[5m" in text, text
