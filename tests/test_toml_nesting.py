"""A TOML file nested thousands deep is bad input: one line naming the file, exit 2, under a
pseudo-terminal as a user's shell runs the command.

`tomllib` recurses once per `[`: 5,000 of them raised RecursionError through `config check`,
`pm map check` and `sweep --grid`, a 30-line traceback instead of the error naming the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pty_support import run_in_pty

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"


def _deep_config(tmp_path: Path) -> Path:
    path = tmp_path / "deep.toml"
    path.write_text((EXAMPLES / "pm_arb_paper.toml").read_text() + "[extra]\n" + DEEP)
    return path


def _deep_map(tmp_path: Path) -> Path:
    path = tmp_path / "map.toml"
    path.write_text(DEEP)
    return path


def _deep_grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(DEEP)
    return path


@pytest.mark.parametrize(
    ("make", "args", "named"),
    [
        (_deep_config, ["config", "check", "{f}"], "config file {f} is not valid TOML"),
        (_deep_map, ["pm", "map", "check", "{f}", "--config", str(EXAMPLES / "pm_arb_paper.toml")],
         "market map {f}: not valid TOML"),
        (_deep_grid, ["sweep", "--config", str(EXAMPLES / "paper.toml"), "--grid", "{f}"],
         "--grid {f}: not valid TOML"),
    ],
)  # fmt: skip
def test_a_deeply_nested_toml_file_is_refused_in_one_line(
    tmp_path: Path, make, args: list[str], named: str
) -> None:
    f = str(make(tmp_path))
    argv = [sys.executable, "-m", "tradeguard.cli", *(a.replace("{f}", f) for a in args)]
    code, screen = run_in_pty(argv, cwd=tmp_path, timeout_s=120, columns=4000)
    assert "Traceback" not in screen, screen[-2000:]
    assert code == 2, screen[-2000:]
    assert named.replace("{f}", f) in screen, screen
    assert "nested more than" in screen, screen
    assert screen.strip().count("\n") == 0, screen


def test_the_sandbox_refuses_json_nested_thousands_deep_without_a_traceback(
    tmp_path: Path,
) -> None:
    """`sandbox --config deep.json`, `--faults '[[[...'` and a keys file of nested arrays."""
    deep = "[" * 5000 + "]" * 5000
    (tmp_path / "deep.json").write_text(deep)
    (tmp_path / "keys.json").write_text(deep)
    base = [sys.executable, "-m", "tradeguard.cli", "sandbox", "--port", "0"]
    cases = [
        (["--config", "deep.json"], "sandbox config file deep.json is not valid JSON: arrays"),
        (["--faults", deep], "is not a JSON object"),
        (["--keys-file", "keys.json"], "--keys-file keys.json is not a sandbox keys file"),
    ]
    for args, named in cases:
        code, screen = run_in_pty([*base, *args], cwd=tmp_path, timeout_s=120, columns=4000)
        assert "Traceback" not in screen, (args[0], screen[-2000:])
        assert code == 2, (args[0], screen[-2000:])
        assert named in screen, (args[0], screen)
