"""An email sent twice for one alert carries one Message-ID both times.

Email is at-least-once: a session cut after the relay accepted the message but before its
answer reached the node is a failure to the node, which sends the alert again. Each email
carries a Message-ID made from the alert's durable id (kept with the alert until delivered,
across restarts), so a mail client or relay drops the second copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email
from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from smtp_support import smtp_relay
from test_alerts_channels import ALERT
from tradeguard.alerts import ChannelError, EmailChannel

RAISED = dataclasses.replace(ALERT, id="00000001765000000000-0123456789ab")


class _CuttingInbox:
    """Take every message; cut the session before answering the first one."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        self.messages.append(email.message_from_bytes(raw))
        if len(self.messages) == 1:
            assert server.transport is not None
            server.transport.abort()  # accepted, but the answer never leaves
        return "250 OK"


@contextlib.contextmanager
def _relay() -> Iterator[tuple[_CuttingInbox, int]]:
    inbox = _CuttingInbox()
    with smtp_relay(inbox) as port:
        yield inbox, port


def _channel(port: int) -> EmailChannel:
    return EmailChannel("127.0.0.1", port, "bot@tradeguard.test", ["ops@tradeguard.test"],
                        starttls=False)  # fmt: skip


async def test_an_email_resent_after_a_cut_session_has_the_same_message_id() -> None:
    with _relay() as (inbox, port):
        channel = _channel(port)
        with pytest.raises(ChannelError):
            await channel.send(RAISED)  # the relay took it; the node heard nothing
        await channel.send(RAISED)  # the retry
        await channel.aclose()

    first, second = inbox.messages
    assert (
        first["Message-ID"]
        == second["Message-ID"]
        == ("<00000001765000000000-0123456789ab@tradeguard.test>")
    )


async def test_the_message_id_is_the_alerts_own_after_a_restart_and_differs_between_alerts() -> (
    None
):
    other = dataclasses.replace(RAISED, id="00000001765000000001-ba9876543210")
    before, after = _channel(25), _channel(25)  # a restart: another channel, the same alert

    assert before.message(RAISED)["Message-ID"] == after.message(RAISED)["Message-ID"]
    assert before.message(other)["Message-ID"] != before.message(RAISED)["Message-ID"]


def test_an_alert_without_an_id_gets_a_message_id_from_its_content() -> None:
    channel = _channel(25)
    bare = dataclasses.replace(RAISED, id="")
    first = channel.message(bare)["Message-ID"]

    assert first is not None and first == channel.message(bare)["Message-ID"]
    assert first != channel.message(dataclasses.replace(bare, ts=bare.ts + 1))["Message-ID"]


def test_an_alert_id_a_header_cannot_carry_is_hashed_into_the_message_id() -> None:
    channel = _channel(25)
    odd = channel.message(dataclasses.replace(RAISED, id="a b>\r\nBcc: x@y"))["Message-ID"]

    assert odd is not None and odd.startswith("<") and odd.endswith("@tradeguard.test>")
    assert " " not in odd and "\n" not in odd and "Bcc" not in odd
