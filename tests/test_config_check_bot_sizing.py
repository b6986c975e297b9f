"""`config check` judges a [[bots]] sizing rule as the start does.

A bot with `sizing = { kind = "nonsense" }` (or a table naming one score twice) was called
valid by `config check`, and then stopped `run` at start ("A bad entry stops the start").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.bots.spec import BotError, BotSpec
from tradeguard.cli import main
from tradeguard.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bots_sandbox.toml"


def _config(tmp_path: Path, sizing: str) -> Path:
    lines = [ln for ln in EXAMPLE.read_text().splitlines() if not ln.startswith("credentials")]
    lines = [f"sizing = {sizing}" if ln.startswith("sizing = ") else ln for ln in lines]
    path = tmp_path / "c.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("sizing", "needle"),
    [
        ('{ kind = "nonsense" }', "sizing.kind='nonsense' must be fixed, table or linear"),
        ('{ kind = "table", steps = [["0.5", "10"], ["0.50", "40"]] }', "repeats steps[0]"),
        ('{ kind = "linear", min_score = "1", max_score = "0.5", min_usd = "1", max_usd = "2" }',
         "must be below max_score"),
    ],
    ids=["kind", "twice", "linear"],
)  # fmt: skip
def test_config_check_refuses_the_sizing_the_start_refuses(tmp_path, capsys, sizing, needle):
    good = _config(tmp_path, '{ kind = "fixed" }')
    assert main(["config", "check", str(good)]) == 0
    capsys.readouterr()
    path = _config(tmp_path, sizing)
    entry = load_config(path).bots[0]
    with pytest.raises(BotError, match="sizing"):  # what the start parses, and refuses
        BotSpec.parse(entry.name, entry.named_fields())
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "bots[alpha]: " in err and needle in err, err
