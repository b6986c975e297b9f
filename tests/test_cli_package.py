"""The command line is one package: nothing below it imports it, and it reads in screens."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tradeguard
from ast_support import parse

SRC = Path(tradeguard.__file__).parent
CLI = SRC / "cli"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_outside_the_cli_package_imports_a_cli():
    offenders = {
        str(path.relative_to(SRC)): sorted(
            n for n in _imports(path) if n == "tradeguard.cli" or n.startswith("tradeguard.cli.")
        )
        for path in SRC.rglob("*.py")
        if CLI not in path.parents
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_cli_module_named_outside_the_package():
    leftovers = [p for p in SRC.rglob("cli.py")] + [SRC / "control.py"]
    assert [str(p) for p in leftovers if p.exists()] == []


def test_cli_modules_and_functions_fit_their_limits():
    too_long = []
    for path in CLI.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 600:
            too_long.append(f"{path.name}: {len(text.splitlines())} lines")
        for node in ast.walk(parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    too_long.append(f"{path.name}:{node.name}: {length} lines")
    assert too_long == []


def test_python_dash_m_runs_the_same_command_line():
    proc = subprocess.run(
        [sys.executable, "-m", "tradeguard.cli", "config", "check", "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "example: tradeguard config check" in proc.stdout
