"""A checkpoint whose commit fails (a locked database) keeps nothing: what it moved in memory
as stored must wait for the next commit, or the stop's checkpoint that follows loses it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from test_fill_commit_rollback import FailingCommit
from test_fill_rollback_followers import _node

D = Decimal


def test_a_checkpoint_whose_commit_fails_keeps_the_equity_samples_it_folded(
    tmp_path: Path,
) -> None:
    """A checkpoint folds the curve's newer samples into the stored curve (`run.equity_curve`),
    written only when a fold is due; a failed commit of that write must leave them to the next
    commit, even when no new sample comes before it (the stop's checkpoint)."""
    samples = [(1_000, D(100)), (2_000, D(101)), (3_000, D(102)), (4_000, D(103)), (5_000, D(104))]
    node = _node(tmp_path)
    try:
        node.equity_curve.extend(samples[:3])
        node._checkpoint(3_000)  # the first two folded into the stored curve
        node.equity_curve.extend(samples[3:])
        failing = FailingCommit(node.storage)
        failing.armed = 1
        with pytest.raises(OperationalError):
            node._checkpoint(5_000)  # folds the third and fourth: not committed
        node._checkpoint(5_500)  # the stop's: no sample since
    finally:
        node.close()

    again = _node(tmp_path)  # a restart reads the curve back
    try:
        assert [(t, D(str(e))) for t, e in again.equity_curve] == samples
    finally:
        again.close()
