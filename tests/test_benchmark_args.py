"""The arbitrage executor benchmark refuses counts it could report no figure for."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "triangular_exec.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """The benchmark script loaded once in this process (a start of its own imports the whole
    triangular stack, some 2 s of CPU): its `main` is what `python triangular_exec.py` runs."""
    spec = importlib.util.spec_from_file_location("triangular_exec_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _must_not_run(*args: object) -> None:
    raise AssertionError("the benchmark ran: the count was not refused")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--updates", "200"], "--updates 200: must be at least 201"),
        (["--paper", "0"], "--paper 0: must be at least 1"),
        (["--sandbox", "-1"], "--sandbox -1: must be at least 0"),
    ],
)
def test_a_count_with_no_sample_is_a_usage_error(
    script: ModuleType, monkeypatch, capsys, args: list[str], said: str
) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *args])
    monkeypatch.setattr(script, "run", _must_not_run)
    with pytest.raises(SystemExit) as ended:
        script.main()
    out, err = capsys.readouterr()
    assert ended.value.code == 2, err[-500:]
    assert said in err and "Traceback" not in err
    assert out == ""
