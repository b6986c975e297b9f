"""How long one delivery may take and how many connections one receiver may hold are settings.

`alerts.delivery_timeouts` bounds a whole SMTP session or HTTP request (its answer included) at
that many `alerts.timeout_s`; `alerts.max_connections_per_receiver` caps the connections a
webhook or Telegram receiver may hold. A value out of range is refused naming the key, the
value and the limit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from test_alerts_channels import ALERT
from test_alerts_slow_smtp import _dripping_smtp
from tradeguard.alerts import ChannelError, EmailChannel
from tradeguard.alerts.channels import build_channels
from tradeguard.alerts.config import AlertsConfig
from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError


@pytest.mark.parametrize(
    ("line", "named", "limit"),
    [
        ("delivery_timeouts = 0", "alerts.delivery_timeouts", "1"),
        ("delivery_timeouts = 61", "alerts.delivery_timeouts", "60"),
        ("max_connections_per_receiver = 0", "alerts.max_connections_per_receiver", "1"),
        ("max_connections_per_receiver = 65", "alerts.max_connections_per_receiver", "64"),
        ("timeout_s = 300\ndelivery_timeouts = 13", "alerts.delivery_timeouts", "3600"),
    ],
)
def test_a_delivery_bound_out_of_range_names_key_value_and_limit(
    tmp_path: Path, line: str, named: str, limit: str
) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(f"[alerts]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})
    text = str(err.value)
    value = line.rsplit("= ", 1)[1]
    assert named.rsplit(".", 1)[1] in text and value in text and limit in text, text
    assert "Traceback" not in text


def test_the_channels_take_the_configured_bounds() -> None:
    config = AlertsConfig.model_validate(
        {
            "timeout_s": 2,
            "delivery_timeouts": 3,
            "max_connections_per_receiver": 2,
            "webhook": {"url": "http://127.0.0.1:9/hook"},
            "smtp": {"host": "127.0.0.1", "from_addr": "a@b.test", "to_addrs": ["c@b.test"]},
        }
    )
    webhook, email = build_channels(config)
    assert webhook._longest == 6 and webhook._max_posts == 2  # type: ignore[attr-defined]
    assert email._longest == 6  # type: ignore[attr-defined]


async def test_an_smtp_session_is_cut_after_the_configured_number_of_timeouts() -> None:
    with _dripping_smtp() as port:  # a byte every 0.2 s: no read times out, the session does
        channel = EmailChannel(
            "127.0.0.1", port, "a@b.test", ["c@b.test"], starttls=False,
            timeout_s=1, delivery_timeouts=2,
        )  # fmt: skip
        with pytest.raises(ChannelError, match=r"within 2 s \(alerts\.timeout_s x 2\)"):
            await asyncio.wait_for(channel.send(ALERT), 30)
        await channel.aclose()
