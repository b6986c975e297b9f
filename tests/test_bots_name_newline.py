"""A bot's name is checked whole: a trailing newline is no part of a valid name.

`re.match` with `$` matches before a final newline, so `bot add $'alpha\\n'` stored a second bot
that `bot list` shows as `alpha`, which no API route can address (their pattern refuses it) and
which the check against strategy ids does not see as `alpha`.
"""

from __future__ import annotations

import pytest

from tradeguard.bots.spec import BotError, BotSpec, check_name
from tradeguard.cli.main import main
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.db import Database

LIMITS = {"max_order_usd": "50", "max_position_usd": "100", "daily_loss_usd": "20"}


@pytest.mark.parametrize("name", ["alpha\n", "a\n", "alpha\r\n"])
def test_a_name_ending_in_a_newline_is_refused(name):
    with pytest.raises(BotError, match="must be 1-32 characters"):
        check_name(name)
    with pytest.raises(BotError, match="must be 1-32 characters"):
        BotSpec.parse(name, LIMITS)


def test_bot_add_refuses_a_name_ending_in_a_newline_and_stores_nothing(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    code = main(["bot", "add", "alpha\n", "--max-order-usd", "50", "--max-position-usd", "100",
                 "--daily-loss-usd", "20", "--symbols", "BTC/USDT", "--db", url])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "bot name 'alpha\\n' must be" in err and "Traceback" not in err
    assert BotRows(Database(url)).bots() == []
