"""Bad data files and a read-only database end in one line naming the problem, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node_support import write_paper_toml, write_slice
from tradeguard.cli import main


def _config(tmp_path: Path, db_url: str, data: Path) -> Path:
    return write_paper_toml(tmp_path, data, db_url=db_url, strategies="")


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_out_of_order_data_file_stops_the_run_with_one_line(tmp_path, data_dir, capsys):
    data = write_slice(data_dir, tmp_path / "btc.csv", 50)
    lines = data.read_text().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    data.write_text("\n".join(lines) + "\n")
    cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'tg.db'}", data)

    err = _one_line_error(capsys, ["run", "--config", str(cfg), "--until-end"])

    assert f"{data}, row 12, column 'timestamp', value '{lines[11].split(',')[0]}'" in err
    assert "goes backwards" in err


def test_binary_data_file_stops_the_run_with_one_line(tmp_path, capsys):
    data = tmp_path / "btc.csv"
    data.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'tg.db'}", data)

    err = _one_line_error(capsys, ["run", "--config", str(cfg), "--until-end"])

    assert str(data) in err and "binary data" in err and "row 3" in err  # after two line ends


def test_read_only_database_is_one_line_and_read_commands_still_work(tmp_path, data_dir, capsys):
    data = write_slice(data_dir, tmp_path / "btc.csv", 1500)
    db = tmp_path / "tg.db"
    cfg = _config(tmp_path, f"sqlite:///{db}", data)
    assert main(["run", "--config", str(cfg), "--until-end", "--json"]) == 0
    # What SQLite does with a file it may only read (chmod 444 as a user other than root).
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"

    err = _one_line_error(capsys, ["run", "--config", str(cfg), "--db", read_only, "--until-end"])

    assert "cannot be written (attempt to write a readonly database)" in err
    capsys.readouterr()
    assert main(["balances", "--config", str(cfg), "--db", read_only, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) > 0
