"""Every write to the kill file yields a kill: the node takes the file (an atomic rename)
before it reads it, and the end of a kill removes only the file it took."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from node_support import node_for, paper_config, write_slice
from test_risk_support import Rig
from tradeguard.model import TradingState
from tradeguard.model.events import EventKind
from tradeguard.risk import KillSwitch


def _taken(sentinel: Path) -> list[Path]:
    return sorted(sentinel.parent.glob(sentinel.name + ".taken-*"))


async def test_a_kill_file_written_while_a_kill_cancels_is_the_next_kill(tmp_path, data_dir):
    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, strategies=False, tmp=tmp_path)
    node = node_for(cfg)
    await node.start()
    await node.run()
    sentinel = Path(cfg.node.kill_sentinel)
    cancel_all = node.orders.cancel_all
    rewrites = []

    async def rewrite_then_cancel():  # the window: after the node read the file, before its end
        if not rewrites:
            sentinel.write_text("flatten: second request\n")
            rewrites.append(sentinel.stat().st_ino)
        return await cancel_all()

    node.orders.cancel_all = rewrite_then_cancel
    try:
        sentinel.write_text("halt: first request\n")
        first = await node.poll_kill_sentinel()
        assert first is not None and first["flatten"] is False
        assert rewrites, "the hook never ran: the window was not reached"
        assert sentinel.exists(), "the request written during the kill was removed with it"
        second = await node.poll_kill_sentinel()
        assert second is not None and second["flatten"] is True
        assert await node.poll_kill_sentinel() is None
        assert not sentinel.exists() and _taken(sentinel) == []
        assert node.risk.state is TradingState.HALTED
        events = node.storage.load_events(kind_prefix="kill")
        assert [e.data["stage"] for e in events].count("done") == 2
    finally:
        node.close()


def test_a_write_into_the_file_after_it_was_read_is_acted_on_again(tmp_path: Path) -> None:
    rig = Rig()
    sentinel = tmp_path / "tg.kill"
    kill = KillSwitch(rig.engine, rig.clock, sentinel)
    # a writer opens the kill file, the node takes and reads it, then the writer writes
    with open(sentinel, "w", encoding="utf-8") as late:
        first = kill.poll()
        assert first is not None and not first.flatten
        late.write("flatten please\n")
    kill.release(first)  # the kill ends: the file changed since it was read, so it stays
    assert [p.name for p in _taken(sentinel)] == [first.sentinel]
    second = kill.poll()
    assert second is not None and second.flatten and second.sentinel == first.sentinel
    kill.release(second)
    assert _taken(sentinel) == [] and kill.poll() is None


def test_a_taken_file_a_stopped_node_left_is_dropped_only_when_its_kill_was_stored(
    tmp_path: Path,
) -> None:
    rig = Rig()
    sentinel = tmp_path / "tg.kill"
    kill = KillSwitch(rig.engine, rig.clock, sentinel)
    sentinel.write_text("halt\n")
    asked = kill.poll()  # taken and stored; the node stops before the kill ends
    assert asked is not None and _taken(sentinel) != []
    # a node that took a file and stopped before it could ask for the kill
    unasked = tmp_path / f"tg.kill.taken-{os.getpid()}"
    unasked.write_text("flatten\n")
    rig.engine.resume("op", "drill over")

    again = KillSwitch(rig.restart(), rig.clock, sentinel)
    request = again.poll()
    assert request is not None and request.flatten and request.sentinel == unasked.name
    assert [p.name for p in _taken(sentinel)] == [unasked.name]  # the stored one dropped
    again.release(request)
    assert _taken(sentinel) == [] and again.poll() is None
    triggered = [e for e in rig.kinds(EventKind.KILL) if e.data["stage"] == "triggered"]
    assert len(triggered) == 2


@pytest.mark.parametrize("step", ["taken", "stored", "finished"])
def test_a_node_sigkilled_after_taking_the_kill_file_kills_once_at_the_next_start(
    tmp_path: Path, data_dir: Path, step: str
) -> None:
    write_slice(data_dir, tmp_path / "btc.csv", 200)
    child = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("kill_file_child.py")), str(tmp_path), step],
        cwd=Path(__file__).parent, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    sentinel = tmp_path / "tg.kill"
    assert not sentinel.exists() and len(_taken(sentinel)) == 1  # died holding the taken file
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", tmp_path / "btc.csv",
                       strategies=False, tmp=tmp_path)  # fmt: skip
    node = node_for(cfg)
    try:
        asyncio.run(node.start())  # start-up: the kill file, then a kill cut short
        assert node.risk.state is TradingState.HALTED
        last = node.risk.last_kill
        assert last is not None and last["finished_ts"] > 0, last
        assert _taken(sentinel) == [] and not sentinel.exists()
        stages = [e.data["stage"] for e in node.storage.load_events(kind_prefix="kill")]
        assert stages.count("triggered") == 1 and stages.count("done") == 1, stages  # once
    finally:
        asyncio.run(node.stop())
        node.close()


def test_a_kill_asked_without_flatten_never_flattens_whatever_its_reason(tmp_path: Path) -> None:
    """`tradeguard kill --reason "..."` beside a running node writes `halt: REASON (by WHO)`;
    the node read `flatten` anywhere in the text, so a reason such as "do not flatten" closed
    every position the operator meant to keep. Its reason and who asked are recorded."""
    rig = Rig()
    sentinel = tmp_path / "tg.kill"
    kill = KillSwitch(rig.engine, rig.clock, sentinel)
    asked = [
        ("halt: do not flatten, venue incident (by ops)\n", False),
        ("flatten: close all (by ops)\n", True),
        ("halt: keep positions (by ops)\nflatten: no, Flatten them (by risk)\n", True),
        ("flatten please\n", True),  # a file written by hand: `flatten` anywhere flattens
        ("halt\n", False),
    ]
    for text, flatten in asked:
        sentinel.write_text(text)
        request = kill.poll()
        assert request is not None and request.flatten is flatten, text
        kill.finish(kill.report(request))  # ended: a flatten still running is carried on
        kill.release(request)
    sentinel.write_text("halt: do not flatten, venue incident (by ops)\n")
    request = kill.poll()
    assert request is not None and request.by == "ops", request
    assert request.reason == f"do not flatten, venue incident (sentinel file {sentinel})"
    assert "do not flatten, venue incident" in rig.engine.state_reason
    assert rig.engine.state_by == "ops"


def test_many_kills_appended_before_the_node_takes_the_file_keep_each_ones_verb(
    tmp_path: Path,
) -> None:
    """Kills asked beside a running node append a line each; the node read the first 1000
    characters only. Five halts whose reasons say "do not flatten" read as hand-written text
    past that (the cut last line) and flattened; a `--flatten` asked sixth was never read and
    the kill only halted."""
    from tradeguard.risk.kill import sentinel_line

    rig = Rig()
    sentinel = tmp_path / "tg.kill"
    kill = KillSwitch(rig.engine, rig.clock, sentinel)
    halt = "do not flatten: the venue is down, positions are hedged " + "x" * 140  # 200 chars
    sentinel.write_text("".join(sentinel_line(False, halt, "ops") for _ in range(5)))
    request = kill.poll()
    assert request is not None and request.flatten is False and request.by == "ops"
    kill.release(request)
    lines = [sentinel_line(False, "venue down " + "y" * 189, "ops") for _ in range(5)]
    sentinel.write_text("".join([*lines, sentinel_line(True, "close all", "risk")]))
    request = kill.poll()
    assert request is not None and request.flatten is True and request.by == "risk"


def test_a_kill_file_line_naming_who_with_parentheses_keeps_its_verb(tmp_path: Path) -> None:
    """Who asked is the login name, which may hold '(' (LOGNAME="ops (night)"): the line no
    longer read as `tradeguard kill`'s, and a reason saying "do not flatten" flattened."""
    from tradeguard.risk.kill import sentinel_line

    rig = Rig()
    sentinel = tmp_path / "tg.kill"
    kill = KillSwitch(rig.engine, rig.clock, sentinel)
    sentinel.write_text(sentinel_line(False, "do not flatten", "ops (night)\nshift"))
    request = kill.poll()
    assert request is not None and request.flatten is False, request
    assert request.by == "ops [night] shift"


def test_a_kill_file_reason_with_control_characters_halts_and_is_stored_escaped(
    tmp_path: Path,
) -> None:
    """A kill file's reason and who are stored, audited, logged and shown as the API's and the
    command line's are: one line of text. An escape sequence, a NUL or a bidi control written
    into the file still halts, its characters kept as escapes rather than as control bytes."""
    rig = Rig()
    sentinel = tmp_path / "tg.kill"
    kill = KillSwitch(rig.engine, rig.clock, sentinel)
    sentinel.write_text("halt: venue\x1b[2J down\x00 \u202eevil (by o\x07ps)\n", encoding="utf-8")
    request = kill.poll()
    assert request is not None and not request.flatten
    assert rig.engine.state is TradingState.HALTED
    assert request.reason == f"venue\\x1b[2J down\\x00 \\u202eevil (sentinel file {sentinel})"
    assert request.by == "o\\x07ps"
    assert "\x1b" not in rig.engine.state_reason and "\\x1b[2J" in rig.engine.state_reason
    assert rig.engine.state_by == "o\\x07ps"
