"""Alert channels against real servers on 127.0.0.1: an HTTP receiver and an SMTP server."""

from __future__ import annotations

import contextlib
import email
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from smtp_support import smtp_relay
from tradeguard.alerts import (
    Alert,
    AlertsConfig,
    ChannelError,
    EmailChannel,
    TelegramChannel,
    WebhookChannel,
    build_channels,
)

TOKEN = "123456789:AAH-test-token-for-loopback-only"
ALERT = Alert(
    "position_closed",
    "Position closed: BTC/USDT long",
    "Position closed: BTC/USDT long, P&L -12.40 USDT (-1.2%)",
    "warning",
    "position_closed:paper:BTC/USDT::1",
    1,
)


@dataclass
class HttpReceiver:
    """A loopback HTTP server that records JSON bodies and answers with scripted statuses."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, Any]] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    port: int = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((request.path, body))
        status = self.statuses.pop(0) if self.statuses else 200
        if status >= 400:
            return web.json_response({"ok": False, "description": "boom"}, status=status)
        return web.json_response(self.answer, status=status)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bodies(self) -> list[Any]:
        return [b for _, b in self.requests]


@contextlib.asynccontextmanager
async def serve_http() -> AsyncIterator[HttpReceiver]:
    """Run an HttpReceiver on 127.0.0.1 for the duration of the block."""
    rec = HttpReceiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    rec.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield rec
    finally:
        await runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    async with serve_http() as rec:
        yield rec


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        self.messages.append((envelope, email.message_from_bytes(raw)))
        return "250 OK"


@dataclass
class SmtpServer:
    inbox: _Inbox
    port: int


@contextlib.contextmanager
def serve_smtp() -> Iterator[SmtpServer]:
    """Run an aiosmtpd server on 127.0.0.1 for the duration of the block."""
    inbox = _Inbox()
    with smtp_relay(inbox) as port:
        yield SmtpServer(inbox, port)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with serve_smtp() as server:
        yield server


async def test_slack_webhook_posts_text_json(receiver: HttpReceiver) -> None:
    ch = WebhookChannel(f"{receiver.base}/hooks/T0/B0/xyz", "slack")
    await ch.send(ALERT)
    await ch.aclose()
    assert receiver.requests == [
        (
            "/hooks/T0/B0/xyz",
            {
                "text": "*Position closed: BTC/USDT long*\n"
                "Position closed: BTC/USDT long, P&L -12.40 USDT (-1.2%)"
            },
        )
    ]


async def test_discord_webhook_posts_content_json(receiver: HttpReceiver) -> None:
    ch = WebhookChannel(f"{receiver.base}/api/webhooks/1/abc", "discord")
    await ch.send(ALERT)
    await ch.aclose()
    body = receiver.bodies[0]
    assert list(body) == ["content"]
    assert body["content"].startswith("**Position closed: BTC/USDT long**\n")


async def test_generic_webhook_posts_structured_json(receiver: HttpReceiver) -> None:
    ch = WebhookChannel(f"{receiver.base}/alerts", "generic")
    await ch.send(ALERT)
    await ch.aclose()
    assert receiver.bodies == [
        {
            "title": ALERT.title,
            "text": ALERT.text,
            "severity": "warning",
            "rule": "position_closed",
            "ts": 1,
        }
    ]


async def test_webhook_http_error_raises_channel_error_without_url_path(
    receiver: HttpReceiver,
) -> None:
    receiver.statuses = [500]
    ch = WebhookChannel(f"{receiver.base}/hooks/secret-path-abcdef", "slack")
    with pytest.raises(ChannelError) as info:
        await ch.send(ALERT)
    await ch.aclose()
    assert "HTTP 500" in str(info.value)
    assert "secret-path-abcdef" not in str(info.value)


async def test_webhook_connection_refused_raises_channel_error(closed_port: int) -> None:
    ch = WebhookChannel(f"http://127.0.0.1:{closed_port}/hook/private-part", "slack")
    with pytest.raises(ChannelError) as info:
        await ch.send(ALERT)
    await ch.aclose()
    assert "ConnectError" in str(info.value)
    assert "private-part" not in str(info.value)
    assert info.value.__cause__ is None


async def test_telegram_posts_send_message_to_bot_path(receiver: HttpReceiver) -> None:
    ch = TelegramChannel(TOKEN, "-100123", api_base=receiver.base)
    await ch.send(Alert("venue_error", "Venue error: <x>", "a & b", "warning", "venue_error:x", 5))
    await ch.aclose()
    path, body = receiver.requests[0]
    assert path == f"/bot{TOKEN}/sendMessage"
    assert body == {
        "chat_id": "-100123",
        "text": "<b>Venue error: &lt;x&gt;</b>\na &amp; b",
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


async def test_telegram_plain_mode_sends_no_parse_mode(receiver: HttpReceiver) -> None:
    ch = TelegramChannel(TOKEN, "42", api_base=receiver.base, parse_mode="")
    await ch.send(ALERT)
    await ch.aclose()
    body = receiver.bodies[0]
    assert "parse_mode" not in body
    assert body["text"] == f"{ALERT.title}\n{ALERT.text}"


async def test_telegram_error_and_logs_never_show_the_token(
    receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # httpx's own level too: a command line run in-process earlier (logsetup) quiets it to
    # WARNING for good, and its request lines are what this test reads
    caplog.set_level(logging.DEBUG, logger="httpx")
    ch = TelegramChannel(TOKEN, "42", api_base=receiver.base)
    await ch.send(ALERT)
    receiver.statuses = [401]
    with pytest.raises(ChannelError) as info:
        await ch.send(ALERT)
    await ch.aclose()
    assert "HTTP 401" in str(info.value)
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(ch)
    assert "sendMessage" in caplog.text  # httpx did log the request ...
    assert TOKEN not in caplog.text  # ... with the token masked


async def test_telegram_ok_false_answer_is_a_failure(receiver: HttpReceiver) -> None:
    receiver.answer = {"ok": False, "description": "chat not found"}
    ch = TelegramChannel(TOKEN, "42", api_base=receiver.base)
    with pytest.raises(ChannelError, match="chat not found"):
        await ch.send(ALERT)
    await ch.aclose()


async def test_email_is_delivered_with_subject_and_body(smtp_server: SmtpServer) -> None:
    ch = EmailChannel(
        "127.0.0.1",
        smtp_server.port,
        "bot@tradeguard.test",
        ["ops@tradeguard.test", "oncall@tradeguard.test"],
        starttls=False,
    )
    await ch.send(ALERT)
    [(envelope, msg)] = smtp_server.inbox.messages
    assert envelope.mail_from == "bot@tradeguard.test"
    assert envelope.rcpt_tos == ["ops@tradeguard.test", "oncall@tradeguard.test"]
    assert msg["Subject"] == "[tradeguard] WARNING: Position closed: BTC/USDT long"
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.decode().strip() == ALERT.text


async def test_email_to_a_closed_port_raises_channel_error(closed_port: int) -> None:
    ch = EmailChannel(
        "127.0.0.1", closed_port, "bot@t.test", ["ops@t.test"], starttls=False, timeout_s=2
    )
    with pytest.raises(ChannelError, match=r"SMTP to 127\.0\.0\.1"):
        await ch.send(ALERT)


async def test_email_starttls_refused_by_plain_server_raises_channel_error(
    smtp_server: SmtpServer,
) -> None:
    ch = EmailChannel(
        "127.0.0.1",
        smtp_server.port,
        "bot@t.test",
        ["ops@t.test"],
        starttls=True,
        password="smtp-password-xyz",
        username="bot",
    )
    with pytest.raises(ChannelError) as info:
        await ch.send(ALERT)
    assert "smtp-password-xyz" not in str(info.value)
    assert smtp_server.inbox.messages == []


def test_build_channels_creates_only_configured_channels() -> None:
    assert build_channels(AlertsConfig()) == []
    cfg = AlertsConfig.model_validate(
        {
            "webhook": {"url": "http://127.0.0.1:9/hook", "format": "discord"},
            "telegram": {"bot_token": TOKEN, "chat_id": "1", "api_base": "http://127.0.0.1:9"},
            "smtp": {
                "host": "127.0.0.1",
                "port": 2525,
                "from_addr": "a@b.test",
                "to_addrs": ["c@d.test"],
            },
        }
    )
    names = [ch.name for ch in build_channels(cfg)]
    assert names == ["webhook:discord", "telegram", "email"]
    assert TOKEN not in repr(cfg)


def test_channels_without_http_load_no_http_client(monkeypatch):
    # httpx (a second of a busy machine's start) is loaded by a webhook or Telegram channel only
    import importlib
    import sys

    import tradeguard.alerts as alerts_package
    from tradeguard.alerts.config import AlertsConfig

    monkeypatch.setattr(alerts_package, "channels", alerts_package.channels)  # restored after
    monkeypatch.delitem(sys.modules, "tradeguard.alerts.channels")
    monkeypatch.setitem(sys.modules, "httpx", None)  # any import of it fails
    fresh = importlib.import_module("tradeguard.alerts.channels")
    smtp = {
        "host": "127.0.0.1",
        "port": 2525,
        "from_addr": "a@example.com",
        "to_addrs": ["b@example.com"],
    }
    assert [c.name for c in fresh.build_channels(AlertsConfig.model_validate({"smtp": smtp}))] == [
        "email"
    ]
    with pytest.raises(ImportError):
        fresh.build_channels(
            AlertsConfig.model_validate({"webhook": {"url": "http://127.0.0.1:9/"}})
        )
