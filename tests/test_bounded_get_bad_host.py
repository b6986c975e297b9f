"""A host name the resolver cannot even encode (a label over 63 characters, an empty label) is
a FetchError saying so, at once: not a traceback from the look-up thread and not a timeout
claimed for an answer that was never asked for."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tradeguard.cli.bounded_get import FetchError, bounded_get


@pytest.mark.parametrize("host", ["a" * 64 + ".test", "a..b"])
def test_a_host_that_cannot_be_encoded_is_named_as_such(monkeypatch, host):
    raised: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", raised.append)
    with pytest.raises(FetchError) as caught:
        bounded_get(f"http://{host}/x", deadline_s=5.0, max_bytes=10)
    assert "idna" in str(caught.value)
    assert "within" not in str(caught.value)
    assert raised == []
