"""A TOML file saved with a byte-order mark (Notepad's "UTF-8 with BOM") is named as such: it
was "not valid TOML: Invalid statement (at line 1, column 1)", a line that looks right."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXE = Path(sys.executable).parent / "tradeguard"


def test_a_config_with_a_byte_order_mark_is_named_and_how_to_save_it(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "paper.toml").read_bytes())

    done = subprocess.run(
        [str(EXE), "config", "check", str(cfg)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "byte-order mark" in done.stderr and "UTF-8 without" in done.stderr, done.stderr
