"""The tests' SMTP relay keeps its port from the moment it is chosen: a parallel test worker
cannot take it before the relay listens on it."""

from __future__ import annotations

import errno
import smtplib
import socket

import pytest

from smtp_support import HeldPortController, smtp_relay


class _Quiet:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def test_the_relay_port_is_taken_before_the_relay_starts() -> None:
    controller = HeldPortController(_Quiet())
    try:
        with socket.socket() as other, pytest.raises(OSError) as refused:
            other.bind(("127.0.0.1", controller.port))
        assert refused.value.errno == errno.EADDRINUSE
    finally:
        controller.sock.close()


def test_the_relay_answers_on_the_port_it_held() -> None:
    with smtp_relay(_Quiet()) as port, smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        assert client.noop()[0] == 250
