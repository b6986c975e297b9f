"""A slow or hung SMTP relay on 127.0.0.1: an email is delivered once, and the relay never takes
the threads the rest of the node runs on."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

from aiosmtpd.smtp import SMTP, Envelope, Session

from conftest import aeventually
from smtp_support import smtp_relay
from test_alerts_channels import ALERT
from tradeguard.alerts import AlertManager, AlertsConfig, EmailChannel


class _SlowInbox:
    """Answer every MAIL, RCPT and DATA after `delay_s`: each step inside the client's
    timeout, the whole session longer than twice it."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.messages: list[bytes] = []

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(self.delay_s)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(self.delay_s)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay_s)
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        self.messages.append(raw)
        return "250 OK"


@contextlib.contextmanager
def _slow_smtp(delay_s: float) -> Iterator[tuple[_SlowInbox, int]]:
    inbox = _SlowInbox(delay_s)
    with smtp_relay(inbox) as port:
        yield inbox, port


@contextlib.contextmanager
def _dripping_smtp() -> Iterator[int]:
    """A relay that greets one byte every 0.2 s forever: no read ever times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    conn.sendall(b"2")
                except OSError:
                    return
                stop.wait(0.2)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


async def test_a_slow_relay_gets_each_email_once() -> None:
    cfg = AlertsConfig(timeout_s=1.0, max_retries=3, retry_backoff_s=0.1, retry_backoff_max_s=0.1)
    with _slow_smtp(delay_s=0.6) as (inbox, port):
        channel = EmailChannel(
            "127.0.0.1", port, "bot@tradeguard.test", ["ops@tradeguard.test", "b@tradeguard.test"],
            starttls=False,
        )  # fmt: skip
        manager = AlertManager(cfg, [channel])
        await manager.start()
        manager.enqueue(ALERT)
        await aeventually(lambda: manager.counters["sent"] + manager.counters["failed"] == 1, 30)
        # a resend abandoned by a timeout would land after the first one
        await asyncio.sleep(3)
        await manager.stop()
    assert len(inbox.messages) == 1
    assert manager.counters["sent"] == 1


async def test_a_hung_relay_never_takes_the_shared_worker_threads() -> None:
    cfg = AlertsConfig(timeout_s=0.3, max_retries=8, retry_backoff_s=0.05, retry_backoff_max_s=0.05)
    with _dripping_smtp() as port:
        channel = EmailChannel("127.0.0.1", port, "bot@t.test", ["ops@t.test"], starttls=False)
        manager = AlertManager(cfg, [channel])
        await manager.start()
        manager.enqueue(ALERT)
        await aeventually(lambda: manager.counters["failed"] == 1, 60)
        # the loop's default executor runs the triangular scanner and the backups
        started = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(lambda: None), 10)
        waited = time.monotonic() - started
        await manager.stop(timeout_s=0)
    assert waited < 5, f"asyncio.to_thread waited {waited:.1f}s behind stuck SMTP sessions"


_STOP_AFTER_HUNG_SESSION = """
import asyncio
from tradeguard.alerts import Alert, AlertManager, AlertsConfig, EmailChannel

# test_alerts_channels.ALERT, built here: importing that module (pytest, aiosmtpd) cost more
# than the rest of this process's start
ALERT = Alert("position_closed", "Position closed: BTC/USDT long",
              "Position closed: BTC/USDT long, P&L -12.40 USDT (-1.2%)", "warning",
              "position_closed:paper:BTC/USDT::1", 1)

async def main() -> None:
    cfg = AlertsConfig(timeout_s=0.3, max_retries=0)
    channel = EmailChannel("127.0.0.1", {port}, "bot@t.test", ["ops@t.test"], starttls=False)
    manager = AlertManager(cfg, [channel])
    await manager.start()
    manager.enqueue(ALERT)
    while manager.counters["failed"] == 0:
        await asyncio.sleep(0.05)
    await manager.stop(timeout_s=0)
    print("stopped", flush=True)

asyncio.run(main())
"""


def test_a_stop_ends_the_process_while_the_relay_hangs() -> None:
    import subprocess
    import sys

    with _dripping_smtp() as port:
        code = _STOP_AFTER_HUNG_SESSION.format(port=port)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        # the hung SMTP session must not keep a stopped node's process alive
        assert "stopped" in out
        assert proc.returncode == 0, "process still running 60 s after the alerts stopped"
