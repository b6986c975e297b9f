"""Counts told inside a nested `transaction()` that an error leaves are dropped with the
block's work, even when its caller catches the error and the open transaction commits (an API
request refused halfway while a replay waits); the open transaction's own counts stay."""

from __future__ import annotations

from pathlib import Path

from test_fill_rollback_followers import _node
from test_metrics_rollback_threads import FILL, FILLS, PLACED, PLACED_TOTAL, _counted


def test_a_count_of_a_refused_nested_block_is_not_added_at_the_outer_commit(
    tmp_path: Path,
) -> None:
    from tradeguard.api.metrics import NodeMetrics

    node = _node(tmp_path)
    try:
        metrics = NodeMetrics(node)
        storage = node.storage
        with storage.transaction():
            storage.kv_set("outer", 1)
            metrics.on_event(PLACED)  # the outer transaction's: counted at its commit
            try:
                with storage.transaction():
                    storage.kv_set("refused", 2)
                    metrics.on_event(FILL)
                    raise ValueError("refused halfway")
            except ValueError:
                pass
        assert _counted(metrics, PLACED_TOTAL) == 1.0
        assert _counted(metrics, FILLS) == 0.0  # rolled back with its block
    finally:
        node.close()
