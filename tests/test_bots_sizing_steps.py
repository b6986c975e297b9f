"""A table sizing rule names each score threshold once.

`{"kind": "table", "steps": [["0.5", "10"], ["0.50", "1000"]]}` was saved: two sizes for the
same score, and the sort kept the larger (a score of 0.5 traded 1000 USD, whichever the user
meant), so a pasted or mistyped line silently set the bot's size.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tradeguard.bots.sizing import SizeRule, SizingError
from tradeguard.cli import main

LIMITS = ["--max-order-usd", "50", "--max-position-usd", "100", "--daily-loss-usd", "20"]


def test_a_table_naming_a_score_twice_is_refused_by_bot_add(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    steps = {"kind": "table", "steps": [["0.5", "10"], ["0.8", "30"], ["0.50", "1000"]]}
    code = main(["bot", "add", "alpha", *LIMITS, "--sizing", json.dumps(steps), *db])
    err = capsys.readouterr().err
    assert code == 2 and "sizing.steps[2]" in err and "0.50" in err and "steps[0]" in err, err
    assert main(["bot", "list", "--json", *db]) == 0
    assert "alpha" not in capsys.readouterr().out  # nothing saved
    good = {"kind": "table", "steps": [["0.5", "10"], ["0.8", "30"]]}
    assert main(["bot", "add", "alpha", *LIMITS, "--sizing", json.dumps(good), *db]) == 0


def test_distinct_steps_still_size_by_the_highest_reached():
    rule = SizeRule.parse("sizing", {"kind": "table", "steps": [["0.8", "30"], ["0.5", "10"]]})
    assert rule.size_usd(Decimal("0.6"), 0)[0] == 10
    assert rule.size_usd(Decimal("0.9"), 0)[0] == 30
    with pytest.raises(SizingError, match=r"steps\[1\]"):
        SizeRule.parse("sizing", {"kind": "table", "steps": [["0.5", "10"], ["5E-1", "20"]]})
