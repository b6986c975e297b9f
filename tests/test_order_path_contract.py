"""Only the order manager talks to a venue's submit and cancel (invariant 1's one path)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

from ast_support import parse
from node_support import node_for, paper_config, write_slice

SRC = Path(__file__).resolve().parents[1] / "src" / "tradeguard"
ORDER_MANAGER = SRC / "execution" / "order_manager.py"


def _venue_calls(path: Path) -> list[int]:
    """Lines calling `.submit(` / `.cancel(` on something named like a venue."""
    lines = []
    for node in ast.walk(parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in ("submit", "cancel"):
            continue
        if "venue" in ast.unparse(node.func.value).lower():
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_order_manager_calls_a_venue_submit_or_cancel() -> None:
    offenders = {
        str(p.relative_to(SRC)): lines
        for p in SRC.rglob("*.py")
        if p != ORDER_MANAGER and "sandbox" not in p.parts and (lines := _venue_calls(p))
    }
    assert not offenders, f"venue.submit/cancel called outside the order manager: {offenders}"
    assert _venue_calls(ORDER_MANAGER), "the scan no longer sees the order manager's own calls"


def _record_callers(venue: Any, seen: list[str]) -> None:
    for name in ("submit", "cancel"):
        original = getattr(venue, name)

        async def wrapped(order: Any, _original: Any = original, _name: str = name) -> Any:
            seen.append(f"{_name}:{sys._getframe(1).f_code.co_filename}")
            return await _original(order)

        setattr(venue, name, wrapped)


async def test_every_submit_and_cancel_in_a_replay_and_a_kill_comes_from_the_order_manager(
    tmp_path: Path, data_dir: Path
) -> None:
    data = write_slice(data_dir, tmp_path / "btc.csv", 6_000)
    node = node_for(paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, tmp=tmp_path))
    seen: list[str] = []
    for venue in node.venues.values():
        _record_callers(venue, seen)
    await node.start()
    await node.run(until_end=True)
    await node.kill("contract test", by="test", flatten=True)
    await node.stop()
    node.close()
    submits = [s for s in seen if s.startswith("submit:")]
    assert submits, "the replay sent no order, so the test proved nothing"
    callers = {s.split(":", 1)[1] for s in seen}
    assert callers == {str(ORDER_MANAGER)}, callers
