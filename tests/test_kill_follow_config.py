"""The kill follow-up's limits are settings of [node], refused in one line when out of range."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.config import load_config
from tradeguard.model.errors import ConfigError


def test_follow_up_limits_default_to_three_orders_and_ten_minutes(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[node]\n")
    node = load_config(cfg, environ={}).node
    assert (node.kill_follow_up_max_orders, node.kill_follow_up_wait_s) == (3, 600)
    cfg.write_text("[node]\nkill_follow_up_max_orders = 5\nkill_follow_up_wait_s = 30\n")
    node = load_config(cfg, environ={}).node
    assert (node.kill_follow_up_max_orders, node.kill_follow_up_wait_s) == (5, 30)


@pytest.mark.parametrize(
    ("line", "field", "value", "limit"),
    [
        ("kill_follow_up_max_orders = 0", "kill_follow_up_max_orders", "0", "1"),
        ("kill_follow_up_max_orders = 101", "kill_follow_up_max_orders", "101", "100"),
        ("kill_follow_up_wait_s = 0", "kill_follow_up_wait_s", "0", "1"),
        ("kill_follow_up_wait_s = 100000", "kill_follow_up_wait_s", "100000", "86400"),
    ],
)
def test_a_follow_up_limit_out_of_range_names_field_value_and_limit(
    tmp_path: Path, line: str, field: str, value: str, limit: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[node]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg, environ={})
    [line] = [t for t in str(err.value).splitlines() if field in t]
    assert f"node.{field} = {value}:" in line and limit in line, line
