"""Ctrl-C stops the local exchanges and the local chain with exit 130, as it stops every other
command (README: 130 when Ctrl-C stops it); `sandbox` (every dialect) and `chain` answered 0,
which a script waiting on them read as a clean end."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pty_support import PtySession

EXE = Path(sys.executable).parent / "tradeguard"


@pytest.mark.parametrize(
    ("argv", "ready"),
    [
        (["sandbox", "--port", "0"], "demo keys"),
        (["sandbox", "--dialect", "kraken", "--port", "0"], "demo keys"),
        (["sandbox", "--dialect", "kalshi", "--port", "0"], "demo account"),
        (["sandbox", "--dialect", "polymarket", "--port", "0"], "demo account"),
        (["chain", "--port", "0", "--deployment-file", "chain.json"], "press Ctrl-C to stop"),
    ],
    ids=["binance", "kraken", "kalshi", "polymarket", "chain"],
)
def test_ctrl_c_stops_a_local_venue_with_exit_130(tmp_path: Path, argv, ready) -> None:
    session = PtySession([str(EXE), *argv, *_keys(argv, tmp_path)], cwd=tmp_path)
    session.expect(ready)
    session.type(b"\x03")
    code, screen = session.finish()
    assert code == 130, screen
    assert "Traceback" not in screen


def _keys(argv: list[str], tmp_path: Path) -> list[str]:
    return [] if argv[0] == "chain" else ["--keys-file", str(tmp_path / "keys.json")]
