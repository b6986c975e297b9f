"""`tradeguard arb run`: the node's live loop with a triangular strategy, then the cycles table."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tradeguard.cli import main
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage
from triangular_node_support import drifting_sandbox, sandbox_config, threaded_sandbox, to_toml


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SandboxExchange]:
    """A drifting sandbox served from its own thread and loop, so the CLI can own this one."""
    with threaded_sandbox(monkeypatch, tmp_path) as ex:
        yield ex


def _write(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "arb.toml"
    path.write_text(to_toml(data))
    return str(path)


def test_arb_run_json_lists_the_cycles_and_totals_of_this_run(
    sandbox: SandboxExchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path, sandbox_config(tmp_path, sandbox))

    assert main(["arb", "run", "--config", config, "--duration", "4", "--json"]) == 0

    doc = json.loads(capsys.readouterr().out)
    cycles, totals = doc["cycles"], doc["totals"]
    completed = [c for c in cycles if c["outcome"] == "completed"]
    assert completed and totals["outcomes"]["completed"] == len(completed)
    first = completed[0]
    assert first["path"].startswith("USDT -> ") and first["path"].endswith(" -> USDT")
    assert Decimal(first["actual_profit"]) > 0 and Decimal(first["expected_profit_pct"]) >= Decimal(
        "0.5"
    )
    assert first["orders"] == 3 and first["latency_ms"] is not None
    assert totals["orders"] == doc["summary"]["orders"] == sum(c["orders"] for c in cycles)
    assert Decimal(totals["actual_profit"]["USDT"]) == sum(
        (Decimal(c["actual_profit"]) for c in cycles), Decimal(0)
    )
    assert doc["summary"]["mode"] == "sandbox" and doc["summary"]["trading_state"] == "ACTIVE"
    assert sandbox.balances(ALICE_KEY)["USDT"][0] > Decimal(10_000)


def test_arb_run_prints_a_table_of_cycles_and_a_second_run_reports_only_its_own(
    sandbox: SandboxExchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path, sandbox_config(tmp_path, sandbox))

    assert main(["arb", "run", "--config", config, "--duration", "3"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"Cycles \((\d+)\)", out)
    assert found is not None and int(found.group(1)) >= 1
    assert "completed" in out and "USDT>" in out
    assert "mean latency" in out and "trading state ACTIVE" in out

    assert main(["arb", "run", "--config", config, "--duration", "0.5", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["summary"]["resumed"] is True
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    ids = [r["id"] for r in load_arb_executions(storage)]
    storage.db.dispose()
    first_run = int(found.group(1))
    assert len(ids) == first_run + len(second["cycles"])
    assert [c["id"] for c in second["cycles"]] == ids[first_run:]


def _unreached(data: dict[str, Any]) -> dict[str, Any]:
    """A never-started sandbox's URLs carry port 0, which no config takes: port 9 (discard),
    which the refusal under test comes before ever reaching."""
    for venue in data["venues"]:
        for key in ("rest_url", "ws_url"):
            if key in venue:
                venue[key] = venue[key].replace(":0/", ":9/")
    return data


def test_arb_run_refuses_a_config_without_an_enabled_triangular_strategy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ex = drifting_sandbox()  # never started: the refusal comes first
    data = _unreached(sandbox_config(tmp_path, ex))
    data["strategies"][0]["enabled"] = False

    assert main(["arb", "run", "--config", _write(tmp_path, data)]) == 2

    err = capsys.readouterr().err
    assert "no enabled strategy of kind 'triangular'" in err
    assert "examples/triangular_sandbox.toml" in err


def test_arb_run_refuses_paper_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _unreached(sandbox_config(tmp_path, drifting_sandbox(), mode="paper"))
    data["venues"][0]["kind"] = "paper"

    assert main(["arb", "run", "--config", _write(tmp_path, data)]) == 2

    assert "mode = 'paper', but arb run trades on venue streams" in capsys.readouterr().err


def test_arb_run_in_live_mode_needs_the_same_confirmation_as_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TG_CONFIRM_LIVE", raising=False)
    data = sandbox_config(tmp_path, drifting_sandbox(), mode="live")
    venue = data["venues"][0]
    del venue["rest_url"], venue["ws_url"]
    venue["sandbox"] = False

    assert main(["arb", "run", "--config", _write(tmp_path, data)]) == 2

    err = capsys.readouterr().err
    assert 'refusing to start in mode = "live"' in err and "--confirm-live" in err


def test_arb_run_in_an_80_column_terminal_shows_every_figure_whole(
    sandbox: SandboxExchange, tmp_path: Path
) -> None:
    """A profit cut to `0.48721…` is a figure nobody can read; a path broken over four lines and
    a summary wrapped at column 0 are a table nobody can scan."""
    import sys

    from pty_support import run_in_pty

    config = _write(tmp_path, sandbox_config(tmp_path, sandbox))
    exe = str(Path(sys.executable).parent / "tradeguard")
    argv = [exe, "arb", "run", "--config", config, "--duration", "3"]
    code, screen = run_in_pty(argv, cwd=tmp_path, columns=80, timeout_s=240)
    assert code == 0, screen
    text = re.sub(r"\x1b\[[0-9;]*m", "", screen)
    assert "…" not in text, text
    rows = [line for line in text.splitlines() if re.match(r"^│\s*\d+ │", line)]
    assert rows, text
    for row in rows:
        assert re.search(r"│ USDT>\w+>\w+>USDT +│ completed │", row), row
        assert re.search(r"│ +-?\d+\.\d+ USDT │", row), row
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Starting a sandbox run"))
    after = lines[at + 1]  # the database's path folds onto an indented line, or fits
    assert after.startswith("    ") or after[:2].isdigit(), f"broken at column 0: {after!r}"
    summary = text[text.index("Cycles: ") :].splitlines()
    assert all(line.startswith(("Cycles: ", "Run", " ")) for line in summary), summary


def test_a_resumed_arb_run_counts_its_own_orders_in_both_summary_lines(
    sandbox: SandboxExchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cycles line counts this run; the run line counted every run of the database."""
    config = _write(tmp_path, sandbox_config(tmp_path, sandbox))
    assert main(["arb", "run", "--config", config, "--duration", "3"]) == 0
    capsys.readouterr()

    assert main(["arb", "run", "--config", config, "--duration", "2"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    cycles = re.search(r"Cycles: \d+ \([^)]*\); orders (\d+);", out)
    run = re.search(
        r"Run \(resumed\): (\d+) orders journaled this run \((\d+) in the journal\)", out
    )
    assert cycles is not None and run is not None, out
    storage = Storage(Database(f"sqlite:///{tmp_path / 'tg.db'}"))
    journal = storage.count_orders()
    storage.db.dispose()
    assert int(run.group(1)) == int(cycles.group(1))
    assert int(run.group(2)) == journal > int(run.group(1))
    assert "denied by risk in all runs" in out


def test_a_cycle_through_a_hostile_venues_assets_is_shown_escaped() -> None:
    """A cycle's path and start asset are the venue's own names (its market listing): printed
    raw, an escape in one drove the terminal and a '[/]' ended arb run in a MarkupError."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from tradeguard.cli.arb import _print_cycles

    hostile = "X\x1b[2J\x1b]0;PWNED\x07[/]"
    cycle = {
        "id": 1, "path": f"USDT -> {hostile} -> ETH -> USDT", "outcome": "completed",
        "expected_profit_pct": "0.1", "actual_profit_pct": "0.1", "actual_profit": "0.5",
        "start_asset": f"USDT{hostile}", "latency_ms": 3, "reason": "",
    }  # fmt: skip
    out = io.StringIO()
    totals = {
        "cycles": 1, "outcomes": {"completed": 1}, "orders": 3, "mean_latency_ms": 3,
        "actual_profit": {f"USDT{hostile}": "0.5"}, "fees": {hostile: "0.01"},
    }  # fmt: skip
    summary = SimpleNamespace(
        orders=3, denied=0, trading_state="ACTIVE", elapsed_s=1.0, resumed=False
    )
    _print_cycles(Console(file=out, force_terminal=True, width=200), [cycle], totals, summary, 3)
    screen = out.getvalue()
    for raw in ("\x1b[2J", "\x1b]0;", "\x07"):
        assert raw not in screen, (raw, screen)
    assert "X\\x1b[2J\\x1b]0;PWNED\\x07[/]" in screen, screen
