"""Alerts are part of the unit of work: a replay SIGKILLed between commits and resumed sends no
alert twice (alerts of uncommitted work were never sent)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from node_support import write_paper_toml, write_slice
from tradeguard.alerts.config import AlertsConfig
from tradeguard.alerts.manager import AlertManager
from tradeguard.alerts.rules import Alert
from tradeguard.model.events import Event, EventKind
from tradeguard.storage.db import Database
from tradeguard.storage.repository import Storage

FAST_MA = """
[[strategies]]
id = "ma_cross"
kind = "ma_crossover"
venue = "paper"
symbol = "BTC/USDT"
params = { fast = 3, slow = 8, order_usd = "90" }
"""


async def _run(
    config: Path, kill_when: Callable[[], bool] | None = None, within_s: float = 0
) -> tuple[int, float]:
    """Run the replay to its end, or SIGKILL it once `kill_when` holds or `within_s` passed
    since the node started (its first line out: imports and start-up vary much more under
    load than the replay does). Return its exit code and when the node started."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeguard.cli", "run", "--until-end", "--config", str(config),
        cwd=config.parent.parent, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 120)  # "Starting a paper run; ..."
    started = time.monotonic()
    if kill_when is not None:
        deadline = started + within_s
        while not kill_when() and time.monotonic() < deadline and proc.returncode is None:
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode in (0, -signal.SIGKILL), (first + out, err.decode()[-1500:])
    return proc.returncode, started


async def test_a_replay_killed_between_commits_and_resumed_sends_no_alert_twice(
    tmp_path: Path, data_dir: Path
) -> None:
    received: dict[str, list[str]] = {"clean": [], "killed": []}
    first_at: dict[str, float] = {}  # when a run's first alert came: its first commit
    ids: set[str] = set()

    async def hook(request: web.Request) -> web.Response:
        # A receiver drops a repeat by its id: one delivered just before the kill, its row not
        # yet deleted, is sent again by the next start with the same id.
        alert_id = request.headers["X-Alert-Id"]
        first_at.setdefault(request.match_info["run"], time.monotonic())
        if alert_id not in ids:
            ids.add(alert_id)
            received[request.match_info["run"]].append((await request.json())["text"])
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{run}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    data = write_slice(data_dir, tmp_path / "btc.csv", 4_000)
    try:
        configs = {}
        for run in ("clean", "killed"):
            folder = tmp_path / run
            folder.mkdir()
            configs[run] = write_paper_toml(
                folder, data, strategies=FAST_MA,
                node_extra="replay_commit_interval_s = 60\ncheckpoint_every = 10000000",
                extra=f'[alerts.webhook]\nurl = "http://127.0.0.1:{port}/{run}"\n'
                'format = "generic"\n',
            )  # fmt: skip
        code, started = await _run(configs["clean"])
        assert code == 0
        replay_s = first_at["clean"] - started  # its one commit is the replay's end
        # Killed half-way through its replay, before its first commit (or, were alerts sent at
        # once, after a few had gone out): everything it did is replayed by the resumed run.
        code, _ = await _run(configs["killed"], lambda: len(received["killed"]) >= 3, replay_s / 2)
        assert code == -signal.SIGKILL
        before_resume = len(received["killed"])
        assert before_resume == 0, received["killed"]  # nothing of uncommitted work went out
        assert (await _run(configs["killed"]))[0] == 0
    finally:
        await runner.cleanup()

    clean, killed = Counter(received["clean"]), Counter(received["killed"])
    assert len(clean) > 5, received
    # No alert of the clean run is sent more often: none of the lost interval's came twice.
    repeated = {text: (n, clean[text]) for text, n in killed.items() if clean[text] < n > 1}
    assert repeated == {}, repeated
    # The trade alerts are the clean run's, less at most those handed to the webhook worker but
    # not yet sent when the process died (those wait in the database: the resumed run sends
    # them). The performance watch's
    # windows restart empty in a new process, so its alerts may differ: a gap, not a repeat.
    trades = Counter({t: n for t, n in clean.items() if t.startswith("Position")})
    resumed = Counter({t: n for t, n in killed.items() if t.startswith("Position")})
    assert trades and not resumed - trades, resumed - trades
    assert sum(resumed.values()) > before_resume


async def test_an_alert_waits_for_the_commit_of_the_work_it_reports(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    sent: list[str] = []
    manager = _held_by(storage, sent)
    await manager.start()
    opened = _opened(1, "BTC/USDT", "0.1", "50000")
    try:
        with storage.holding_connection(), storage.unit_of_work():
            manager.on_event(opened)
            storage.kv_set("work", 1)
            await asyncio.sleep(0.1)
            assert sent == []  # the work is not committed: a crash now must not have sent it
            assert storage.commit_unit()
            await asyncio.wait_for(_until(lambda: len(sent) == 1), 5)
        manager.on_event(opened)  # outside any transaction: nothing to wait for
        await asyncio.wait_for(_until(lambda: len(sent) == 2), 5)
    finally:
        await manager.stop()
        storage.db.dispose()


async def test_an_alert_of_work_that_rolled_back_is_never_sent(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    sent: list[str] = []
    manager = _held_by(storage, sent)
    storage.add_rollback_hook(manager.discard)
    await manager.start()
    lost = _opened(1, "BTC/USDT", "0.1", "50000")
    kept = _opened(2, "ETH/USDT", "1", "3000")
    try:
        with contextlib.suppress(RuntimeError), storage.transaction():
            manager.on_event(lost)
            storage.kv_set("work", 1)
            raise RuntimeError("the work fails before its commit")
        with storage.transaction():  # the next commit sends its own alert only
            manager.on_event(kept)
            storage.kv_set("work", 2)
        await asyncio.wait_for(_until(lambda: len(sent) == 1), 5)
        await asyncio.sleep(0.1)
        assert len(sent) == 1 and "ETH/USDT" in sent[0]
        assert storage.kv_get("work") == 2
    finally:
        await manager.stop()
        storage.db.dispose()


def _storage(tmp: Path) -> Storage:
    storage = Storage(Database(f"sqlite:///{tmp / 'tg.db'}"))
    storage.db.migrate()
    return storage


def _opened(ts: int, symbol: str, quantity: str, entry_price: str) -> Event:
    """A long position opened on the paper venue: an event that raises one alert."""
    return Event(
        kind=EventKind.POSITION_OPENED, ts=ts, venue="paper", symbol=symbol,
        data={"side": "long", "quantity": quantity, "entry_price": entry_price},
    )  # fmt: skip


class _Recorder:
    """An alert channel that notes the title of every alert it is handed in `sent`."""

    name = "recorder"

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    async def send(self, alert: Alert) -> None:
        self.sent.append(alert.title)

    async def aclose(self) -> None:
        return None


def _held_by(storage: Storage, sent: list[str]) -> AlertManager:
    """An alert manager sending to `sent` that holds alerts until `storage` commits."""
    manager = AlertManager(AlertsConfig(), [_Recorder(sent)])
    manager.hold = lambda: storage.in_transaction
    storage.add_commit_hook(manager.seal)
    storage.add_after_commit_hook(manager.release)
    return manager


async def _until(check: Callable[[], bool]) -> None:
    while not check():
        await asyncio.sleep(0.01)
