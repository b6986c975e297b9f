"""A TOML file saved with a byte-order mark (Notepad's "UTF-8 with BOM") is named as such: it
was "not valid TOML: Invalid statement (at line 1, column 1)", a line that looks right."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_support import run_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_a_config_with_a_byte_order_mark_is_named_and_how_to_save_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "paper.toml").read_bytes())

    monkeypatch.chdir(tmp_path)
    done = run_cli(capsys, "config", "check", str(cfg))

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "byte-order mark" in done.stderr and "UTF-8 without" in done.stderr, done.stderr
