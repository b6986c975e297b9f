"""A replay stopped on request reports where it stopped: the progress callback's last call, the
run summary (and the run.finished event the API lists) say "k of n" candles, not n of n; a run
that went to the end says n of n."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from node_support import node_for
from test_replay_stop_resume import _config, _replay_order
from tradeguard.cli.run import print_summary
from tradeguard.config import load_config
from tradeguard.model.events import EventKind


async def _run(cfg: Path, stop_after: int | None) -> tuple[list, object, list]:
    node = node_for(load_config(cfg))
    await node.start()
    calls: list[tuple[int, int]] = []
    finished: list = []
    node.bus.subscribe(lambda e: finished.append(e.data), EventKind.RUN_FINISHED)
    done = [0]

    async def listener(symbol: str, price, reason: str) -> None:
        done[0] += 1
        if stop_after is not None and done[0] == stop_after:
            node.request_stop()

    node.price_listeners.append(listener)
    try:
        summary = await node.run(
            until_end=stop_after is None, progress=lambda d, t: calls.append((d, t))
        )
        console = Console(record=True, width=120)
        print_summary(console, summary, node)
        text = console.export_text()
        await node.stop()
    finally:
        node.close()
    return calls, summary, [finished, text]


@pytest.mark.parametrize("stop_after", [41, None])
async def test_a_stopped_replay_reports_where_it_stopped(
    tmp_path: Path, data_dir: Path, stop_after: int | None
) -> None:
    cfg = _config(tmp_path, data_dir)
    total = len(_replay_order(tmp_path))
    calls, summary, (finished, text) = await _run(cfg, stop_after)
    done = total if stop_after is None else stop_after
    assert calls[-1] == (done, total)  # was (total, total) for a stop
    assert (summary.candles_done, summary.candles_total) == (done, total)
    assert (finished[0]["candles_done"], finished[0]["candles_total"]) == (done, total)
    stopped = f"{done} of {total}"
    assert (stopped in text) is (stop_after is not None), text


async def test_a_resumed_replay_counts_from_the_data_start(tmp_path: Path, data_dir: Path) -> None:
    cfg = _config(tmp_path, data_dir)
    total = len(_replay_order(tmp_path))
    await _run(cfg, 20)
    calls, summary, _ = await _run(cfg, 21)  # 21 more: 41 of the data's candles done
    assert calls[-1] == (41, total)
    assert (summary.candles_done, summary.candles_total) == (41, total)
