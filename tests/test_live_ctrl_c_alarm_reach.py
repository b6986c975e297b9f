"""A sandbox run's abandon alarm wakes a blocked strategy callback even when another thread took
it: the abandon ran on time only when the alarm itself landed on the main thread.

The strategy here keeps the alarm off its main thread (it blocks SIGALRM there, after starting a
thread that does not), so the kernel hands the abandon timer's alarm to that other thread: noted,
and the main thread's sleep not cut short, as with an alarm that lands just before the sleep.
"""

from __future__ import annotations

from pathlib import Path

from blocked_run_support import ctrl_c_once_marked
from tradeguard.node.interrupt import ABANDON_AFTER_S

SLEEPER = """
import signal
import threading
import time
from pathlib import Path

from tradeguard.strategies.base import Strategy


class AlarmElsewhere(Strategy):
    timeframe = None

    def on_ticker(self, quote):
        threading.Thread(target=time.sleep, args=(120,), daemon=True).start()  # takes it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        Path(self.params["marker"]).write_text("blocked")
        time.sleep(60)
"""


async def test_the_abandon_alarm_another_thread_took_still_wakes_the_callback(
    tmp_path: Path, monkeypatch
) -> None:
    code, screen, took = await ctrl_c_once_marked(
        tmp_path, monkeypatch, SLEEPER, strategy="sleeper", cls="AlarmElsewhere",
        marker="blocked", finish_s=45,
    )  # fmt: skip
    assert code == 130, screen
    assert took < ABANDON_AFTER_S + 20, (took, screen)  # the sleep had 60 s to go
    assert "strategy sleeper" in screen and "abandoned" in screen, screen
    assert "Traceback" not in screen, screen
