"""A venue's user-stream state: a reconnect counts only a loss after a connection."""

from __future__ import annotations

from tradeguard.venues.user_stream import UserStreamState


def test_a_reconnect_counts_each_loss_of_a_connected_stream_once() -> None:
    stream = UserStreamState()
    assert stream.to_json(0)["state"] == "connecting"
    stream.set_connected(False)  # the first attempt failed: nothing was lost yet
    assert (stream.to_json(0)["state"], stream.reconnects) == ("disconnected", 0)
    stream.set_connected(True)
    up_since = stream.since_ms
    stream.set_connected(True)  # the same state again moves neither `since` nor the count
    assert (stream.since_ms, stream.reconnects) == (up_since, 0)
    stream.set_connected(False)
    stream.set_connected(False)
    assert stream.reconnects == 1
    stream.on_message()  # a message means connected
    assert stream.connected and stream.last_message_ms is not None
    last = stream.last_message_ms
    view = stream.to_json(last + 1500)
    assert (view["state"], view["last_message_age_s"], view["reconnects"]) == (
        "connected", 1.5, 1,
    )  # fmt: skip
