"""Long work on the event loop pauses after each slice of time, so what shares the loop runs."""

from __future__ import annotations

import asyncio
import gc

import httpx
import pytest

from node_support import node_for, paper_config, write_slice
from test_api_support import PERMISSIVE, bearer, build_app
from tradeguard.api.server import ApiServer
from tradeguard.pacing import Pacer


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_pacer_is_due_only_once_its_slice_is_used_up_and_a_pause_starts_a_new_one():
    clock = FakeClock()
    pacer = Pacer(0.002, clock)
    assert not pacer.due()
    clock.now += 0.0019
    assert not pacer.due()
    clock.now += 0.0001
    assert pacer.due()
    await pacer.pause()
    assert not pacer.due()
    with pytest.raises(ValueError, match="slice_s=0"):
        Pacer(0)


async def test_a_pause_lets_work_that_needs_two_turns_of_the_loop_finish():
    # An HTTP request is read in one turn and answered in the next: it must not wait a slice.
    finished: list[str] = []

    async def read_then_answer() -> None:
        await asyncio.sleep(0)
        finished.append("answered")

    request = asyncio.create_task(read_then_answer())
    await Pacer(0.001, FakeClock()).pause()
    assert finished == ["answered"] and request.done()


async def test_collect_keeps_every_item_in_order_and_lets_other_tasks_run_between_slices():
    clock = FakeClock()
    turns: list[int] = []
    produced = 0

    def items():
        nonlocal produced
        for n in range(320):
            clock.now += 0.0001  # each item costs a tenth of the slice
            produced = n + 1
            yield n

    async def other() -> None:
        while True:
            turns.append(produced)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(other())
    await asyncio.sleep(0)
    got = await Pacer(0.001, clock).collect(items())
    watcher.cancel()

    assert got == list(range(320))
    # the other task ran between slices, not only before and after the whole collection
    assert len({t for t in turns if 0 < t < 320}) >= 5


async def test_the_api_answers_while_a_replay_runs_and_the_replay_data_is_frozen_meanwhile(
    tmp_path, data_dir
):
    data = write_slice(data_dir, tmp_path / "btc.csv", 8_000)
    cfg = paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, risk=PERMISSIVE, tmp=tmp_path)
    node = node_for(cfg)
    await node.start()
    app, tokens = build_app(node)
    server = ApiServer(node, "127.0.0.1", 0, app=app)
    await server.start()
    answers: list[tuple[int, int]] = []  # (candles replayed when answered, the answer's clock)
    # Read once, mid-run: gc.get_freeze_count() walks every frozen object (the whole test
    # session), and read after each answer it held the loop longer than the replay's work did.
    frozen_during: int | None = None
    try:
        async with asyncio.timeout(60), httpx.AsyncClient(base_url=server.url) as http:
            replay = asyncio.create_task(node.run())
            for _ in range(100_000):  # a real socket: each request waits for a replay pause
                if replay.done():
                    break
                r = await http.get("/api/v1/state", headers=bearer(tokens.viewer))
                assert r.status_code == 200, r.text
                answers.append((node.stats.events, r.json()["ts"]))
                if frozen_during is None and 0 < node.stats.events < 8_000:
                    frozen_during = gc.get_freeze_count()
            summary = await replay
    finally:
        await server.stop()
    mid_run = [a for a in answers if 0 < a[0] < 8_000]
    assert len(mid_run) >= 3, answers[:5]
    assert len({ts for _, ts in mid_run}) >= 3  # the answers follow the replay's clock
    assert frozen_during is not None and frozen_during > 0
    assert gc.get_freeze_count() == 0  # handed back to the collector when the run ends
    assert summary.events == 8_000
    node.close()
