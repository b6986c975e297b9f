"""The live loop's follow-up passes: one at a time, and what a pass raised is never lost (the
next start raises it; a stop before that logs it)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tradeguard.node import kill_follow
from tradeguard.node.kill_follow import FollowUpPasses


async def test_a_pass_that_failed_just_before_the_stop_is_logged(monkeypatch, caplog):
    async def broken(node: Any) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(kill_follow, "follow_up", broken)
    passes = FollowUpPasses(object())  # type: ignore[arg-type]
    passes.start()
    await asyncio.sleep(0)  # the pass runs and fails; no later start() reads it
    with caplog.at_level(logging.ERROR, logger="tradeguard.node.kill_follow"):
        await passes.stop()
    failed = [r for r in caplog.records if "follow-up pass failed" in r.getMessage()]
    assert len(failed) == 1 and "database is locked" in failed[0].getMessage()
    assert passes.task is None


async def test_one_pass_at_a_time_and_a_failure_is_raised_by_the_next_start(monkeypatch):
    running, release = 0, asyncio.Event()
    most = 0

    async def slow(node: Any) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await release.wait()
        finally:
            running -= 1
        raise ValueError("venue answered nonsense")

    monkeypatch.setattr(kill_follow, "follow_up", slow)
    passes = FollowUpPasses(object())  # type: ignore[arg-type]
    for _ in range(5):
        passes.start()
        await asyncio.sleep(0)
    assert most == 1
    release.set()
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="nonsense"):
        passes.start()
    await passes.stop()


async def test_a_stop_cancels_a_pass_still_waiting_and_logs_nothing(monkeypatch, caplog):
    async def hangs(node: Any) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(kill_follow, "follow_up", hangs)
    passes = FollowUpPasses(object())  # type: ignore[arg-type]
    passes.start()
    await asyncio.sleep(0)
    task = passes.task
    with caplog.at_level(logging.ERROR, logger="tradeguard.node.kill_follow"):
        await passes.stop()
    assert task is not None and task.cancelled()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
